"""The summary tables of ``run.py``: how far each case is from the device's arithmetic limit, and issue 10's and
issue 24's targets with their ratios and met / not met (computed from the rows the cases return)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from rich.table import Table

from common import Row, fmt_flops, fmt_seconds


def _limit_cells(row: Row, matmul: float) -> tuple[str, str, str, str, str]:
    """(arithmetic, hfa time or rate, achieved FLOP/s, fraction of matmul throughput, what holds it there)."""
    if "flop" in row.extra:  # the loss: seconds per call
        ops = int(row.extra.get("aten_ops", 0))
        achieved = row.extra["flop"] / row.hfa_value
        each = f"{ops} tensor ops a call, {fmt_seconds(row.hfa_value / ops)} each"
        if row.extra.get("samples", 0) < 10_000:
            held = f"{each}: their dispatch, not arithmetic"
        else:
            held = f"{each}: the passes over the samples (bin search, two scatters, one gather) are scalar loops"
        return (
            f"{fmt_flops(row.extra['flop'])} a call",
            row.hfa,
            f"{fmt_flops(achieved)}/s",
            f"{achieved / matmul:.2%}",
            held,
        )
    if row.case.startswith("training"):
        per_row, batch = row.extra["flop_per_row"], int(row.extra.get("batch", 256))
        achieved = per_row * row.hfa_value
        step_s, step_flop = batch / row.hfa_value, per_row * batch
        held = (
            f"a step of {batch} rows takes {fmt_seconds(step_s)} for {fmt_flops(step_flop)} "
            f"({fmt_seconds(step_flop / matmul)} at matmul speed): {row.extra.get('ops_per_step', 0):.0f} tensor "
            "ops a step, each a dispatch, on matrices too small for the arithmetic to dominate"
        )
        return f"{fmt_flops(per_row)} a row", row.hfa, f"{fmt_flops(achieved)}/s", f"{achieved / matmul:.2%}", held
    if row.case == "startup":
        floors = (
            f"python {fmt_seconds(row.extra['python_floor_s'])}, Typer --help {fmt_seconds(row.extra['typer_floor_s'])}"
        )
        return "none", row.hfa, "-", "-", f"imports and the interpreter; floors: {floors}"
    return "not reported by this case", row.hfa, "-", "-", row.note[:70]


def limits_table(rows: list[Row], matmul: float, device: torch.device) -> Table:
    table = Table(
        title=f"How far from the limit: each case's arithmetic against the measured {fmt_flops(matmul)}/s "
        f"float32 matmul throughput of this {device.type}",
        title_justify="left",
    )
    for column in ("case", "size", "arithmetic", "hfa", "achieved", "of matmul", "what holds it there"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if row.case != "loss vs loop":  # the same hfa timing as the torch-btg row above it
            table.add_row(row.case, row.size, *_limit_cells(row, matmul))
    return table


@dataclass(frozen=True)
class Target:
    text: str
    pick: Callable[[Row], bool]
    need: float | None  # ratio >= need; None: the row's own met flag decides


def _is(case: str, size: str = "") -> Callable[[Row], bool]:
    return lambda row: row.case == case and size in row.size


def issue_targets(device: torch.device) -> list[tuple[Target, str | None]]:
    """Issue 10's targets; the second item says why a target has no row in this run (None: it has one)."""
    gpu = device.type == "cuda"
    return [
        (Target("hfa --help under 0.5 s", _is("startup", "hfa --help"), 1.0), None),
        (Target("hfa losses under 0.5 s", _is("startup", "hfa losses"), 1.0), None),
        (Target("hfa datasets under 0.5 s", _is("startup", "hfa datasets"), 1.0), None),
        (Target("hfa sweep (quickstart grid) >= 50x a shell loop of hfa train", _is("sweep process"), 50.0), None),
        (
            Target(
                f"in-process sweep, stacked vs one by one >= {30 if gpu else 10}x", _is("sweep"), 30.0 if gpu else 10.0
            ),
            None,
        ),
        (Target("hfa train whole process (100k x 20, dropout) >= 2x a plain script", _is("train process"), 2.0), None),
        (
            Target(f"training core >= {10 if gpu else 5}x the DataLoader loop", _is("training"), 10.0 if gpu else 5.0),
            None,
        ),
        (
            Target(
                f"training core with dropout >= {10 if gpu else 5}x the DataLoader loop",
                _is("training dropout"),
                10.0 if gpu else 5.0,
            ),
            None,
        ),
        (Target("metric loss >= 10x torch-btg at 1,024", _is("loss vs torch-btg", "1,024"), 10.0), None),
        (Target("metric loss >= 10x torch-btg at 65,536", _is("loss vs torch-btg", "65,536"), 10.0), None),
        (Target("time per row at 1M x 32 within 1.5x of 10k", _is("scale time", "1M"), None), None),
        (Target("peak memory at 1M x 32 < 3x the data", _is("scale memory"), None), None),
    ]


def issue24_targets(device: torch.device) -> list[tuple[Target, str | None]]:
    """Issue 24's targets: hfa against what a user would run instead (need None: the row's own met flag decides,
    for targets where lower is better)."""
    return [
        (Target("hfa train >= 1.0x MLPClassifier, 100k rows", _is("train vs MLPClassifier", "100k"), 1.0), None),
        (Target("hfa train >= 2x MLPClassifier, 1M rows", _is("train vs MLPClassifier", "1M"), 2.0), None),
        (Target("peak memory at 1M <= 1.25x MLPClassifier's", _is("peak memory vs MLPClassifier"), None), None),
        (Target("training at 1M >= 60% of the matmul rate", _is("training vs matmul rate"), None), None),
        (Target("whole process at 1M >= 40% of the matmul rate", _is("whole process vs matmul rate"), None), None),
        (Target("training time per row at 1M <= 1.1x that at 100k", _is("training time per row"), None), None),
        (Target("sweep of 30 runs >= 10x 30 skorch fits", _is("sweep of 30 vs skorch"), 10.0), None),
        (Target("sweep of 30 runs >= 30x a shell loop of hfa train", _is("sweep of 30 vs hfa train loop"), 30.0), None),
        (Target("HfaClassifier GridSearchCV >= 1.0x MLPClassifier's", _is("GridSearchCV vs MLPClassifier"), 1.0), None),
        (
            Target("hfa tune's stacks >= 5x study.optimize one trial at a time", _is("tune vs study.optimize"), 5.0),
            None,
        ),
        (Target("hfa report over 900 runs <= 1 s beyond start-up", _is("report beyond start-up"), None), None),
        (
            Target("GPU: the table on a GPU, stacked sweep >= 30x one by one", lambda row: False, None),
            None if device.type == "cuda" else "no GPU here (this session was lent none)",
        ),
    ]


def targets_table(rows: list[Row], device: torch.device, issue: int = 10) -> Table:
    targets = issue24_targets(device) if issue == 24 else issue_targets(device)
    table = Table(title=f"Issue {issue} targets", title_justify="left")
    for column, justify in (("target", "left"), ("measured", "right"), ("ratio", "right"), ("met", "center")):
        table.add_column(column, justify=justify)
    for target, absent in targets:
        found = [row for row in rows if target.pick(row)]
        if not found:
            why = absent or "its case was not run (see --only)"
            table.add_row(target.text, "-", "-", f"[yellow]not measured[/]: {why}")
            continue
        row = found[0]
        met = row.met if target.need is None or math.isnan(row.ratio) else row.ratio >= target.need
        verdict = "[yellow]skipped[/]" if met is None else "[green]met[/]" if met else "[red]not met[/]"
        ratio = "-" if math.isnan(row.ratio) else f"{row.ratio:.2f}x"
        table.add_row(target.text, f"{row.hfa} vs {row.baseline}", ratio, verdict)
    return table
