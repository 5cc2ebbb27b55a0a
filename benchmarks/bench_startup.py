"""Case 0: wall time of ``hfa --help``, ``hfa losses`` and ``hfa datasets``, each a fresh process.

    python benchmarks/bench_startup.py [--repeats N] [--importtime]

Each command runs ``N`` times as a subprocess (the median is reported, as hyperfine would), interleaved with two
floors: a bare interpreter (``python -c pass``) and a minimal Typer app of one command printing its ``--help``
(what any Typer command line pays: Typer builds its help with Rich and checks parameters with pydantic).
``--importtime`` also prints the slowest imports of each command (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import Row, Settings, fmt_seconds

TARGET_S = 0.5
COMMANDS = (["--help"], ["losses"], ["datasets"])
_HFA = "from hfa.cli import main; main()"
_TYPER_FLOOR = """
import typer
app = typer.Typer(rich_markup_mode="rich", add_completion=False)
@app.command()
def one(x: int = typer.Option(1, help="a number")) -> None:
    "A command."
@app.command()
def two() -> None:
    "Another."
app()
"""


def _command(args: list[str]) -> list[str]:
    # The console script where it is installed next to this interpreter (what a user runs), else the same call.
    script = Path(sys.executable).with_name("hfa")
    return [str(script), *args] if script.exists() else [sys.executable, "-c", _HFA, *args]


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=120)
    return time.perf_counter() - start


def measure(repeats: int) -> dict[str, float]:
    """Median seconds of each command and of the two floors, interleaved run by run."""
    candidates = {" ".join(["hfa", *args]): _command(args) for args in COMMANDS}
    candidates["python -c pass"] = [sys.executable, "-c", "pass"]
    candidates["minimal Typer app --help"] = [sys.executable, "-c", _TYPER_FLOOR, "--help"]
    for argv in candidates.values():  # warm the file cache: the first start reads every module from disk
        _wall(argv)
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, argv in candidates.items():
            samples[name].append(_wall(argv))
    return {name: statistics.median(values) for name, values in samples.items()}


def slowest_imports(args: list[str], top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` imports with the largest cumulative time, outermost first, for one command."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _HFA, *args], capture_output=True, text=True, timeout=120
    )
    found = []
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, module = line.removeprefix("import time:").split("|")
        if not module.startswith("  "):  # an import made by the program itself, not by another module
            found.append((module.strip(), int(cumulative_us) / 1e6))
    return sorted(found, key=lambda item: -item[1])[:top]


def run(settings: Settings) -> list[Row]:
    repeats = 5 if settings.quick else 10
    seconds = measure(repeats)
    bare, typer_floor = seconds["python -c pass"], seconds["minimal Typer app --help"]
    rows = []
    for args in COMMANDS:
        name = " ".join(["hfa", *args])
        rows.append(
            Row(
                case="startup",
                size=name,
                hfa=fmt_seconds(seconds[name]),
                baseline=f"{TARGET_S:g} s",
                ratio=TARGET_S / seconds[name],
                target=f"< {TARGET_S:g} s",
                met=seconds[name] < TARGET_S,
                hfa_value=seconds[name],
                baseline_value=TARGET_S,
                unit="s wall, fresh process",
                repeats=repeats,
                note=f"ratio = {TARGET_S:g} s / time; floors: python -c pass {fmt_seconds(bare)}, "
                f"a minimal Typer app's --help {fmt_seconds(typer_floor)}",
                extra={"python_floor_s": bare, "typer_floor_s": typer_floor},
            )
        )
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--importtime", action="store_true", help="also print each command's slowest imports")
    args = parser.parse_args(argv)
    seconds = measure(args.repeats)
    width = max(map(len, seconds))
    print(f"median of {args.repeats} runs each (target: hfa commands under {TARGET_S:g} s)")
    for name, value in seconds.items():
        verdict = ("met" if value < TARGET_S else "NOT met") if name.startswith("hfa") else "floor"
        print(f"  {name:<{width}}  {value * 1e3:7.0f} ms  {verdict}")
    if args.importtime:
        for command in COMMANDS:
            imports = ", ".join(f"{module} {s * 1e3:.0f} ms" for module, s in slowest_imports(command))
            print(f"  slowest imports of hfa {' '.join(command)}: {imports}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
