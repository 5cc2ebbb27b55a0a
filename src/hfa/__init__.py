"""hfa: train binary classifiers on imbalanced data with losses that optimise the reported metric.

``import hfa`` stays light: the API below is imported on first use (PEP 562), so ``hfa.__version__`` or the
command line's ``--help`` never load torch or scikit-learn.

    hfa.train, hfa.sweep, hfa.tune, hfa.report, hfa.load_run, hfa.resolve_config   (hfa.api)
    hfa.HfaClassifier                                                     (hfa.estimator)

``hfa.sweep``, ``hfa.tune`` and ``hfa.report`` name the functions; their modules are imported by name as usual.
"""

from __future__ import annotations

import os
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# MKL (torch's matrix products and its exp, log, tanh, sqrt on CPU) picks its kernels by the CPU it finds, so an
# AMD and an Intel CPU, or an AVX2 and an AVX-512 one, round differently. Its AVX2 branch runs on every x86 CPU
# with AVX2 and gives the same bits on all of them; STRICT also makes a row's product independent of its position
# and of how many rows come with it (without it, reordering an estimator's rows moved a logit by one ulp). MKL reads
# this at its first call, not when torch is imported, so setting it here holds for the CLI, for sweep workers (they
# inherit it) and for a notebook that imported torch first but has not computed with it yet. A user's value is kept.
os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")

_LAZY = {
    "train": "hfa.api",
    "sweep": "hfa.api",
    "report": "hfa.api",
    "load_run": "hfa.api",
    "resolve_config": "hfa.api",
    "tune": "hfa.api",
    "Predictor": "hfa.api",
    "HfaClassifier": "hfa.estimator",
}

__all__ = [
    "HfaClassifier",
    "Predictor",
    "__version__",
    "load_run",
    "report",
    "resolve_config",
    "sweep",
    "train",
    "tune",
]

if TYPE_CHECKING:
    from hfa.api import Predictor, load_run, report, resolve_config, sweep, train, tune
    from hfa.estimator import HfaClassifier


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hfa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """Keeps ``hfa.sweep`` and ``hfa.report`` the API functions once their same-named modules are imported.

    Importing a submodule sets it as an attribute of its package; that would replace the function a notebook
    calls. The modules stay importable by name (``from hfa.sweep import execute``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
