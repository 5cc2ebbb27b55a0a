"""What ``import hfa`` gives a notebook: train, sweep, report and load a finished run as a predictor.

Nothing here prints or exits: progress arrives through the optional callbacks, user mistakes raise
``hfa.errors.HfaError`` with the same one-line message the command line shows.

    import hfa
    run = hfa.train("configs/quickstart.yaml", overrides={"train.epochs": 5, "loss.name": "f1"})
    predictor = hfa.load_run(run.run_dir)
    predictor.score(rows, threshold="tuned")

A config is a YAML path, a nested mapping (the YAML's content), a ``Config`` or None (the defaults); overrides
are a mapping of dotted keys or ``KEY=VALUE`` strings, as on the command line. Every function checks all its
arguments first (``hfa.preflight.check_arguments``), so a wrong one stops it before anything is read or written;
NumPy scalars and arrays, in arguments, configs, overrides and grids alike, are taken as the Python values they hold
(``hfa.plain``), as ``HfaClassifier`` takes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from hfa.config import Config, resolve, source_name, validate
from hfa.errors import HfaError, clip, shorten
from hfa.plain import plain, scalar
from hfa.predict import Predictor, load_run

if TYPE_CHECKING:
    import pandas as pd

    from hfa.runs import RunOutcome
    from hfa.search import Plan
    from hfa.sweep import RunReport, SweepSummary
    from hfa.training import EpochLog

ConfigLike = Union[str, Path, Mapping[str, Any], Config, None]  # noqa: UP007  (a runtime alias on Python 3.10)
Overrides = Union[Mapping[str, Any], Iterable[str], None]  # noqa: UP007

__all__ = ["Predictor", "Report", "SweepResult", "load_run", "report", "resolve_config", "sweep", "train", "tune"]


def _items(overrides: Overrides) -> list[str]:
    """Overrides as the command line's ``KEY=VALUE`` strings; JSON is YAML, so every value reads back as given."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{_key(key)}={_json(key, value)}" for key, value in overrides.items()]
    overrides = scalar(overrides)  # a 0-d array of text is the one string it holds, and refused as one
    if isinstance(overrides, str | bytes) or not isinstance(overrides, Iterable):
        raise HfaError(
            f"overrides={shorten(repr(overrides))} is not allowed; give a mapping of dotted keys or a list of "
            "'KEY=VALUE' strings"
        )
    items = list(overrides)
    for item in items:
        if not isinstance(item, str):
            raise HfaError(f"override {shorten(repr(item))} is not a 'KEY=VALUE' string")
    return items


def _key(key: Any) -> str:
    key = scalar(key)
    if not isinstance(key, str):
        raise HfaError(f"override key {shorten(repr(key))} is not a dotted key such as 'train.epochs'")
    return key


def _json(key: str, value: Any) -> str:
    try:
        return json.dumps(plain(value, f"override {clip(str(key))!r}"), allow_nan=False)
    except (TypeError, ValueError):
        raise HfaError(
            f"override {clip(key)!r}: {shorten(repr(value))} is not a config value (numbers, text, true/false, "
            "null, lists and mappings of them)"
        ) from None


def _grid_items(grid: Any) -> list[str]:
    if grid is None:
        return []
    if isinstance(grid, Mapping):
        items = []
        for key, values in grid.items():
            values = plain(values, f"grid {clip(str(key))!r}")  # np.logspace(...) is a list of its numbers
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise HfaError(f"grid {clip(str(key))!r}: {shorten(repr(values))} is not a list of values")
            if not len(values):
                raise HfaError(
                    f"grid {clip(str(key))!r} gives no values; give a non-empty list, e.g. grid={{'seed': [0, 1]}}"
                )
            items.append(f"{_key(key)}={_json(key, list(values))[1:-1]}")
        return items
    return _items(grid)


def _tree(config: ConfigLike) -> dict[str, Any]:
    """A config given as a mapping or a ``Config``, as a plain tree; anything else is an ``HfaError``."""
    if isinstance(config, Config):
        return config.to_dict()
    if isinstance(config, Mapping):
        return plain(config, "the config mapping")  # keys checked to be text, at every depth, before any use
    raise HfaError(
        f"config={shorten(repr(config))} ({type(config).__name__}) is not allowed; give a YAML path, a mapping, "
        "a Config or None"
    )


def _source(config: ConfigLike) -> str | Path | dict[str, Any] | None:
    """A YAML path or None as given; a mapping or a ``Config`` as the plain tree its YAML would hold, which
    ``hfa.config.resolve`` reads as it reads the file (``sweep:`` and ``methods:`` blocks included)."""
    return config if config is None or isinstance(config, str | Path) else _tree(config)


def resolve_config(config: ConfigLike = None, overrides: Overrides = None) -> Config:
    """The validated config a run would use (a ``sweep:`` block is kept as the config's ``sweep``)."""
    source, items = _source(config), _items(overrides)
    return validate(resolve(source, items), source_name(source) + (" with overrides" if items else ""))


def train(
    config: ConfigLike = None,
    overrides: Overrides = None,
    *,
    out: str | Path = "runs",
    on_epoch: Callable[[EpochLog], None] | None = None,
    mlflow: str | None = None,
) -> RunOutcome:
    """Train one run and write ``out/<name>/<run-id>/``; returns its folder, metrics table and run.json.

    ``mlflow`` (or the config's ``tracking.mlflow``) is an MLflow tracking URI to log the run to.
    """
    from hfa.preflight import check, check_arguments
    from hfa.runs import execute_run

    args = check_arguments(out=out, mlflow=mlflow, on_epoch=on_epoch)
    out, mlflow = args["out"], args["mlflow"]
    cfg = resolve_config(config, overrides)
    uri = mlflow or cfg.tracking.mlflow
    check([cfg], out, mlflow=uri)
    outcome = execute_run(cfg, out, on_epoch=on_epoch)
    if uri:
        from hfa.tracking import log_run

        log_run(uri, outcome.run_dir)
    return outcome


@dataclass
class SweepResult:
    root: Path  # out/<name>
    results: pd.DataFrame  # results.csv: one row per run, split and rule
    summary: SweepSummary  # what happened to each run (ok, failed, skipped)


def sweep(
    config: ConfigLike = None,
    overrides: Overrides = None,
    *,
    grid: Mapping[str, Sequence[Any]] | Iterable[str] | None = None,
    out: str | Path = "runs",
    workers: int = 1,
    executor: str = "local",
    force: bool = False,
    on_report: Callable[[RunReport], None] | None = None,
    mlflow: str | None = None,
) -> SweepResult:
    """Every combination of the config's ``sweep:`` grid (plus ``grid``) as one run; finished runs are kept."""
    from hfa.preflight import check, check_arguments
    from hfa.results import results_frame, write_results
    from hfa.sweep import execute, expand, result_keys

    args = check_arguments(force=force, out=out, mlflow=mlflow, workers=workers, executor=executor, on_report=on_report)
    force, out, mlflow, workers, executor = (args[k] for k in ("force", "out", "mlflow", "workers", "executor"))
    plan = expand(_source(config), _items(overrides), _grid_items(grid))
    configs, axes = plan.configs, plan.axes
    root = Path(out) / configs[0].name
    uri = mlflow or configs[0].tracking.mlflow
    check(configs, out, mlflow=uri, workers=workers, executor=executor)
    tracker = None
    if uri:
        from hfa.tracking import SweepTracker

        tracker = SweepTracker(uri, root, len(configs), axes)
    notify = on_report if tracker is None else _both(on_report, tracker.on_report)
    try:
        summary = execute(configs, out, workers, executor, force, on_report=notify)  # type: ignore[arg-type]
    except BaseException:
        if tracker is not None:
            tracker.close(interrupted=True)
        raise
    if tracker is not None:
        tracker.close()
    keys = result_keys(plan)
    write_results(root, keys=keys)
    return SweepResult(root, results_frame(root, keys=keys), summary)


def _both(first: Callable[[Any], None] | None, second: Callable[[Any], None]) -> Callable[[Any], None]:
    def call(report: Any) -> None:
        if first is not None:
            first(report)
        second(report)

    return call


@dataclass
class Report:
    """What ``hfa report`` prints, as numbers: ``built`` holds every table (``hfa.report.Report``)."""

    built: Any  # hfa.report.Report: summaries per rule, comparisons per F-score, rankings
    summary: pd.DataFrame  # the first rule's rows: <metric>_mean, <metric>_std, <metric>_n, n, collapsed
    comparison: pd.DataFrame | None  # the paired tests of the first tested metric against the baseline, or None

    def to_text(self, fmt: str = "markdown") -> str:
        """The report as ``markdown``, ``latex`` or ``csv`` (long format), as ``hfa report --format`` writes it."""
        from hfa.report import render

        return render(self.built, fmt)


def report(
    runs_dir: str | Path,
    *,
    by: Sequence[str] | None = None,
    split: str = "test",
    rule: str | Sequence[str] = ("fixed", "tuned"),
    metrics: Sequence[str] | None = None,
    baseline: str | None = "bce",
) -> Report:
    """The report of ``hfa report``: rows of every varying key but the seed (or ``by``), under each rule, and each
    loss against ``baseline`` under the same rule and with a tuned threshold (``baseline=None``: no tests)."""
    from hfa.preflight import check_arguments
    from hfa.report import build_report, load_runs

    args = check_arguments(runs_dir=runs_dir, by=by, split=split, rule=rule, metrics=metrics, baseline=baseline)
    runs_dir, by, split, rules, metrics, baseline = (
        args[k] for k in ("runs_dir", "by", "split", "rule", "metrics", "baseline")
    )
    runs = load_runs(runs_dir, metrics=metrics or ())
    built = build_report(
        runs, split=split, rules=rules, metrics=metrics, by=by, baseline=baseline, explicit_baseline=baseline != "bce"
    )
    comparison = next(iter(built.comparisons.values()), None)
    return Report(built, built.summaries[rules[0]], comparison)


def tune(
    config: str | Path | Mapping[str, Any] | None = None,
    overrides: Overrides = None,
    *,
    methods: str | Sequence[str] = (),
    budget: int | None = None,
    out: str | Path = "runs",
    workers: int = 1,
    executor: str = "local",
    on_report: Callable[[RunReport], None] | None = None,
) -> Any:
    """``hfa tune``: every method of the config's ``methods:`` tuned with the same budget on validation, the
    choices retrained on fresh seeds; returns ``hfa.tune.TuneResult`` (choices, the final runs' folder) after
    writing ``out/<name>/report.md``. ``config`` is a YAML path or its content as a mapping (``methods:`` and
    ``tune:`` blocks included); ``methods`` one name or a list of them (none: every method). Refuses (``HfaError``)
    what the command refuses, before any training."""
    from hfa.preflight import check_arguments
    from hfa.search import load_plan
    from hfa.tune import tune as run_tune

    args = check_arguments(
        methods=methods, budget=budget, out=out, workers=workers, executor=executor, on_report=on_report
    )
    methods, budget, out, workers, executor = (args[k] for k in ("methods", "budget", "out", "workers", "executor"))
    plan = load_plan(_source(config), _items(overrides), methods, budget)
    result = run_tune(plan, out, workers, executor, on_report=on_report)
    tune_report(plan, result)
    return result


def tune_report(plan: Plan, result: Any) -> Path:
    """``out/<name>/report.md``: the bottom line and tables of the final runs, a row per data set and method."""
    from hfa import io
    from hfa.report import build_report, load_runs, render

    if not any(choice.runs for choice in result.choices):
        return io.write_text(result.root / "report.md", "every trial failed: nothing was chosen\n")
    by = list(dict.fromkeys(["data.name", *plan.axes, "name"]))
    chosen = [run for choice in result.choices for run in choice.runs]  # a resumed study's earlier finals stay out
    built = build_report(load_runs(result.final, only=chosen), by=by, baseline=None)
    return io.write_text(result.root / "report.md", render(built, "markdown"))
