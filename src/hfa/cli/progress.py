"""Progress wherever output goes: Rich bars in a terminal, plain lines in a log, nothing with ``--quiet``.

A bar redrawn in place means nothing in a file, so outside a terminal a sweep prints one line per finished run
(done/total, elapsed, estimated time left) and a training run one line every few epochs, each flushed as it
happens so ``tail -f`` on the log follows along.
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

EPOCH_LINES = 10  # about this many lines for a training run, whatever its number of epochs


def clock(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``; hours when there are any (``"1:02:03"``)."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def bar(console: Console, stats: str, enabled: bool, transient: bool = False) -> Progress:
    """The terminal bar: description, bar, done/total, a free text field ``stats``, elapsed time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[{stats}]}}"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=transient,
    )


class RunLines:
    """One line per finished run of a sweep. The estimate left divides the time spent on the runs trained in
    this call (skipped ones take none) by their number, times the runs still to go."""

    def __init__(self, console: Console, total: int):
        self.console, self.total = console, total
        self.done = self.trained = 0
        self.start = time.perf_counter()

    def line(self, report: Any) -> str:
        self.done += 1
        self.trained += report.status != "skipped"
        elapsed = time.perf_counter() - self.start
        left = self.total - self.done
        estimate = f"~{clock(elapsed / self.trained * left)}" if self.trained else "?"
        width = len(str(self.total))
        return (
            f"[{self.done:>{width}}/{self.total}] {report.status:<7} {report.run_dir.name}  "
            f"elapsed {clock(elapsed)}, left {estimate if left else '0:00'}"
        )

    def __call__(self, report: Any) -> None:
        self.console.print(self.line(report), highlight=False, soft_wrap=True, markup=False)


class EpochLines:
    """A line every ``every`` epochs of a training run (and at its first and last epoch)."""

    def __init__(self, console: Console, epochs: int, label: str):
        self.console, self.epochs, self.label = console, epochs, label
        self.every = max(1, math.ceil(epochs / EPOCH_LINES))
        self.start = time.perf_counter()

    def __call__(self, log: Any) -> None:
        if log.epoch % self.every and log.epoch not in (1, self.epochs):
            return
        self.console.print(
            f"{self.label} epoch {log.epoch}/{self.epochs}  loss {log.train_loss:.4f}  val loss "
            f"{log.val_loss:.4f}  val F1 {log.val_f1:.3f}  {clock(time.perf_counter() - self.start)}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
