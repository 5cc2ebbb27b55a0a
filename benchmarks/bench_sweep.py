"""Case 3: runs per minute of ``hfa.sweep.execute`` against the same runs one after another.

The grid is the quickstart's (``configs/quickstart.yaml``: synthetic blobs, MLP [32, 32], batch 256, up to 30 epochs
with early stopping), as a user runs it; ``--quick`` cuts it to 5 epochs. ``execute`` runs with its defaults
(one worker, ``train.stack`` on where available); the baseline calls
``hfa.runs.execute_run`` for each config in turn, as a loop over ``hfa train`` would, without process start-up.
Both write complete run folders into fresh temporary directories, so nothing is skipped as already done, and
both start with hfa's in-process data caches cleared, as a fresh process would (the one-by-one path then still
reuses the cached data from its second run on, as the sweep does).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from common import Row, Settings, rate_row
from hfa.data import clear_caches
from hfa.runs import execute_run, run_dir_for
from hfa.sweep import execute, expand

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml"
TARGET = 10.0  # on CPU; 30x on a GPU (targets.py)


def grid(quick: bool) -> list[str]:
    if quick:
        return ["loss.name=bce,wbce,f1", "data.imbalance_ratio=5,20", "seed=0,1"]
    return ["loss.name=bce,wbce,f1", "data.imbalance_ratio=5,10,20,50", "seed=0,1,2,3"]


def _configs(device: torch.device, epochs: int | None, axes: list[str]):
    overrides = [f"train.device={device}"] + ([f"train.epochs={epochs}"] if epochs else [])
    return expand(CONFIG, overrides, axes).configs


def _sweep(configs) -> tuple[float, Path, tempfile.TemporaryDirectory]:
    folder = tempfile.TemporaryDirectory(prefix="hfa-bench-sweep-")
    clear_caches()
    start = time.perf_counter()
    summary = execute(configs, folder.name)
    seconds = time.perf_counter() - start
    if summary.failed:
        raise RuntimeError(f"sweep run failed: {summary.failed[0].error}")
    return seconds, Path(folder.name), folder


def _one_by_one(configs) -> tuple[float, Path, tempfile.TemporaryDirectory]:
    folder = tempfile.TemporaryDirectory(prefix="hfa-bench-single-")
    clear_caches()
    start = time.perf_counter()
    for cfg in configs:
        execute_run(cfg, folder.name)
    return time.perf_counter() - start, Path(folder.name), folder


def _largest_f1_gap(configs, a: Path, b: Path) -> float:
    """How far the two paths' test F1 (fixed threshold) differ; stacking should only change rounding."""
    gap = 0.0
    for cfg in configs:
        frames = [pd.read_csv(run_dir_for(cfg, root) / "metrics.csv") for root in (a, b)]
        f1 = [f.loc[(f["split"] == "test") & (f["rule"] == "fixed"), "f1"].to_numpy() for f in frames]
        gap = max(gap, float(abs(f1[0] - f1[1]).max()))
    return gap


def run(settings: Settings) -> list[Row]:
    device = settings.device
    epochs = 5 if settings.quick else None
    axes = grid(settings.quick)
    configs = _configs(device, epochs, axes)

    # Warm both paths on a tiny grid: imports, data generation and first-call costs are not what is compared.
    warm = _configs(device, 1, ["loss.name=bce,f1", "data.imbalance_ratio=5", "seed=0,1"])
    for path in (_sweep, _one_by_one):
        path(warm)[2].cleanup()

    repeats = 1 if settings.quick else 2
    sweep_s, single_s, gap = [], [], None
    for _ in range(repeats):
        seconds, sweep_root, sweep_dir = _sweep(configs)
        sweep_s.append(seconds)
        seconds, single_root, single_dir = _one_by_one(configs)
        single_s.append(seconds)
        if gap is None:
            gap = _largest_f1_gap(configs, sweep_root, single_root)
        sweep_dir.cleanup()
        single_dir.cleanup()

    n = len(configs)
    return [
        rate_row(
            "sweep",
            f"{n} runs, {epochs or configs[0].train.epochs} ep",
            n / statistics.median(sweep_s) * 60,
            n / statistics.median(single_s) * 60,
            "runs per minute",
            TARGET,
            repeats=repeats,
            note=f"quickstart grid {' '.join(axes)}; execute() vs execute_run() per config; "
            f"largest test-F1 gap between the two {gap:.3g}",
            extra={"largest_test_f1_gap": gap or 0.0},
        )
    ]
