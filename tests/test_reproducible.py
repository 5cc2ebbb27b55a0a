"""A run's bits do not depend on which x86 CPU computes them (given AVX2): each setting below makes torch and MKL
take the code paths of a different CPU on this one, and a small stack trained under each must write the same
files, byte for byte.

``ATEN_CPU_CAPABILITY`` picks torch's own vector kernels (sigmoid, log1p, Adam's addcmul, randn); ``avx2`` and
``avx512`` are what AMD and Intel CPUs get. ``MKL_ENABLE_INSTRUCTIONS`` caps the instruction set MKL's own CPU
dispatch may use (its matrix products and exp, log, tanh): ``AVX2`` is what an AVX2-only CPU (an AMD EPYC before
Zen 4, an Intel before Skylake-SP) gets, and is what MKL chose on the AMD machine whose re-run moved the F1-loss
cells. hfa pins MKL's AVX2 branch (``MKL_CBWR``, set in ``hfa/__init__.py``); the last test shows the pin is what
makes the difference.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# One sweep: stacks of four runs (BCE and the F1 loss, two seeds) on small blobs, a few epochs with dropout, so
# every kernel a run uses (products, exp, the binned soft counts, Adam, dropout draws, the evaluation's
# probabilities) reaches the files. Two data sizes: their splits end at different places of a 16- and a 32-lane
# vector, where a kernel's scalar tail would round some rows differently on AVX2 than on AVX-512.
SCRIPT = """
import hashlib, sys
from pathlib import Path
import hfa
out = Path(sys.argv[1])
hfa.sweep("configs/quickstart.yaml", ["train.epochs=4", "model.dropout=0.1"],
          grid={"loss.name": ["bce", "f1"], "data.n_samples": [3000, 3330], "data.imbalance_ratio": [5],
                "seed": [0, 1]}, out=out)
for path in sorted(out.rglob("*")):
    if path.name in ("metrics.csv", "history.csv", "model.pt", "curves.csv"):
        print(path.relative_to(out).as_posix(), hashlib.sha256(path.read_bytes()).hexdigest()[:16])
"""

CPUS = {
    "this CPU": {},
    "torch AVX2 kernels": {"ATEN_CPU_CAPABILITY": "avx2"},
    "torch AVX-512 kernels": {"ATEN_CPU_CAPABILITY": "avx512"},
    "MKL capped at AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "both at AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def _flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":")[1].split()}


def _needs(*flags: str) -> None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("x86 only: MKL and torch's AVX kernels are what this test varies")
    missing = set(flags) - _flags()
    if missing:
        pytest.skip(f"this CPU lacks {', '.join(sorted(missing))}")
    import torch

    if not torch.backends.mkl.is_available():
        pytest.skip("torch built without MKL")


def _files(tmp: Path, name: str, env: dict[str, str], keep_pin: bool = True) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MKL_", "ATEN_CPU_CAPABILITY"))}
    environ |= {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path("src").resolve()), **env}
    if not keep_pin:
        environ["MKL_CBWR"] = "AUTO"  # MKL's own choice by CPU, as before hfa pinned it
    out = tmp / hashlib.sha1(name.encode()).hexdigest()[:8]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)], env=environ, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    files = dict(line.rsplit(" ", 1) for line in done.stdout.splitlines())
    assert len(files) >= 8 * 3, done.stdout  # eight runs, each with its metrics, history and model
    return files


def test_same_bits_under_every_cpu_setting(tmp_path):
    _needs("avx2", "avx512f")
    results = {name: _files(tmp_path, name, env) for name, env in CPUS.items()}
    reference = results["this CPU"]
    for name, files in results.items():
        differ = sorted(path for path in reference if files.get(path) != reference[path])
        assert not differ, f"{name}: {len(differ)} of {len(reference)} files differ from this CPU's: {differ[:4]}"


def test_without_the_pin_mkl_paths_change_the_f1_runs(tmp_path):
    """The check above can fail: with MKL left to choose by CPU, the AVX2 cap changes the F1-loss runs' bits."""
    _needs("avx2", "avx512f")
    native = _files(tmp_path, "native", {}, keep_pin=False)
    capped = _files(tmp_path, "capped", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, keep_pin=False)
    differ = [path for path in native if capped[path] != native[path]]
    assert differ, "MKL's AVX2 and AVX-512 branches gave the same bits: this machine cannot show the difference"
