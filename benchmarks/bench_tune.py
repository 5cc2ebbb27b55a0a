"""``hfa tune``'s trials trained as stacks against the same trials one at a time through Optuna's own loop.

    OMP_NUM_THREADS=1 python benchmarks/bench_tune.py [--trials 10] [--seeds 2] [--epochs 100]

Both sides tune the f1 loss's ``loss.delta`` and focal's ``loss.gamma`` on ``keel/yeast4`` (a search over loss
parameters, which members of one stack may differ in) with Optuna's TPE seeded alike, every trial inside TPE's
random start-up so both ask the very same settings. The stacked side is :func:`hfa.tune.tune` (the trials of a
round asked at once, their runs trained by the sweep machinery as stacks, then told); the baseline is
``study.optimize`` with an objective that trains the trial's runs one after another (``hfa.runs.execute_run``), as
a user would write it. The script checks that every trial has the same value on both sides (a trial is its
config's runs, bit for bit) and prints the ratio of the wall times (target: at least 5x). Neither side counts the
chosen settings' final runs. Both start with hfa's data caches cleared, after one untimed load of the data has
imported what loading it needs (scikit-learn, the KEEL reader: ~1.5 s that the side timed first would pay alone).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

TARGET = 5.0


def study(trials: int, seeds: int, epochs: int) -> dict:
    return {
        "name": "bench-tune",
        "data": {"name": "keel/yeast4", "val_size": 0.25, "test_size": 0.25},
        "model": {"hidden": [32], "dropout": 0.1},
        "train": {"epochs": epochs, "batch_size": 128, "lr": 0.003, "patience": 10, "device": "cpu"},
        "methods": {
            "f1": {"loss.name": "f1", "search": {"loss.delta": {"low": 0.02, "high": 0.45}}},
            "focal": {"loss.name": "focal", "search": {"loss.gamma": {"low": 0.5, "high": 5.0}}},
        },
        "tune": {"budget": trials, "batch": trials, "seeds": list(range(seeds)), "final_seeds": [1000]},
    }


def warm_up(path: Path) -> None:
    """Load the study's data once, untimed: the imports it needs are the process's, not either loop's."""
    from hfa.data import clear_caches
    from hfa.runs import load_splits
    from hfa.search import load_plan

    plan = load_plan(path)
    load_splits(plan.config({}, plan.methods[0], {}, plan.seeds[0]))
    clear_caches()


def stacked(path: Path, out: Path) -> tuple[float, dict[tuple[str, int], float]]:
    from hfa.data import clear_caches
    from hfa.search import load_plan
    from hfa.tune import _storage, tune

    plan = load_plan(path)
    clear_caches()
    start = time.perf_counter()
    result = tune(plan, out)
    # The final runs (one fresh seed per method) are not part of the comparison: their time is taken off.
    final_s = sum(_seconds(run) for choice in result.choices for run in choice.runs)
    seconds = time.perf_counter() - start - final_s
    import optuna

    storage = _storage(result.root)
    values = {}
    for method in plan.methods:
        name = plan.study_name({}, method)
        for trial in optuna.load_study(study_name=name, storage=storage).get_trials():
            values[(method.name, trial.number)] = trial.value
    return seconds, values


def _seconds(run_dir: Path) -> float:
    import json

    return float(json.loads((run_dir / "run.json").read_text())["timings"]["total_s"])


def one_at_a_time(path: Path, out: Path) -> tuple[float, dict[tuple[str, int], float]]:
    import optuna

    from hfa.data import clear_caches
    from hfa.runs import execute_run
    from hfa.search import load_plan
    from hfa.tune import _distributions, _params, _sampler, trial_value

    plan = load_plan(path)
    clear_caches()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    values = {}
    start = time.perf_counter()
    for method in plan.methods:
        name = plan.study_name({}, method)
        distributions = _distributions(method)

        def objective(trial, method=method, distributions=distributions) -> float:
            sampled = {key: trial.suggest_float(key, d.low, d.high, log=d.log) for key, d in distributions.items()}
            params = _params(method, sampled)
            configs = [plan.config({}, method, params, seed, fold) for seed, fold in plan.repeats(plan.seeds)]
            runs = [execute_run(cfg, out).run_dir for cfg in configs]
            return trial_value(runs, plan.metric, plan.rule)

        optuna_study = optuna.create_study(direction="maximize", sampler=_sampler(plan, name, 0))
        optuna_study.optimize(objective, n_trials=plan.budget)
        values.update({(method.name, t.number): t.value for t in optuna_study.trials})
    return time.perf_counter() - start, values


def measure(trials: int, seeds: int, epochs: int) -> tuple[float, float, bool]:
    """Seconds of the stacked side, of the one-at-a-time side, and whether every trial's value is the same."""
    with tempfile.TemporaryDirectory(prefix="hfa-bench-tune-") as folder:
        path = Path(folder) / "study.yaml"
        path.write_text(yaml.safe_dump(study(trials, seeds, epochs)), encoding="utf-8")
        warm_up(path)
        fast_s, fast = stacked(path, Path(folder) / "stacked")
        slow_s, slow = one_at_a_time(path, Path(folder) / "single")
    return fast_s, slow_s, fast == slow


def run(settings) -> list:
    """``run.py``'s case ``tune``: one measurement in this process, on one thread as ``hfa tune`` trains."""
    import torch

    from common import seconds_row

    trials, seeds, epochs = (5, 2, 50) if settings.quick else (10, 2, 100)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fast_s, slow_s, same = measure(trials, seeds, epochs)
    finally:
        torch.set_num_threads(threads)
    if not same:
        raise RuntimeError("bench_tune: the stacked and the one-at-a-time trials gave different values")
    size = f"2 methods x {trials} trials x {seeds} seeds, keel/yeast4, {epochs} ep"
    note = "hfa.tune (trials of a round trained as stacks) vs study.optimize training each trial's runs in turn"
    return [seconds_row("tune vs study.optimize", size, fast_s, slow_s, TARGET, "s wall in one process", note)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per method (<= 10: TPE's random start-up)")
    parser.add_argument("--seeds", type=int, default=2, help="runs per trial (tuning seeds)")
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    if args.trials > 10:
        parser.error("--trials at most 10, so both sides stay in TPE's random start-up and ask the same settings")
    fast_s, slow_s, same = measure(args.trials, args.seeds, args.epochs)
    runs = 2 * args.trials * args.seeds
    shape = f"2 methods x {args.trials} trials x {args.seeds} seeds"
    print(f"{runs} trial runs ({shape}), keel/yeast4, {args.epochs} epochs")
    print(f"stacked (hfa.tune):              {fast_s:8.2f} s")
    print(f"one at a time (study.optimize):  {slow_s:8.2f} s")
    print(f"ratio: {slow_s / fast_s:.1f}x (target >= {TARGET:g}x); identical trial values: {same}")
    if not same:
        raise SystemExit("the two loops gave different trial values")


if __name__ == "__main__":
    main()
