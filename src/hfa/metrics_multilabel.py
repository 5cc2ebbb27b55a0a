"""A multi-label run's metrics table: one row per label, split and rule, plus ``macro`` and ``micro`` rows.

Labels ``(n, L)`` in {0, 1} and probabilities ``(n, L)``. Each label is scored as a single-label run is
(:func:`hfa.metrics.metrics_at_thresholds`, scikit-learn-checked), at

- ``fixed``: ``eval.threshold`` for every label;
- ``tuned``: one threshold per label, each chosen on the validation split by :func:`hfa.metrics.tune_threshold`
  (the label rows carry their own threshold; ``macro``/``micro`` rows leave ``threshold`` empty);
- ``mean``: the mean over the authors' thresholds 0.1..0.9, as in single-label runs.

``macro`` is the mean over labels of every per-label column (counts included), so its precision, recall, F1,
ROC AUC and average precision are scikit-learn's ``average="macro"`` (a label's undefined precision, recall or F1
counts as 0 there, scikit-learn's ``zero_division=0``; other undefined rates are left out of the mean).
``micro`` scores the counts summed over labels (its ROC AUC and average precision: all labels' scores pooled),
scikit-learn's ``average="micro"``; its accuracy is ``1 - hamming_loss``. ``hamming_loss`` (the share of wrong
label decisions) and ``subset_accuracy`` (the share of rows with every label right) describe all labels at once,
so they fill the ``macro`` and ``micro`` rows and are empty on label rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from hfa.errors import HfaError
from hfa.metrics import (
    AUTHORS_THRESHOLDS,
    COUNT_COLUMNS,
    METRIC_COLUMNS,
    _ranking_scores,
    _rates,
    fbeta_of,
    metric_columns,
    metrics_at_thresholds,
    tune_threshold,
    tuned_rules,
)

__all__ = ["AGGREGATES", "MULTILABEL_COLUMNS", "evaluate_multilabel", "subset_accuracy"]

AGGREGATES = ("macro", "micro")


def zero_in_macro(column: str) -> bool:
    """Whether the macro average counts a label's undefined ``column`` as 0: precision, recall and every F-beta.

    A label's precision is undefined without predicted positives (its row says so), but scikit-learn's macro
    average, which papers report, counts it as 0 (``zero_division=0``); leaving it out would reward a loss for
    never predicting a rare label. Other undefined rates are left out of the macro mean.
    """
    return column in ("precision", "recall") or fbeta_of(column) is not None


SET_COLUMNS = ["hamming_loss", "subset_accuracy"]
MULTILABEL_COLUMNS = ["split", "rule", "label", "threshold", *METRIC_COLUMNS, *SET_COLUMNS]


def _matrices(y_true: ArrayLike, y_prob: ArrayLike, n_labels: int, split: str) -> tuple[NDArray, NDArray]:
    y, p = np.asarray(y_true), np.asarray(y_prob, dtype=np.float64)
    if y.ndim != 2 or y.shape != p.shape or y.shape[1] != n_labels:
        raise HfaError(
            f"split {split!r}: labels and probabilities must both have shape (n, {n_labels}); "
            f"got {y.shape} and {p.shape}"
        )
    return y.astype(np.int64), p


def subset_accuracy(y: NDArray, p: NDArray, thresholds: NDArray) -> NDArray[np.float64]:
    """Share of rows whose every label is right, for each row of ``thresholds`` ``(K, L)``: shape ``(K,)``."""
    predicted = p[None, :, :] >= thresholds[:, None, :]
    return (predicted == (y[None, :, :] == 1)).all(axis=2).mean(axis=1)


def _split_rows(
    split: str,
    y: NDArray,
    p: NDArray,
    labels: Sequence[str],
    thresholds: NDArray,
    betas: Sequence[float],
    rules: Sequence[tuple[str, slice]],
) -> list[dict[str, Any]]:
    """The rows of one split; ``thresholds`` is ``(L, K)`` per label, ``rules`` says which of its columns make
    each rule (one column, or the mean grid for ``mean``)."""
    names = metric_columns(betas)
    tables = [metrics_at_thresholds(y[:, j], p[:, j], thresholds[j], betas=betas) for j in range(len(labels))]
    counts = tuple(np.stack([t[c].to_numpy(np.int64) for t in tables]).sum(0) for c in COUNT_COLUMNS)
    micro = pd.DataFrame({**dict(zip(COUNT_COLUMNS, counts, strict=True)), **_rates(counts, names)})
    micro["roc_auc"], micro["average_precision"] = _ranking_scores(y.ravel(), p.ravel())
    sets = pd.DataFrame(
        {
            "hamming_loss": (counts[1] + counts[2]) / y.size,  # (fp + fn) over every label decision
            "subset_accuracy": subset_accuracy(y, p, thresholds.T),
        }
    )
    rows: list[dict[str, Any]] = []
    for rule, at in rules:
        # skipna=False, as in single-label runs: a rate undefined at any threshold of the grid has no mean.
        per_label = pd.DataFrame([t.iloc[at][names].mean(axis=0, skipna=False) for t in tables])
        shown = float(thresholds[0, 0]) if rule == "fixed" else float("nan")
        for j, label in enumerate(labels):
            threshold = float(thresholds[j, at.start]) if rule != "mean" else float("nan")
            rows.append({"split": split, "rule": rule, "label": label, "threshold": threshold, **per_label.iloc[j]})
        both = sets.iloc[at].mean(axis=0).to_dict()
        zero = {c: 0.0 for c in per_label.columns if zero_in_macro(c)}
        macro = per_label.fillna(zero).mean(axis=0)
        rows.append({"split": split, "rule": rule, "label": "macro", "threshold": shown, **macro, **both})
        rows.append(
            {"split": split, "rule": rule, "label": "micro", "threshold": shown, **micro.iloc[at].mean(axis=0), **both}
        )
    return rows


def evaluate_multilabel(
    splits: Mapping[str, tuple[ArrayLike, ArrayLike]],
    labels: Sequence[str],
    threshold: float = 0.5,
    tune_metric: str = "f1",
    beta: float = 1.0,
    mean_thresholds: Sequence[float] = AUTHORS_THRESHOLDS,
    tune_betas: Sequence[float] = (),
    betas: Sequence[float] = (1.0,),
) -> pd.DataFrame:
    """The metrics table of a multi-label run (columns :data:`MULTILABEL_COLUMNS`, with an ``f<beta>`` column for
    every other beta of ``betas``, as :func:`hfa.metrics.evaluate`); see the module docstring.

    For each split (in mapping order) and rule (``fixed``, ``tuned``, ``tuned_f<beta>`` for each of
    ``tune_betas``, ``mean``): one row per label in ``labels``
    order, then ``macro``, then ``micro``. ``splits`` maps a split name to ``(labels (n, L), probabilities (n, L))``
    and must include ``val``, on which each label's threshold is tuned.

    Raises:
        HfaError (a ValueError): no ``val`` split, arrays not of shape ``(n, L)``, and the errors of
            :func:`hfa.metrics.evaluate`'s checks (labels outside {0, 1}, probabilities outside [0, 1], ...).
    """
    labels = [str(label) for label in labels]
    clash = [name for name in AGGREGATES if name in labels]
    if clash:
        raise HfaError(f"a label may not be called {clash[0]!r}: that row holds the average over labels")
    if "val" not in splits:
        raise HfaError(f"splits must include 'val' to tune the thresholds on; got {', '.join(map(str, splits))}")
    if not (np.isfinite(threshold) and 0 < threshold < 1):
        raise HfaError(f"threshold must be one number in (0, 1), got {threshold!r}")
    data = {split: _matrices(*pair, len(labels), split) for split, pair in splits.items()}
    y_val, p_val = data["val"]
    extra = tuned_rules(tune_betas)
    tuned = [[tune_threshold(y_val[:, j], p_val[:, j], metric=tune_metric, beta=beta) for j in range(len(labels))]]
    for b in extra.values():
        tuned.append([tune_threshold(y_val[:, j], p_val[:, j], metric="fbeta", beta=b) for j in range(len(labels))])
    grid = np.asarray(mean_thresholds, dtype=np.float64)
    thresholds = np.column_stack(
        [np.full(len(labels), float(threshold)), *tuned, np.tile(grid, (len(labels), 1))]
    ).astype(np.float64)
    rules = [("fixed", slice(0, 1))] + [(rule, slice(i, i + 1)) for i, rule in enumerate(["tuned", *extra], start=1)]
    rules.append(("mean", slice(1 + len(tuned), None)))
    rows = [row for split, (y, p) in data.items() for row in _split_rows(split, y, p, labels, thresholds, betas, rules)]
    names = metric_columns(betas)
    frame = pd.DataFrame(rows, columns=["split", "rule", "label", "threshold", *names, *SET_COLUMNS])
    return frame.astype({column: np.float64 for column in ["threshold", *names, *SET_COLUMNS]})
