"""Tuning with an equal budget per method: Optuna's seeded TPE asks, hfa's sweep trains, validation decides.

For every sweep point (a data set, a ratio) and every method the study has ``budget`` trials. A round asks each
study for up to ``batch`` trials, turns each into ordinary runs (one per tuning seed, and per fold under k-fold),
trains all of them through the sweep machinery (stacks, worker processes or Ray), and tells each study the
trial's mean *validation* metric under the named threshold rule. The best trial of each study is then trained on
fresh seeds (fresh splits); only those runs, in ``<out>/<name>/final``, reach the test tables.

A trial is a set of run folders like any other (``<out>/<name>/trials/<method>/<run-id>``): its numbers are a
function of its config. Optuna's journal (``<out>/<name>/tune.journal``) holds the studies, so a second call
resumes: finished runs are skipped and a trial asked but never told is trained (or read) and told. Each round's
sampler is seeded from the study and the trials it already holds, so a resumed study asks what an uninterrupted
one would have.

Test numbers never reach a choice: :func:`validation_score` reads the validation rows of metrics.csv alone.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfa.config import Config
from hfa.errors import HfaError, clip
from hfa.rundir import METRICS_FILE, STUDY_FILE, run_dir_for
from hfa.search import Method, Plan, point_label

JOURNAL = STUDY_FILE  # Optuna's journal: what marks a study's folder
DATA_ATTR = "data_fingerprint"  # a study's user attribute: the data its trials were scored on
OBJECTIVE_ATTR = "objective"  # and what a trial's value means: metric, rule, ranges, everything else of its runs
CHOICES = "choices.csv"
TRIALS, FINAL = "trials", "final"


@dataclass
class Choice:
    """The setting a study chose on validation, and the fresh-seed runs that carry it to the test tables."""

    method: str
    point: dict[str, Any]
    trial: int | None  # Optuna's trial number; None when every trial failed
    value: float  # its mean validation metric
    params: dict[str, Any]
    trials: int  # trials told (the budget, unless trials failed)
    runs: list[Path] = field(default_factory=list)


@dataclass
class TuneResult:
    root: Path  # <out>/<name>
    choices: list[Choice]
    final: Path  # the folder `hfa report` reads
    trained: int  # runs trained in this call (trials and finals)
    skipped: int
    failed: int


def validation_score(run_dir: Path, metric: str, rule: str) -> float:
    """The run's ``metric`` on the validation split under ``rule``; NaN where undefined or missing.

    The test rows are dropped before anything else is read: a choice cannot see a test number.
    """
    import pandas as pd

    from hfa.metrics import count_metric

    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return math.nan
    rows = pd.read_csv(path)
    rows = rows[(rows["split"] == "val") & (rows["rule"] == rule)]
    if "label" in rows.columns:  # multi-label: the macro average
        rows = rows[rows["label"] == "macro"]
    if rows.empty:
        return math.nan
    row = rows.iloc[0]
    if metric in rows.columns:
        return float(row[metric])
    counts = (row[c] for c in ("tp", "fp", "fn", "tn"))
    return float(count_metric(metric, *counts))


def trial_value(run_dirs: Sequence[Path], metric: str, rule: str) -> float:
    """A trial's objective: the mean validation score of its runs (NaN, a failed trial, if any is undefined)."""
    scores = [validation_score(d, metric, rule) for d in run_dirs]
    return math.nan if not scores or any(math.isnan(s) for s in scores) else sum(scores) / len(scores)


def _distributions(method: Method) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for r in method.ranges:
        if r.choices:
            out[r.key] = CategoricalDistribution(list(r.choices))
        elif r.integer:
            out[r.key] = IntDistribution(int(r.low), int(r.high), log=r.log)
        else:
            out[r.key] = FloatDistribution(r.low, r.high, log=r.log)
    return out


def _params(method: Method, sampled: dict[str, Any]) -> dict[str, Any]:
    return {r.key: r.value(sampled[r.key]) for r in method.ranges if r.key in sampled}


def _storage(root: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = root / JOURNAL
    if journal.exists() or journal.is_symlink():
        _check_journal(journal)
    root.mkdir(parents=True, exist_ok=True)
    try:
        storage = JournalStorage(JournalFileBackend(str(journal)))
        optuna.get_all_study_summaries(storage)  # replays the whole journal: a damaged line fails here
    except Exception:  # Optuna's replay raises whatever a bad line makes of it (JSONDecodeError, assertions)
        raise HfaError(
            f"{journal} cannot be read as Optuna's journal (an entry it cannot replay): was it edited by hand? delete "
            "it to start afresh, or tune into another --out"
        ) from None
    return storage


def _check_journal(journal: Path) -> None:
    """Every line of the journal a JSON object, as Optuna writes them. Optuna skips a broken last line (a write cut
    short) but breaks on it once a line follows, so a broken line anywhere is refused before any work."""
    from hfa import io

    if journal.is_symlink():  # Optuna would append to whatever file it points at
        raise HfaError(f"{journal} is a link, not a file hfa wrote; move it away (or delete it to start afresh)")
    try:
        data = io.read_regular(journal)  # a FIFO would block, /dev/zero fill the memory
    except OSError as exc:
        raise HfaError(f"cannot read {journal}: {exc.strerror or exc}; delete it to start afresh") from None
    if data and not data.endswith(b"\n"):  # Optuna would append its next entry to that line, breaking both
        raise HfaError(
            f"{journal}: its last line lacks its newline (a write cut short, or an edit): delete it to start afresh, "
            "or tune into another --out"
        )
    lines = data.splitlines()
    for number, line in enumerate(lines, 1):
        try:
            ok = isinstance(json.loads(line), dict)
        except ValueError:  # not JSON, or not UTF-8
            ok = False
        if not ok:
            raise HfaError(
                f"{journal}: line {number} is not one of Optuna's journal entries (a JSON object); was it edited by "
                "hand, or cut short? delete it to start afresh, or tune into another --out"
            )


def _sampler(plan: Plan, study_name: str, asked: int):
    """A TPE sampler seeded by the study seed, the study and how many trials it holds: the same on a resume."""
    import numpy as np
    from optuna.samplers import TPESampler

    seed = int(np.random.SeedSequence([plan.sampler_seed, zlib.crc32(study_name.encode()), asked]).generate_state(1)[0])
    # constant_liar: trials asked in one batch but not yet told steer the next asks away from them.
    return TPESampler(seed=seed, constant_liar=True)


@dataclass
class _Asked:
    study: Any
    number: int
    configs: list[Config]


def tune(
    plan: Plan,
    out: str | Path,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    on_report: Callable[[Any], None] | None = None,
    on_round: Callable[[int, int], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> TuneResult:
    """Run the study: every method gets ``plan.budget`` trials per sweep point; then the choices on fresh seeds.

    ``on_start`` is called once every check has passed, before any work: a refusal comes first and alone."""
    import optuna

    from hfa import io
    from hfa.preflight import check_runs
    from hfa.rundir import check_not_inside_hfas
    from hfa.sweep import check_options, execute

    check_options(workers, executor, ray_address)
    check_runs(plan.first_configs(), executor)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root = Path(out) / plan.name
    trials_out, final_out = root / TRIALS, root / FINAL
    check_not_inside_hfas(root, "--out")  # before the journal is made: not in a run, experiment or study folder
    storage = _storage(root)
    counts = {"ok": 0, "skipped": 0, "failed": 0}

    def train(configs: list[Config], where: Path) -> None:
        def seen(report: Any) -> None:
            counts[report.status] += 1
            if on_report is not None:
                on_report(report)

        if configs:
            execute(configs, where, workers, executor, ray_address=ray_address, on_report=seen, study=root)  # type: ignore[arg-type]

    fingerprints = _check_same_data(plan, storage, root / JOURNAL)  # before any study is created or written
    objectives = _check_same_objective(plan, storage, root / JOURNAL)
    if on_start is not None:
        on_start()
    studies = {
        (i, j): optuna.create_study(
            study_name=plan.study_name(point, method), storage=storage, direction="maximize", load_if_exists=True
        )
        for i, point in enumerate(plan.points)
        for j, method in enumerate(plan.methods)
    }
    for key, study in studies.items():
        if DATA_ATTR not in study.user_attrs:
            study.set_user_attr(DATA_ATTR, fingerprints[key])
        if OBJECTIVE_ATTR not in study.user_attrs:
            study.set_user_attr(OBJECTIVE_ATTR, objectives[key])
    # Each round tells every trial it asks, so the studies fill up to their budget and the loop ends.
    for round_no in itertools.count():
        asked: list[_Asked] = []
        for (i, j), study in studies.items():
            point, method = plan.points[i], plan.methods[j]
            asked += _open_trials(plan, study, point, method)
            held = len(study.get_trials(deepcopy=False))
            todo = min(plan.batch, plan.budget - held)
            if todo <= 0 or any(a.study is study for a in asked):
                continue  # a stale batch is finished first, so a resume asks what an uninterrupted call would
            study.sampler = _sampler(plan, study.study_name, held)
            for _ in range(todo):
                trial = study.ask(_distributions(method))
                params = _params(method, trial.params)
                asked.append(_Asked(study, trial.number, _trial_configs(plan, point, method, params)))
        if not asked:
            break
        if on_round is not None:
            on_round(round_no, sum(len(a.configs) for a in asked))
        train([cfg for a in asked for cfg in a.configs], trials_out)
        for a in asked:
            value = trial_value([run_dir_for(cfg, trials_out) for cfg in a.configs], plan.metric, plan.rule)
            if math.isnan(value):
                a.study.tell(a.number, state=optuna.trial.TrialState.FAIL)
            else:
                a.study.tell(a.number, value)

    choices: list[Choice] = []
    finals: list[Config] = []
    for (i, j), study in studies.items():
        point, method = plan.points[i], plan.methods[j]
        choice = choose(study, method, point)
        if choice.trial is not None:
            configs = [plan.config(point, method, choice.params, s, f) for s, f in plan.repeats(plan.final_seeds)]
            choice.runs = [run_dir_for(cfg, final_out) for cfg in configs]
            finals += configs
        choices.append(choice)
    train(finals, final_out)
    io.write_csv(root / CHOICES, choices_frame(choices, plan))
    return TuneResult(root, choices, final_out, counts["ok"], counts["skipped"], counts["failed"])


def _check_same_data(plan: Plan, storage: Any, journal: Path) -> dict[tuple[int, int], str]:
    """Each study's data fingerprint now; a study already in the journal resumes only on the data it began with
    (its trials were scored on that data, so a choice among them would not be a choice on this data). Read from
    the journal without writing to it: a refused resume leaves it as it was."""
    import optuna

    from hfa.data.fingerprint import data_fingerprint

    began = {s.study_name: s.user_attrs.get(DATA_ATTR) for s in optuna.get_all_study_summaries(storage)}
    now: dict[tuple[int, int], str] = {}
    for i, point in enumerate(plan.points):
        for j, method in enumerate(plan.methods):
            cfg = plan.config(point, method, {}, plan.seeds[0])
            now[i, j] = data_fingerprint(cfg.data)
            then = began.get(plan.study_name(point, method))
            if then is not None and then != now[i, j]:
                raise HfaError(
                    f"the data of {cfg.data.name} changed since this study began ({then} -> {now[i, j]}): its trials "
                    f"were scored on the old data; tune into another --out, or delete {journal} to start afresh"
                )
    return now


def _objective(plan: Plan, point: dict[str, Any], method: Method) -> dict[str, str]:
    """What a trial's value means, part by part: the metric and rule it is read at, the ranges it is drawn from,
    and a digest of everything else its runs are (every repeat's config but the searched keys)."""
    import hashlib

    runs = []
    for seed, fold in plan.repeats(plan.seeds):
        tree = plan.config(point, method, {}, seed, fold).to_dict()
        for r in method.ranges:  # the searched keys hold the config's defaults here, not the trial's values
            *parents, last = r.key.split(".")
            node = tree
            for part in parents:
                node = node.get(part, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node.pop(last, None)
        runs.append(tree)
    settings = hashlib.sha256(json.dumps(runs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    ranges = json.dumps([dataclasses.asdict(r) for r in method.ranges], sort_keys=True)
    return {"metric": plan.metric, "rule": plan.rule, "ranges": ranges, "settings": settings}


_OBJECTIVE_PARTS = {
    "metric": "tune.metric",
    "rule": "tune.rule",
    "ranges": "searched ranges",
    "settings": "run settings (the config, the method or the seeds)",
}


def _check_same_objective(plan: Plan, storage: Any, journal: Path) -> dict[tuple[int, int], dict[str, str]]:
    """Each study's objective now; a study already in the journal resumes only under the objective it began with
    (a trial's value under another metric, range or config would be told as if it were this one's). Read from the
    journal without writing to it."""
    import optuna

    began = {s.study_name: s.user_attrs.get(OBJECTIVE_ATTR) for s in optuna.get_all_study_summaries(storage)}
    now: dict[tuple[int, int], dict[str, str]] = {}
    for i, point in enumerate(plan.points):
        for j, method in enumerate(plan.methods):
            now[i, j] = _objective(plan, point, method)
            then = began.get(plan.study_name(point, method))
            if not isinstance(then, dict):  # a study begun before objectives were recorded resumes as it did
                continue
            changed = [part for part in _OBJECTIVE_PARTS if then.get(part) != now[i, j][part]]
            if changed:
                what = _OBJECTIVE_PARTS[changed[0]]
                old, new = (clip(str(side.get(changed[0])), 40) for side in (then, now[i, j]))
                shown = f" ({old} -> {new})" if changed[0] in ("metric", "rule") else ""
                raise HfaError(
                    f"the {what} of study {plan.study_name(point, method)} changed since it began{shown}: its trials "
                    f"were scored otherwise; tune into another --out, or delete {journal} to start afresh"
                )
    return now


def _open_trials(plan: Plan, study: Any, point: dict[str, Any], method: Method) -> list[_Asked]:
    """Trials a killed call asked and never told: trained (or found trained) and told this round."""
    from optuna.trial import TrialState

    return [
        _Asked(study, t.number, _trial_configs(plan, point, method, _params(method, t.params)))
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    ]


def _trial_configs(plan: Plan, point: dict[str, Any], method: Method, params: dict[str, Any]) -> list[Config]:
    return [plan.config(point, method, params, seed, fold) for seed, fold in plan.repeats(plan.seeds, plan.tune_folds)]


def choose(study: Any, method: Method, point: dict[str, Any]) -> Choice:
    """The study's best trial: the highest mean validation metric (the first such trial on ties)."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.FAIL)]
    complete = [t for t in done if t.state == TrialState.COMPLETE]
    if not complete:
        return Choice(method.name, point, None, math.nan, {}, len(done))
    best = max(complete, key=lambda t: (t.value, -t.number))
    return Choice(method.name, point, best.number, float(best.value), _params(method, best.params), len(done))


def choices_frame(choices: Sequence[Choice], plan: Plan):
    """choices.csv: per sweep point and method, the chosen trial, its validation score and setting."""
    import json

    import pandas as pd

    rows = [
        {
            **c.point,
            "method": c.method,
            "trials": c.trials,
            "trial": c.trial,
            f"val_{plan.metric}_{plan.rule}": c.value,
            **{k: json.dumps(v) if isinstance(v, list) else v for k, v in c.params.items()},
        }
        for c in choices
    ]
    return pd.DataFrame(rows)


def describe(plan: Plan) -> str:
    """One line: what the study trains."""
    repeats = len(plan.repeats(plan.seeds, plan.tune_folds))
    finals = len(plan.repeats(plan.final_seeds))
    each = f"{plan.budget} trials x {repeats} run(s)"
    where = f"{len(plan.points)} sweep point(s)" if plan.points != [{}] else point_label({})
    return (
        f"{plan.name}: {len(plan.methods)} methods x {where}, each {each} (objective: validation "
        f"{plan.metric}, {plan.rule} rule), then the choice on {finals} fresh run(s)"
    )
