"""A sweep: the cross product of the grid's axes, one run per combination, resumable and parallel.

The grid is the config's ``sweep:`` block (dotted key -> list of values) with ``--grid KEY=V1,V2`` adding or
replacing axes; a ``KEY=VALUE`` override on a swept key pins it and removes that axis. Each combination's
resolved config gives a stable run id, so the same grid always maps to the same folders and a second call
finishes only what is missing.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from hfa import executors, rundir
from hfa.config import (
    Config,
    YamlRefusedError,
    canonical,
    check_key,
    inapplicable_keys,
    keys_overlap,
    load_yaml,
    parse_override,
    resolve,
    set_dotted,
    source_name,
    validate,
)
from hfa.errors import HfaError, clip, shorten
from hfa.rundir import run_dir_for
from hfa.runs import RunOutcome, execute_runs, record_failure
from hfa.training import STACK_LIMIT, EpochLog

Executor = Literal["local", "ray"]
EpochCallback = Callable[[Config, EpochLog], None]
MAX_RUNS = 100_000  # runs in one sweep: each is a folder, and the grid is expanded and validated up front


# --------------------------------------------------------------------------------------------------------------
# The grid


def parse_grid(item: str) -> tuple[str, list[Any]]:
    """``'data.imbalance_ratio=5,20,50'`` -> ``('data.imbalance_ratio', [5, 20, 50])``; values are YAML."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise HfaError(f"--grid {item!r} must be KEY=V1,V2,..., e.g. --grid data.imbalance_ratio=5,20,50")
    try:
        values = load_yaml(f"[{text}]") if text.strip() else []
    except YamlRefusedError as exc:
        raise HfaError(f"--grid {clip(item)!r}: {exc}") from None
    except yaml.YAMLError:
        raise HfaError(f"--grid {clip(item)!r}: {clip(text)!r} is not a comma-separated list of YAML values") from None
    if not values:
        raise HfaError(f"--grid {item!r} gives no values; write KEY=V1,V2,..., e.g. --grid seed=0,1,2")
    return key, values


def grid_axes(raw_sweep: Any, grid: Iterable[str], pinned: Iterable[str], source: str) -> dict[str, list[Any]]:
    """The axes to sweep: the config's block, then ``--grid`` items, less the keys pinned by overrides."""
    pinned = list(pinned)
    if raw_sweep in (None, {}):
        raw_sweep = {}
    if not isinstance(raw_sweep, dict):
        raise HfaError(f"'sweep' in {source} must map dotted keys to lists of values, e.g. 'seed: [0, 1, 2]'")
    axes: dict[str, list[Any]] = {}
    for key, values in raw_sweep.items():
        if not isinstance(values, list) or not values:
            raise HfaError(
                f"sweep key {clip(str(key))!r} in {source} must have a non-empty list of values, got {shorten(values)}"
            )
        axes[str(key)] = values
    listed: set[str] = set()
    for item in grid:
        key, values = parse_grid(item)
        twice = next((k for k in listed if keys_overlap(k, key)), None)
        if twice == key:
            raise HfaError(f"--grid {key} is given twice; give one --grid {key}=V1,V2,... with every value")
        if twice is not None:
            raise HfaError(f"--grid {key} sets what --grid {twice} sets; give each setting in one --grid")
        pinned_too = next((k for k in pinned if keys_overlap(k, key)), None)
        if pinned_too == key:
            raise HfaError(f"{key} is both an override ({key}=...) and a --grid axis; give one of them")
        if pinned_too is not None:
            raise HfaError(f"--grid {key} sets what the override {pinned_too}=... sets; give one of them")
        listed.add(key)
        axes[key] = values
    for key in axes:
        check_key(key, "the sweep grid")
        if key == "name":
            raise HfaError(
                f"'name' cannot be a sweep axis in {source}: the runs of one sweep go to one experiment folder "
                "(OUT/<name>); set name=... once, or run one sweep per name"
            )
    for key in pinned:
        axes.pop(key, None)
    return axes


@dataclass
class Grid:
    """A sweep's runs: one validated config per distinct run, the axes that made them, and the grid's size.

    Grid points that differ only in keys their run does not use (``loss.gamma`` for f1, ...) are one run.
    """

    configs: list[Config]
    axes: dict[str, list[Any]]
    points: int
    same_runs: list[str] = field(default_factory=list)  # lines saying which grid points are one run, and why
    factors: dict[str, int] = field(default_factory=dict)  # what the grid crosses: "methods" and each axis, sizes


def expand(
    config: str | Path | Mapping[str, Any] | None, overrides: Sequence[str] = (), grid: Sequence[str] = ()
) -> Grid:
    """Every distinct run of the sweep as a validated config, and the axes that made them; ``config`` is a YAML
    path or its content as a mapping (the API's), read alike.

    A ``methods:`` block (name -> config values, as ``hfa tune`` reads it) is one more axis whose points set
    several keys at once: methods that are not a cross product (bce and f1 MLPs, a gbdt) share one sweep.
    """
    raw = resolve(config, overrides)
    source = source_name(config)
    pinned = [parse_override(item)[0] for item in overrides]
    methods = _sweep_methods(raw.pop("methods", None), source)
    axes = grid_axes(raw.pop("sweep", None), grid, pinned, source)
    if not axes and not methods:
        raise HfaError(
            f"the sweep grid is empty (no 'sweep:' block in {source}, or every axis pinned by an override); "
            "add axes with --grid KEY=V1,V2,..."
        )
    for name, settings in methods.items():
        for key in settings:
            crossed = [a for a in [*axes, *pinned] if keys_overlap(a, key)]
            if crossed:
                raise HfaError(f"method {name} sets {key!r}, which the sweep also sets ({crossed[0]}); set it once")
    combinations = max(1, len(methods)) * math.prod(len(values) for values in axes.values())
    if combinations > MAX_RUNS:
        raise HfaError(f"the sweep grid makes {combinations:,} runs; at most {MAX_RUNS:,} in one sweep")
    configs: dict[str, Config] = {}
    points = 0
    for method, settings in (methods or {"": {}}).items():
        for values in itertools.product(*axes.values()):
            point = copy.deepcopy(raw)
            for key, value in [*settings.items(), *zip(axes, values, strict=True)]:
                set_dotted(point, key, value)
            parts = [f"{k}={v}" for k, v in zip(axes, values, strict=True)]
            where = ", ".join([f"method {method}", *parts] if method else parts)
            cfg = validate(point, f"sweep point {where}")
            configs.setdefault(str(run_dir_for(cfg, "")), cfg)
            points += 1
    # The keys the methods set are columns of results.csv, as an axis's key is.
    method_axes: dict[str, list[Any]] = {}
    for settings in methods.values():
        for key, value in settings.items():
            method_axes.setdefault(key, []).append(value)
    runs = list(configs.values())
    factors = {**({"methods": len(methods)} if methods else {}), **{k: len(v) for k, v in axes.items()}}
    return Grid(runs, {**method_axes, **axes}, points, same_runs(runs, axes, points), factors)


def _sweep_methods(value: Any, source: str) -> dict[str, dict[str, Any]]:
    """A sweep's ``methods:`` block: name -> dotted key -> value (no search ranges: a sweep does not tune)."""
    from hfa.search import parse_methods

    if value is None:
        return {}
    methods = parse_methods(value, source)
    for method in methods:
        if method.ranges:
            raise HfaError(f"method {method.name} in {source} has search ranges; hfa sweep does not tune (hfa tune)")
    return {method.name: method.settings for method in methods}


def _computation(cfg: Config) -> str:
    """What a run computes, whatever it is called: ``fbeta`` at ``beta`` 1 is ``f1``, the same loss bit for bit."""
    resolved = canonical(cfg)
    loss = resolved["loss"]
    if loss["name"] == "fbeta" and loss.get("beta") == 1.0:
        loss["name"] = "f1"
        loss.pop("beta")
    return json.dumps(resolved, sort_keys=True, default=str)


def same_runs(configs: list[Config], axes: dict[str, list[Any]], points: int) -> list[str]:
    """Lines for the grid points that are one run: merged (they differ only in keys their run ignores), or trained
    twice under two names (``fbeta`` at beta 1 beside ``f1``)."""
    lines = []
    if points > len(configs):
        ignored = [key for key in axes if any(key in inapplicable_keys(cfg) for cfg in configs)]
        lines.append(
            f"{points - len(configs)} grid points are the same run as another point: they differ only in "
            f"{', '.join(ignored) or 'keys'} that their run does not use, and train once"
        )
    first: dict[str, Config] = {}
    twins: dict[str, int] = {}
    for cfg in configs:
        seen = first.setdefault(_computation(cfg), cfg)
        if seen is not cfg:
            twins[seen.loss.name] = twins.get(seen.loss.name, 0) + 1
    for name, count in twins.items():
        lines.append(
            f"{count} grid point{'s are' if count > 1 else ' is'} the same run as loss.name={name} "
            "(loss.name=fbeta at loss.beta=1 is f1): trained again under another name; set loss.beta or drop one"
        )
    return lines


def result_keys(plan: Grid) -> list[str]:
    """The config columns a sweep's results table shows: each axis, or the keys a mapping-valued axis sets, that
    some run records (``loss.gamma`` in ``loss: [{name: bce}, {name: f1, gamma: 2}]`` applies to no run: no column).
    """
    from hfa.results import flatten_config
    from hfa.rundir import run_config

    recorded = {key for cfg in plan.configs for key in flatten_config(run_config(cfg))}
    keys: list[str] = []
    for axis, values in plan.axes.items():
        subkeys = [f"{axis}.{sub}" for value in values if isinstance(value, dict) for sub in value]
        keys.extend(dict.fromkeys(subkeys) if subkeys else [axis])
    return [key for key in keys if key in recorded]


# --------------------------------------------------------------------------------------------------------------
# Running


@dataclass
class RunReport:
    run_dir: Path
    status: Literal["ok", "failed", "skipped"]
    seconds: float = 0.0
    error: str | None = None


@dataclass
class SweepSummary:
    reports: list[RunReport] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.reports)

    @property
    def failed(self) -> list[RunReport]:
        return [r for r in self.reports if r.status == "failed"]


def run_batch(
    configs: list[Config], out: str, force: bool = False, on_epoch: EpochCallback | None = None
) -> list[RunReport]:
    """The unit of work an executor hands out: one stack of runs.

    Each run is trained under its lock (``hfa.rundir.lock``), so sweeps sharing a folder train it once: runs
    another process holds are waited for afterwards, and trained here only if that process did not finish them.
    """
    folders = [run_dir_for(cfg, out) for cfg in configs]
    reports: list[RunReport] = []
    with rundir.locks(folders) as held:
        mine = [cfg for cfg, folder in zip(configs, folders, strict=True) if folder in held]
        reports += _train_unfinished(mine, out, force, on_epoch)
    for cfg, folder in zip(configs, folders, strict=True):
        if folder not in held:
            with rundir.lock(folder):
                reports += _train_unfinished([cfg], out, False, on_epoch)
    return reports


def _train_unfinished(
    configs: list[Config], out: str, force: bool, on_epoch: EpochCallback | None = None
) -> list[RunReport]:
    """Train those of ``configs`` (their locks held) that are not finished, or all of them with ``force``."""
    todo, done = pending(configs, out, force)
    return [RunReport(folder, "skipped") for folder in done] + (_train(todo, out, on_epoch) if todo else [])


def _train(configs: list[Config], out: str, on_epoch: EpochCallback | None = None) -> list[RunReport]:
    """Train one stack of runs; each failure is recorded in its own folder. ``on_epoch(cfg, log)`` reports epochs."""
    start = time.perf_counter()
    report = None if on_epoch is None else (lambda place, log: on_epoch(configs[place], log))
    outcomes = execute_runs(configs, out, report)
    # Members finish together, so each is charged an equal share of the stack's time.
    share = (time.perf_counter() - start) / len(configs)
    reports = []
    for cfg, outcome in zip(configs, outcomes, strict=True):
        if isinstance(outcome, RunOutcome):
            reports.append(RunReport(outcome.run_dir, "ok", share))
        else:
            folder = record_failure(cfg, out, outcome)
            kept = " (the finished run already there was kept)" if rundir.completed(folder) else ""
            reports.append(RunReport(folder, "failed", share, f"{outcome}{kept}"))
    return reports


def stack_key(cfg: Config) -> str | None:
    """Runs with equal keys train as one stack; ``None``: this run trains alone (``train.stack=false``).

    Members share the data set and how it is cut (not its seed or k-fold fold: each member has its own splits), the
    model shape and the training settings; they differ in seed, data seed, fold and loss.
    """
    if not cfg.train.stack:
        return None
    shared = {
        "data": cfg.data.model_dump(mode="json", exclude={"seed", "fold"}),
        "model": cfg.model.model_dump(mode="json"),
        "train": cfg.train.model_dump(mode="json", exclude={"stack"}),
    }
    return json.dumps(shared, sort_keys=True)


def units(configs: Sequence[Config], limit: int = STACK_LIMIT) -> list[list[Config]]:
    """The sweep cut into stacks of at most ``limit`` runs (a run that cannot stack is a stack of one).

    The cut depends on the grid alone, never on the executor or the number of workers; and since a run's numbers
    do not depend on its stack, neither do the results.
    """
    keyed: dict[str, list[Config]] = {}
    stacks: list[list[Config]] = []
    for cfg in configs:
        key = stack_key(cfg)
        if key is None:
            stacks.append([cfg])
        else:
            keyed.setdefault(key, []).append(cfg)
    for members in keyed.values():
        stacks.extend(members[i : i + limit] for i in range(0, len(members), limit))
    return stacks


def pending(configs: Sequence[Config], out: str | Path, force: bool) -> tuple[list[Config], list[Path]]:
    """(runs to train, folders already done). Done means finished on the data as it is now: a run whose data
    changed since (an edited table) is trained again, and replaced only once the new one has finished."""
    todo, done = [], []
    for cfg in configs:
        run_dir = run_dir_for(cfg, out)
        if not force and rundir.completed(run_dir) and _same_data(cfg, run_dir):
            done.append(run_dir)
        else:
            todo.append(cfg)
    return todo, done


def _same_data(cfg: Config, run_dir: Path) -> bool:
    from hfa.data.fingerprint import data_fingerprint

    seen = rundir.data_fingerprint_of(run_dir)
    if seen is None:  # written before runs recorded their data: nothing to compare
        return True
    try:
        return seen == data_fingerprint(cfg.resolved_data())
    except (HfaError, OSError):  # the data is gone: the run is retrained and its error recorded
        return False


def check_options(workers: int, executor: str, ray_address: str | None = None) -> None:
    if workers < 1:
        raise HfaError(f"--workers must be at least 1 (got {workers})")
    if executor not in ("local", "ray"):
        raise HfaError(f"--executor must be local or ray (got {executor!r})")
    if ray_address is not None and executor != "ray":  # it would be ignored without a word
        raise HfaError(f"--ray-address applies to --executor ray (got --executor {executor}); add --executor ray")
    if executor == "ray":
        executors.ray_target(ray_address)


def execute(
    configs: Sequence[Config],
    out: str | Path,
    workers: int = 1,
    executor: Executor = "local",
    force: bool = False,
    ray_address: str | None = None,
    on_report: Callable[[RunReport], None] | None = None,
    on_epoch: EpochCallback | None = None,
    study: Path | None = None,
) -> SweepSummary:
    """Run every config not already done; reports arrive through ``on_report`` as runs finish, and with one local
    worker every epoch of every run through ``on_epoch(cfg, log)`` (worker processes and Ray report runs only).
    ``study``: the tune study folder ``out`` lies in (its trials or its final runs), the one allowed above ``out``.

    Every output folder is checked (and created) before any training; then the staging folders that dead
    processes left are removed.
    """
    from hfa.preflight import check_outputs

    check_options(workers, executor, ray_address)
    out = str(out)
    check_outputs(configs, out, study)
    for name in {cfg.name for cfg in configs}:
        rundir.clean_staging(Path(out) / name)
    todo, done = pending(configs, out, force)
    summary = SweepSummary([RunReport(path, "skipped") for path in done])
    notify = on_report or (lambda report: None)
    for report in summary.reports:
        notify(report)

    work = functools.partial(run_batch, out=out, force=force)
    if executor == "local" and workers == 1:
        work = functools.partial(run_batch, out=out, force=force, on_epoch=on_epoch)
    if executor == "ray":
        # Runs write to `out` on the worker's file system: on a cluster, point --out at shared storage.
        work = functools.partial(run_batch, out=str(Path(out).resolve()), force=force)
        results: Iterator[RunReport] = executors.on_ray(work, units(todo), workers, ray_address)
    elif workers == 1:
        results = (report for unit in units(todo) for report in work(unit))
    else:
        results = executors.in_processes(work, units(todo), workers)
    for report in results:
        summary.reports.append(report)
        notify(report)
    return summary
