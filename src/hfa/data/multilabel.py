"""Multi-label data: several binary label columns per row, one model output per label.

``data.target`` as a list of columns (or a multi-label named set such as ``mulan/yeast``) -> a label matrix
``Y`` of shape ``(n, L)`` in {0, 1}, split by iterative stratification (Sechidis et al., through the
``iterative-stratification`` package) so every label keeps its share of positives in train, validation and test.

``data.imbalance_ratio`` is refused for multi-label data: subsampling a row changes every label at once, so no
choice of rows gives each label a chosen ratio, and one ratio for all labels would mean something different per
label. The per-label ratios of every split are recorded instead (``Splits.info["splits"]``).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hfa.data.labels import binarize
from hfa.errors import HfaError

MULAN_SETS: dict[str, tuple[str, str]] = {"yeast": ("river", "datasets/yeast.csv.gz")}
"""``mulan/<name>`` -> (the package whose wheel ships the table, the file inside it)."""
EXTRA = "pip install 'hfa[multilabel]'"
LABEL_PREFIX = "Class"  # the MULAN tables name their label columns Class1..ClassL, after the features


def _package_file(package: str, relative: str) -> Path:
    # find_spec locates the package without importing it: river's own import is slow and not needed to read a file.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise HfaError(f"data.name=mulan/... is read from the {package!r} package, which is not installed; {EXTRA}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise HfaError(f"the installed {package!r} package has no {relative}; reinstall it with {EXTRA}")
    return path


@cache
def mulan_dataset(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and label columns of the MULAN set ``name``, read offline from the package that ships it."""
    if name not in MULAN_SETS:
        raise HfaError(
            f"unknown multi-label data set 'mulan/{name}' in data.name; allowed: "
            + ", ".join(f"mulan/{n}" for n in MULAN_SETS)
        )
    table = pd.read_csv(_package_file(*MULAN_SETS[name]))
    labels = [c for c in table.columns if str(c).startswith(LABEL_PREFIX)]
    return table.drop(columns=labels), table[labels]


def positive_for(positive: Any, column: str, targets: Sequence[str]) -> Any:
    """``data.positive`` for one target column: the value given for all, or the mapping's entry (None: inferred)."""
    if not isinstance(positive, Mapping):
        return positive
    unknown = [key for key in positive if key not in targets]
    if unknown:
        raise HfaError(
            f"data.positive names {unknown[0]!r}, which is not a target column; allowed keys: {', '.join(targets)}"
        )
    return positive.get(column)


def binarize_targets(labels: pd.DataFrame, positive: Any, what: str) -> np.ndarray:
    """Label columns -> ``(n, L)`` int8 in {0, 1}; every column must hold exactly two values."""
    columns = [str(c) for c in labels.columns]
    matrix = []
    for column in columns:
        values = labels[column]
        distinct = values.dropna().unique()
        if len(distinct) > 2:
            raise HfaError(
                f"target column {column!r} of {what} has {len(distinct)} values; every column of a multi-label "
                "target must be binary (two values)"
            )
        matrix.append(binarize(values, positive_for(positive, column, columns), what=f"column {column!r} of {what}"))
    return np.stack(matrix, axis=1)


def multilabel_split(y: np.ndarray, test_size: float, val_size: float, seed: int) -> dict[str, np.ndarray]:
    """Sorted row positions of train/val/test by iterative stratification: test cut first, then val from the rest.

    As ``stratified_split``, ``val_size`` is a fraction of all rows, rescaled for the second cut, and each cut
    takes exactly scikit-learn's ``ceil(size * rows)`` rows (see :func:`exact_size`).
    """
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    def cut(rows: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        keep, take = next(splitter.split(np.zeros((len(rows), 1)), y[rows]))
        keep, take = exact_size(y[rows], keep, take, math.ceil(size * len(rows)))
        return rows[keep], rows[take]

    rest, test = cut(np.arange(len(y)), test_size)
    train, val = cut(rest, val_size / (1 - test_size))
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def exact_size(y: np.ndarray, keep: np.ndarray, take: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
    """``keep``/``take`` with rows moved between them until ``take`` holds ``wanted`` rows.

    Iterative stratification keeps each label's share but lets the split sizes drift (on mulan/yeast by up to
    ~20 rows of 484 between seeds), and runs stack only when their splits have equal shapes: with exact sizes every
    seed of a sweep trains in one stack. Each move takes the row whose labels its side holds most in excess of
    their share, and the other side most short of it (ties: the lowest position), so the shares stay kept.
    """
    keep, take = list(keep), list(take)
    share = wanted / len(y)
    totals = y.sum(axis=0)
    while len(take) != wanted:
        source, target, source_share = (take, keep, share) if len(take) > wanted else (keep, take, 1 - share)
        excess_source = y[source].sum(axis=0) - source_share * totals
        excess_target = y[target].sum(axis=0) - (1 - source_share) * totals
        benefit = y[source] @ (excess_source - excess_target)
        target.append(source.pop(int(np.argmax(benefit))))
    return np.sort(keep), np.sort(take)


def label_counts(y: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per label: positives, negatives and ratio (negatives per positive) of the rows ``y`` (``(n, L)``)."""
    positives = y.sum(axis=0).astype(int)
    counts = {}
    for label, pos in zip(labels, positives.tolist(), strict=True):
        neg = len(y) - pos
        counts[label] = {"positives": pos, "negatives": neg, "ratio": neg / pos if pos else None}
    return counts


def check_splits(y: np.ndarray, parts: Mapping[str, np.ndarray], labels: Sequence[str], name: str, least: int) -> None:
    """An HfaError naming the first label with fewer than ``least`` positives (or negatives) in some split."""
    for split, rows in parts.items():
        positives = y[rows].sum(axis=0)
        for j, label in enumerate(labels):
            pos, neg = int(positives[j]), int(len(rows) - positives[j])
            if min(pos, neg) < least:
                kind, have = ("positives", pos) if pos <= neg else ("negatives", neg)
                total = int(y[:, j].sum()) if kind == "positives" else int(len(y) - y[:, j].sum())
                raise HfaError(
                    f"label {label!r} of {name} has {have} {kind} in the {split} split (at least {least} needed "
                    f"per split; {total} in all): move it from data.target to data.drop (left in neither, it becomes a "
                    "feature) or change data.val_size/data.test_size"
                )


def refuse_ratio(ratio: float | None, name: str, n_labels: int) -> None:
    if ratio is not None:
        raise HfaError(
            f"data.imbalance_ratio={ratio:g} applies to single-label data; {name} has {n_labels} labels, whose "
            "ratios one subsample cannot set at once: use data.imbalance_ratio=null (per-label ratios go in run.json)"
        )
