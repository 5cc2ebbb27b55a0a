"""Case 4: how ``hfa.training.fit`` scales with rows: seconds per epoch, and peak memory over the data's size.

Each size trains in a fresh interpreter (this file run as a script), so the peak it reports cannot have been raised
by an earlier case or size. The data is made directly as float32 tensors on the device; "data size" is the bytes
of the training and validation tensors, and the peak is the growth above what the process held before making them
(CPU: peak resident memory; CUDA: ``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from common import Row, Settings, fmt_count, fmt_seconds, run_child

N_FEATURES = 32
SIZES = (10_000, 100_000, 1_000_000)
MEMORY_TARGET = 3.0
LINEAR_TOLERANCE = 1.5


def epochs_for(n: int, quick: bool) -> int:
    # Small sizes get more epochs so their per-epoch time is a median, not one noisy sample.
    if n >= 1_000_000:
        return 1 if quick else 2
    if n >= 100_000:
        return 2 if quick else 3
    return 3 if quick else 5


def child(n: int, epochs: int, device_spec: str, threads: int | None) -> dict:
    """One size in this (fresh) process; returns seconds per epoch and memory in bytes."""
    import torch

    from common import current_rss, peak_rss, reset_peak_rss, sync
    from hfa.config import ModelConfig, TrainConfig
    from hfa.losses import build_loss
    from hfa.model import build_model
    from hfa.training import fit

    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device_spec)
    cuda = device.type == "cuda"
    cfg = TrainConfig(epochs=epochs, batch_size=256, lr=1e-3, patience=0)
    loss_fn = build_loss("bce").to(device)

    # A first fit on a few rows pages in torch's kernels (~80 MiB of shared-library code on CPU, counted in RSS
    # once touched) and sets up the CUDA context: fixed costs, not memory that grows with the data.
    tiny = torch.randn(512, N_FEATURES, device=device)
    tiny_y = (tiny[:, 0] > 0).float()
    warm_cfg = TrainConfig(epochs=1, batch_size=256, lr=1e-3, patience=0)
    fit(build_model(N_FEATURES, ModelConfig()).to(device), loss_fn, tiny, tiny_y, tiny, tiny_y, warm_cfg, seed=0)
    del tiny, tiny_y
    before = torch.cuda.memory_allocated(device) if cuda else current_rss()

    generator = torch.Generator().manual_seed(n)
    n_val = max(n // 10, 100)
    x = torch.randn(n + n_val, N_FEATURES, generator=generator)
    y = (x[:, :4].sum(dim=1) + torch.randn(n + n_val, generator=generator) > 2.5).float()
    x, y = x.to(device), y.to(device)
    x_train, y_train, x_val, y_val = x[:n], y[:n], x[n:], y[n:]
    data_bytes = x.nbytes + y.nbytes
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    # Drop what making the data cost beyond the data itself (the random draws), so the peak is fit's alone.
    exact = reset_peak_rss() if not cuda else True

    model = build_model(N_FEATURES, ModelConfig()).to(device)
    stamps = [time.perf_counter()]

    def on_epoch(_log) -> None:
        sync(device)
        stamps.append(time.perf_counter())

    fit(model, loss_fn, x_train, y_train, x_val, y_val, cfg, seed=0, on_epoch=on_epoch)
    per_epoch = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    # The first epoch carries one-off start-up costs; with more than one, it is left out.
    steady = per_epoch[1:] if len(per_epoch) > 1 else per_epoch
    peak = torch.cuda.max_memory_allocated(device) if cuda else peak_rss()
    return {
        "n": n,
        "epochs": epochs,
        "seconds_per_epoch": statistics.median(steady),
        "data_bytes": data_bytes,
        "peak_growth_bytes": peak - before,
        "peak_exact": exact,
    }


def run(settings: Settings) -> list[Row]:
    results = []
    for n in SIZES:
        args = ["--child", str(n), "--epochs", str(epochs_for(n, settings.quick)), "--device", str(settings.device)]
        if settings.threads:
            args += ["--threads", str(settings.threads)]
        results.append(run_child("bench_scale.py", args, timeout=600))

    reference = results[0]
    ref_per_row = reference["seconds_per_epoch"] / reference["n"]
    rows = []
    for result in results:
        n, seconds = result["n"], result["seconds_per_epoch"]
        per_row = seconds / n
        growth = per_row / ref_per_row
        is_reference = result is reference
        rows.append(
            Row(
                case="scale time",
                size=f"{fmt_count(n)}x{N_FEATURES}",
                hfa=f"{fmt_seconds(seconds)}/ep = {per_row * 1e6:.2f} µs/row",
                baseline=f"{ref_per_row * 1e6:.2f} µs/row at 10k",
                ratio=growth,
                target="reference" if is_reference else f"<= {LINEAR_TOLERANCE:g}x (linear)",
                met=None if is_reference else growth <= LINEAR_TOLERANCE,
                hfa_value=seconds,
                baseline_value=ref_per_row * n,
                unit="s per epoch (baseline: 10k's seconds per row times rows)",
                repeats=max(1, result["epochs"] - 1),
                note="ratio = seconds per row relative to 10k rows; ~1 means time grows linearly",
                extra={"epochs": result["epochs"], "seconds_per_row": per_row},
            )
        )

    largest = results[-1]
    multiple = largest["peak_growth_bytes"] / largest["data_bytes"]
    mib = 1024**2
    rows.append(
        Row(
            case="scale memory",
            size=f"{fmt_count(largest['n'])}x{N_FEATURES}",
            hfa=f"peak +{largest['peak_growth_bytes'] / mib:.0f} MiB",
            baseline=f"data {largest['data_bytes'] / mib:.0f} MiB",
            ratio=multiple,
            target=f"< {MEMORY_TARGET:g}x data",
            met=multiple < MEMORY_TARGET,
            hfa_value=largest["peak_growth_bytes"],
            baseline_value=largest["data_bytes"],
            unit="bytes",
            note="one epoch in a fresh process; peak growth (with the data) over data bytes"
            + ("" if largest["peak_exact"] else "; peak includes making the data"),
            extra={f"peak_multiple_{fmt_count(r['n'])}": r["peak_growth_bytes"] / r["data_bytes"] for r in results},
        )
    )
    return rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="one scale measurement in a fresh process (used by run.py)")
    parser.add_argument("--child", type=int, required=True, help="rows to train on")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(child(args.child, args.epochs, args.device, args.threads)))


if __name__ == "__main__":
    main(sys.argv[1:])
