"""Run hfa's benchmarks side by side with their baselines and print/save a table of ratios.

    python benchmarks/run.py [--quick] [--device auto|cpu|cuda] [--only CASE,...|all] [--threads N]

Prints the tables: every case against its baseline (by default issue 24's: hfa against scikit-learn's
MLPClassifier, skorch, a plain PyTorch script and a shell loop of ``hfa train``); when issue 10's cases ran, the
arithmetic each case needs and the fraction of the device's matmul throughput (measured in the same run) it
reaches; and the targets of issue 24 (and of issue 10 when its cases ran) with their ratios and met / not met.
Writes ``benchmarks/results/<device>-<date>.csv`` and ``benchmarks/results/latest-<device>.csv``.
See ``benchmarks/README.md`` for what each case measures.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from common import HERE, Row, Settings, environment, fmt_flops, matmul_throughput, pick_device
from targets import limits_table, targets_table

PEER_CASES = ("peers", "sweep30", "gridsearch", "tune", "report")  # issue 24: hfa against what users would run instead
OWN_CASES = ("startup", "loss", "training", "sweep", "scale", "process")  # issue 10: hfa against plain PyTorch
CASES = PEER_CASES + OWN_CASES


def load_case(name: str):
    # Imported on demand so that --only loss does not pay for (or fail on) the sweep's imports.
    module = __import__(f"bench_{name}")
    return module.run


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions (~1.5 min)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--only",
        default=",".join(PEER_CASES),
        help=f"comma-separated subset of {','.join(CASES)}, or 'all' (default: issue 24's, {','.join(PEER_CASES)})",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice, one per core)"
    )
    parser.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="issue 24's cases: wall seconds, or CPU seconds (user + system) on a machine others keep busy",
    )
    parser.add_argument("--results", type=Path, default=HERE / "results", help="folder for the CSV files")
    args = parser.parse_args(argv)
    args.only = list(CASES) if args.only == "all" else [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in CASES]
    if unknown or not args.only:
        parser.error(f"--only {','.join(unknown) or '(empty)'}: allowed cases are {','.join(CASES)}")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def render(rows: list[Row], env: dict[str, object], seconds: float) -> Table:
    title = (
        f"hfa benchmarks on {env['device']} ({env['device_name']}), torch {env['torch_version']}, "
        f"{env['cpu_count']} CPUs / {env['torch_threads']} threads, load {env['load_avg_1m']}"
    )
    table = Table(title=title, caption=f"{seconds:.0f} s in all; medians of repetitions after warm-up")
    for column, justify in [
        ("case", "left"),
        ("size", "left"),
        ("hfa", "right"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("met", "center"),
    ]:
        table.add_column(column, justify=justify)
    for row in rows:
        met = "-" if row.met is None else ("[green]yes[/]" if row.met else "[red]no[/]")
        ratio = "-" if row.ratio != row.ratio else f"{row.ratio:.2f}x"  # NaN: a skipped baseline
        table.add_row(row.case, row.size, row.hfa, row.baseline, ratio, row.target, met)
    return table


def write_csv(rows: list[Row], env: dict[str, object], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().astimezone()
    records = []
    for row in rows:
        record = {k: v for k, v in asdict(row).items() if k != "extra"}
        record["met"] = "" if row.met is None else ("yes" if row.met else "no")
        record["ratio"] = round(row.ratio, 4)
        record["extra"] = ";".join(f"{k}={v:.6g}" for k, v in row.extra.items())
        records.append({**record, **env, "timestamp": stamp.isoformat(timespec="seconds")})
    paths = [folder / f"{env['device']}-{stamp:%Y-%m-%d}.csv", folder / f"latest-{env['device']}.csv"]
    for path in paths:
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        tmp.replace(path)
    return paths


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = pick_device(args.device)
    except ValueError as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 2
    console = Console()
    if not console.is_terminal:
        # Piped into a file or CI log: Rich would wrap at 80 columns and split every cell over lines.
        console = Console(width=140)
    with console.status("measuring the device's matmul throughput"):
        flops = matmul_throughput(device, clock=args.clock)
        one = matmul_throughput(device, clock=args.clock, threads=1) if device.type == "cpu" else flops
    settings = Settings(
        device=device,
        quick=args.quick,
        threads=args.threads,
        matmul_flops=flops,
        matmul_flops_one_thread=one,
        clock=args.clock,
    )
    env = environment(settings)
    env["matmul_flop_per_s"] = round(flops)
    env["matmul_flop_per_s_one_thread"] = round(one)
    console.log(f"float32 matmul throughput: {fmt_flops(flops)}/s ({fmt_flops(one)}/s on one thread)")
    busy = env["load_avg_1m"] >= 0.5 * (env["cpu_count"] or 1)
    if busy and not args.threads and torch.get_num_threads() > 1:
        console.print(
            f"[yellow]load average {env['load_avg_1m']} on {env['cpu_count']} CPUs: other processes compete for the "
            "cores, and torch's threads then wait on each other; numbers will be noisy (try --threads 1)[/]"
        )
    rows: list[Row] = []
    start = time.perf_counter()
    for name in args.only:
        with console.status(f"benchmark: {name}"):
            case_start = time.perf_counter()
            rows.extend(load_case(name)(settings))
        console.log(f"{name} done in {time.perf_counter() - case_start:.0f} s")
    console.print(render(rows, env, time.perf_counter() - start))
    if any(name in OWN_CASES for name in args.only):
        console.print(limits_table(rows, flops, device))
    if any(name in OWN_CASES for name in args.only):
        console.print(targets_table(rows, device, issue=10))
    console.print(targets_table(rows, device, issue=24))
    for path in write_csv(rows, env, args.results):
        console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
