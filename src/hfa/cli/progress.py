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


class EpochBudget:
    """A sweep's progress counted in member-epochs (one run's epoch), and the time left from the rate so far.

    Each run will train at most ``train.epochs`` epochs (the upper bound); early stopping ends it once
    ``train.patience`` epochs pass without a better validation loss, so a run still training is expected to stop
    at ``best epoch + patience`` at the earliest, and (a run still improving tends to go on about as long as it has
    gone) not before twice its epochs so far. Before any run has finished, the expected stop lies midway between
    that lower bound and the upper bound on a log scale (their geometric mean: off by at most the square root of
    their ratio); afterwards it is the typical stop of the finished runs, kept within the bounds. Runs not started
    are expected to stop where finished (or, before any has, running) runs do. The rate is
    member-epochs per second since the first epoch (data loading before it is not an epoch's cost): stacked runs
    share the cost of an epoch, and so does the rate.
    """

    def __init__(self, runs: dict[str, tuple[int, int]]):
        self.limits = dict(runs)  # run id -> (max epochs, patience)
        self.epoch: dict[str, int] = {}
        self.best: dict[str, int] = {}
        self.stopped: dict[str, int] = {}  # run id -> epochs it ran
        self.done = 0  # member-epochs trained
        self.start = time.perf_counter()
        self.first: float | None = None  # when the first epoch was reported

    def on_epoch(self, run: str, log: Any) -> None:
        if run not in self.limits or run in self.stopped:
            return
        self.done += 1
        if self.first is None:
            self.first = time.perf_counter()
        self.epoch[run] = log.epoch
        if log.best:
            self.best[run] = log.epoch

    def on_finished(self, run: str, trained: bool) -> None:
        """A run is over: trained (its epochs count) or skipped (already done: it never was work)."""
        if not trained:
            self.limits.pop(run, None)
            return
        if run in self.limits:
            self.stopped[run] = self.epoch.get(run, 0)

    def _expected_stop(self, run: str, typical: float | None) -> float:
        most, patience = self.limits[run]
        if run not in self.epoch:
            return min(most, typical) if typical is not None else most
        lowest = min(most, max(self.best.get(run, self.epoch[run]) + patience, 2 * self.epoch[run]))
        if typical is None:
            return math.sqrt(lowest * most) if patience else most
        return min(most, max(lowest, typical))

    def left(self) -> tuple[float, float] | None:
        """(expected, at most) member-epochs still to train; None before the first epoch."""
        if not self.done:
            return None
        stops = list(self.stopped.values())
        running = [r for r in self.epoch if r not in self.stopped]
        if not stops and running:  # nothing finished yet: runs not started will run as long as these
            stops = [self._expected_stop(r, None) for r in running]
        typical = sum(stops) / len(stops) if stops else None
        unfinished = [r for r in self.limits if r not in self.stopped]
        expected = sum(self._expected_stop(r, typical) - self.epoch.get(r, 0) for r in unfinished)
        most = sum(self.limits[r][0] - self.epoch.get(r, 0) for r in unfinished)
        return expected, most

    @property
    def total(self) -> float:
        """The bar's length: epochs trained plus those expected."""
        left = self.left()
        return self.done + (left[0] if left else sum(m for m, _ in self.limits.values()))

    def estimate(self) -> str:
        """``"left ~0:21 (at most 1:10)"``, or ``"left ?"`` before the second epoch (the first one's time holds
        loading the data)."""
        left = self.left()
        if left is None or self.done < 2:
            return "left ?"
        per_epoch = (time.perf_counter() - (self.first or self.start)) / (self.done - 1)
        expected, most = left
        return f"left ~{clock(expected * per_epoch)} (at most {clock(most * per_epoch)})"


class EpochProgressLines:
    """Plain lines for a log: one when the sweep's trained epochs pass each tenth of those expected (and at the
    first epoch), with elapsed time and the estimate left."""

    def __init__(self, console: Console, budget: EpochBudget, parts: int = 10):
        self.console, self.budget, self.parts = console, budget, parts
        self.next = 0.0

    def __call__(self) -> None:
        budget = self.budget
        if budget.done < self.next:
            return
        total = budget.total
        self.next = budget.done + max(1.0, total / self.parts)
        elapsed = clock(time.perf_counter() - budget.start)
        self.console.print(
            f"epochs {budget.done}/~{round(total)}  elapsed {elapsed}, {budget.estimate()}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
