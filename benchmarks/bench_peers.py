"""Issue 24, ``hfa train`` against what a user would run instead, whole fresh processes on the same rows:

- scikit-learn's ``MLPClassifier`` (hidden 64-64, Adam, batch 256, lr 1e-3, the same epochs, no early stopping) at
  100k and 1M rows x 20 features: wall time, and at 1M peak memory;
- a plain PyTorch ``DataLoader`` script and skorch's ``NeuralNetBinaryClassifier`` (the same MLP, optimiser,
  batches, epochs and a validation loss per epoch) at 100k rows: reference rows, no target;
- from hfa's own run.json at both sizes: training time per row (1M against 100k) and the FLOP rate of training and
  of the whole process at 1M against the measured one-thread matmul rate.

``hfa train`` runs ``data.name=synthetic`` (10 epochs, ``train.patience=0``: every epoch runs), and writes its
run folder; the peers print a test F1. Repetitions alternate hfa and its peers, so a burst of load hits all.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench_training import N_FEATURES
from common import Row, Settings, fmt_count, seconds_row
from peers import LOADER_SCRIPT, MLP_SCRIPT, SKORCH_SCRIPT, hfa_command, median, run_info, run_process, script

EPOCHS, HIDDEN, VAL_SHARE, TRAIN_SHARE = 10, (64, 64), 0.2, 0.6
SMALL, LARGE = 100_000, 1_000_000
SPEED_TARGETS = {SMALL: 1.0, LARGE: 2.0}
MEMORY_TARGET, PER_ROW_TARGET, TRAIN_FRACTION, PROCESS_FRACTION = 1.25, 1.1, 0.6, 0.4
assert N_FEATURES == 20  # the 100k x 20


def flop_per_row() -> float:
    """FLOP a training row costs: forward (2 x MACs) and backward (4 x MACs), plus its share of the per-epoch
    validation forward (validation rows are a third of the training rows here)."""
    widths = [N_FEATURES, *HIDDEN, 1]
    macs = sum(a * b for a, b in zip(widths, widths[1:], strict=False))
    return 6 * macs + 2 * macs * VAL_SHARE / TRAIN_SHARE


def _hfa_argv(n: int, out: Path) -> list[str]:
    overrides = [
        "name=peers",
        "data.name=synthetic",
        f"data.n_samples={n}",
        f"data.n_features={N_FEATURES}",
        "data.imbalance_ratio=null",
        f"model.hidden=[{', '.join(map(str, HIDDEN))}]",
        f"train.epochs={EPOCHS}",
        "train.batch_size=256",
        "train.lr=0.001",
        "train.patience=0",
        "train.device=cpu",
    ]
    return [*hfa_command(), "train", "--quiet", "--out", str(out), *overrides]


def _time_row(
    case: str, n: int, hfa: float, peer: float, target: float | None, note: str, repeats: int, clock: str
) -> Row:
    size = f"{fmt_count(n)} x {N_FEATURES}, {EPOCHS} ep, 64-64"
    return seconds_row(case, size, hfa, peer, target, f"s {clock}, fresh process", note, repeats)


def _at_most(
    what: tuple[str, str], values: tuple[float, float], shown: list[str], limit: float, unit: str, note: str
) -> Row:
    """A row where lower is better: hfa's value over the reference's, met at or below ``limit``."""
    ratio = values[0] / values[1]
    return Row(*what, *shown, ratio, f"<= {limit:g}x", ratio <= limit, *values, unit, note)


def run(settings: Settings) -> list[Row]:
    repeats = 1 if settings.quick else 3
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hfa-peers-") as tmp:
        scratch = Path(tmp)
        mlp = script(scratch, "mlp.py", MLP_SCRIPT)
        loader = script(scratch, "loader.py", LOADER_SCRIPT)
        skorch = script(scratch, "skorch_fit.py", SKORCH_SCRIPT)
        peer_args = [str(SMALL), str(N_FEATURES), str(EPOCHS)]
        times: dict[str, list[float]] = {"hfa": [], "mlp": [], "loader": [], "skorch": []}
        train_s: dict[int, float] = {}
        for i in range(repeats):
            out = scratch / f"small{i}"
            times["hfa"].append(run_process(_hfa_argv(SMALL, out), settings).seconds)
            train_s[SMALL] = run_info(out)["timings"]["train_s"]  # the last repetition's
            times["mlp"].append(run_process([sys.executable, str(mlp), *peer_args], settings).seconds)
            times["loader"].append(run_process([sys.executable, str(loader), *peer_args], settings).seconds)
            times["skorch"].append(run_process([sys.executable, str(skorch), *peer_args], settings).seconds)
        hfa_small = median(times["hfa"])
        rows.append(
            _time_row(
                "train vs MLPClassifier",
                SMALL,
                hfa_small,
                median(times["mlp"]),
                SPEED_TARGETS[SMALL],
                "hfa train vs scikit-learn MLPClassifier (64-64, adam, batch 256, same epochs), same rows",
                repeats,
                settings.clock,
            )
        )
        large_out = scratch / "large"
        hfa_large = run_process(_hfa_argv(LARGE, large_out), settings)
        train_s[LARGE] = run_info(large_out)["timings"]["train_s"]
        mlp_large = run_process([sys.executable, str(mlp), str(LARGE), str(N_FEATURES), str(EPOCHS)], settings)
        rows.append(
            _time_row(
                "train vs MLPClassifier",
                LARGE,
                hfa_large.seconds,
                mlp_large.seconds,
                SPEED_TARGETS[LARGE],
                "as at 100k; one repetition",
                1,
                settings.clock,
            )
        )
        memory = (hfa_large.peak_bytes, mlp_large.peak_bytes)
        rows.append(
            _at_most(
                ("peak memory vs MLPClassifier", f"{fmt_count(LARGE)} x {N_FEATURES}"),
                memory,
                [f"{b / 2**20:,.0f} MiB" for b in memory],
                MEMORY_TARGET,
                "bytes, peak resident (ru_maxrss)",
                "hfa's peak over MLPClassifier's (lower is better)",
            )
        )
        per_row = tuple(train_s[n] / (TRAIN_SHARE * n * EPOCHS) for n in (LARGE, SMALL))
        rows.append(
            _at_most(
                ("training time per row", f"{fmt_count(LARGE)} vs {fmt_count(SMALL)}"),
                per_row,
                [f"{v * 1e9:.0f} ns/row" for v in per_row],
                PER_ROW_TARGET,
                "s per training row and epoch (run.json train_s)",
                "training time per row at 1M over that at 100k (linear = 1)",
            )
        )
        rate = settings.matmul_flops_one_thread  # hfa trains on one thread (runs.one_thread)
        if rate:
            work = flop_per_row() * TRAIN_SHARE * LARGE * EPOCHS
            for case, seconds, need in (
                ("training vs matmul rate", train_s[LARGE], TRAIN_FRACTION),
                ("whole process vs matmul rate", hfa_large.seconds, PROCESS_FRACTION),
            ):
                fraction = work / seconds / rate
                rows.append(
                    Row(
                        case=case,
                        size=f"{fmt_count(LARGE)} x {N_FEATURES}",
                        hfa=f"{work / seconds / 1e9:.1f} GFLOP/s",
                        baseline=f"{rate / 1e9:.1f} GFLOP/s (1 thread)",
                        ratio=fraction,
                        target=f">= {need:.0%}",
                        met=fraction >= need,
                        hfa_value=work / seconds,
                        baseline_value=rate,
                        unit="FLOP/s",
                        note=f"{work / 1e9:.0f} GFLOP of training in {seconds:.2f} s vs the one-thread matmul rate",
                        extra={"flop": work},
                    )
                )
        for key, case, what in (
            ("loader", "train vs DataLoader script", "a plain PyTorch script: TensorDataset + DataLoader(shuffle)"),
            ("skorch", "train vs skorch", "skorch NeuralNetBinaryClassifier with a predefined validation split"),
        ):
            note = f"hfa train vs {what}, same MLP, Adam, batch, epochs, a validation loss per epoch"
            rows.append(_time_row(case, SMALL, hfa_small, median(times[key]), None, note, repeats, settings.clock))
    return rows
