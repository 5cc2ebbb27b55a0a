"""Shared pieces of the benchmarks: settings, the result row, timing, peak memory, environment facts."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings:
    device: torch.device
    quick: bool
    threads: int | None = None
    matmul_flops: float | None = None
    """The device's measured float32 matmul throughput (FLOP/s, :func:`matmul_throughput`), if measured."""
    matmul_flops_one_thread: float | None = None
    """The same on one CPU thread, what hfa trains on (``runs.one_thread``): issue 24's rates are set against it."""
    clock: str = "wall"
    """How issue 24's cases time a side: ``wall`` seconds, or ``cpu`` seconds (user + system) where other work on a
    shared machine stretches wall times unevenly."""

    def elapsed(self) -> float:
        """A reading of this run's clock (differences are the seconds a case reports)."""
        return time.perf_counter() if self.clock == "wall" else time.process_time()

    @property
    def repeats(self) -> int:
        return 3 if self.quick else 5


@dataclass
class Row:
    """One line of the results table; ``ratio`` is explained per case in ``benchmarks/README.md``."""

    case: str
    size: str
    hfa: str
    baseline: str
    ratio: float
    target: str
    met: bool | None
    hfa_value: float
    baseline_value: float | None
    unit: str
    note: str = ""
    repeats: int = 1
    extra: dict[str, float] = field(default_factory=dict)


def seconds_row(
    case: str, size: str, hfa_s: float, peer_s: float, target: float | None, unit: str, note: str, repeats: int = 1
) -> Row:
    """A row comparing two wall times (lower is better): the ratio is the peer's time over hfa's; no target: a
    reference row."""
    ratio = peer_s / hfa_s
    return Row(
        case=case,
        size=size,
        hfa=f"{hfa_s:.2f} s",
        baseline=f"{peer_s:.2f} s",
        ratio=ratio,
        target="reference" if target is None else f">= {target:g}x",
        met=None if target is None else ratio >= target,
        hfa_value=hfa_s,
        baseline_value=peer_s,
        unit=unit,
        repeats=repeats,
        note=note,
    )


def rate_row(case: str, size: str, hfa_rate: float, baseline_rate: float, unit: str, target: float, **rest) -> Row:
    """A row comparing two rates (higher is better): the ratio is hfa's rate over the baseline's."""
    short = {"training rows per second": "rows/s", "runs per minute": "runs/min"}.get(unit, unit)
    ratio = hfa_rate / baseline_rate
    return Row(
        case=case,
        size=size,
        hfa=fmt_rate(hfa_rate, short),
        baseline=fmt_rate(baseline_rate, short),
        ratio=ratio,
        target=f">= {target:g}x",
        met=ratio >= target,
        hfa_value=hfa_rate,
        baseline_value=baseline_rate,
        unit=unit,
        **rest,
    )


# --------------------------------------------------------------------------------------------------------------
# Timing


def sync(device: torch.device) -> None:
    """Wait for queued device work; without it a CUDA timing measures only the kernel launches."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], object], device: torch.device, clock: Callable[[], float] = time.perf_counter) -> float:
    sync(device)
    start = clock()
    fn()
    sync(device)
    return clock() - start


def calls_for(fn: Callable[[], object], device: torch.device, budget_s: float) -> int:
    """How many back-to-back calls fill ``budget_s``, so a sub-millisecond call is timed above clock noise."""
    one = max(timed(fn, device), 1e-6)
    return max(1, int(budget_s / one))


def compare(
    candidates: dict[str, Callable[[], object]],
    device: torch.device,
    repeats: int,
    warmup: int = 1,
    calls: dict[str, int] | None = None,
) -> dict[str, float]:
    """Median seconds per call of each candidate.

    Candidates are interleaved repetition by repetition (A B A B ...), so a burst of load from another process on a
    shared machine lands on both sides instead of on whichever happened to run during it.
    """
    calls = calls or dict.fromkeys(candidates, 1)

    def block(name: str) -> float:
        fn, k = candidates[name], calls[name]

        def many() -> None:
            for _ in range(k):
                fn()

        return timed(many, device) / k

    for _ in range(warmup):
        for name in candidates:
            block(name)
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name in candidates:
            samples[name].append(block(name))
    return {name: statistics.median(values) for name, values in samples.items()}


def matmul_throughput(
    device: torch.device, seconds: float = 1.0, clock: str = "wall", threads: int | None = None
) -> float:
    """Median float32 FLOP/s of square matrix products on ``device``: the arithmetic limit each case is set against.

    4096 x 4096 products (1024 x 1024 on CPU, where one takes ~10-50 ms): large enough that the product runs at the BLAS
    library's full rate, small enough to repeat for ``seconds``.
    """
    if threads is not None:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return matmul_throughput(device, seconds, clock)
        finally:
            torch.set_num_threads(before)
    n = 1024 if device.type == "cpu" else 4096
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    # --clock cpu: this process's CPU seconds (on CPU only: a GPU's time is not this process's CPU time).
    timer = time.process_time if clock == "cpu" and device.type == "cpu" else time.perf_counter
    one = max(timed(lambda: a @ b, device, timer), 1e-6)  # also the warm-up
    calls = max(1, int(seconds / 5 / one))
    samples = [timed(lambda: [a @ b for _ in range(calls)], device, timer) / calls for _ in range(5)]
    return 2 * n**3 / statistics.median(samples)


def fmt_flops(value: float) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}FLOP"
    return f"{value:.3g} FLOP"


# --------------------------------------------------------------------------------------------------------------
# Peak memory (used in a fresh process per measurement, so earlier work cannot have raised the peak)


def _status_kib(field_name: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field_name}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def current_rss() -> int:
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    return peak_rss()


def peak_rss() -> int:
    """Peak resident memory of this process in bytes.

    VmHWM counts every page the process touched, torch's allocator included (tracemalloc sees only Python's
    allocations). Off Linux, ``ru_maxrss`` is the same number (bytes on macOS, KiB elsewhere).
    """
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reset_peak_rss() -> bool:
    """Lower the peak to the current RSS (Linux only); False where the peak cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run_child(script: str, args: list[str], timeout: float) -> dict:
    """Run ``benchmarks/<script> args`` in a fresh interpreter; it prints one JSON object as its last line."""
    completed = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{script} {' '.join(args)} failed: " + " | ".join(tail))
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------------------
# Devices and environment


def pick_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: CUDA is not available here; use --device auto or cpu")
    return torch.device(spec)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def environment(settings: Settings) -> dict[str, object]:
    """What a results row needs to be compared with another machine's."""
    import hfa

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {
        "device": settings.device.type,
        "device_name": device_name(settings.device),
        "torch_version": torch.__version__,
        "hfa_version": hfa.__version__,
        "python_version": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(load, 2),
        "quick": settings.quick,
        "clock": settings.clock,
    }


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(value: float, unit: str) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M {unit}"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k {unit}"
    return f"{value:.1f} {unit}"


def fmt_count(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"
