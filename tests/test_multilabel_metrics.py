"""A multi-label metrics table against scikit-learn's multi-label metrics, row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    hamming_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from hfa.errors import HfaError
from hfa.metrics import tune_threshold
from hfa.metrics_multilabel import MULTILABEL_COLUMNS, evaluate_multilabel

LABELS = ["a", "b", "c", "d"]
GRID = np.round(np.arange(1, 10) / 10, 1)


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(LABELS))) < [0.5, 0.3, 0.15, 0.08]).astype(int)
    p = np.clip(0.35 * y + rng.random((n, len(LABELS))) * 0.65, 0, 1).round(3)  # rounded: ties happen
    return y, p


@pytest.fixture(scope="module")
def table():
    splits = {"val": _data(300, 0), "test": _data(250, 1)}
    return splits, evaluate_multilabel(splits, LABELS, threshold=0.4)


def _row(frame: pd.DataFrame, split: str, rule: str, label: str) -> pd.Series:
    (index,) = np.flatnonzero((frame["split"] == split) & (frame["rule"] == rule) & (frame["label"] == label))
    return frame.iloc[index]


def _sklearn(y, predicted, p):
    return {
        "precision": precision_score(y, predicted, zero_division=0),
        "recall": recall_score(y, predicted, zero_division=0),
        "f1": f1_score(y, predicted, zero_division=0),
    }


def test_layout(table):
    _, frame = table
    assert list(frame.columns) == MULTILABEL_COLUMNS
    assert len(frame) == 2 * 3 * (len(LABELS) + 2)
    assert list(frame["label"][:6]) == [*LABELS, "macro", "micro"]


@pytest.mark.parametrize("split", ["val", "test"])
def test_fixed_rule_equals_sklearn(table, split):
    splits, frame = table
    y, p = splits[split]
    predicted = (p >= 0.4).astype(int)
    for j, label in enumerate(LABELS):
        row = _row(frame, split, "fixed", label)
        assert row["threshold"] == 0.4
        for metric, value in _sklearn(y[:, j], predicted[:, j], p[:, j]).items():
            assert row[metric] == pytest.approx(value)
        assert row["roc_auc"] == pytest.approx(roc_auc_score(y[:, j], p[:, j]))
    for average in ("macro", "micro"):
        row = _row(frame, split, "fixed", average)
        assert row["precision"] == pytest.approx(precision_score(y, predicted, average=average, zero_division=0))
        assert row["recall"] == pytest.approx(recall_score(y, predicted, average=average, zero_division=0))
        assert row["f1"] == pytest.approx(f1_score(y, predicted, average=average, zero_division=0))
        assert row["roc_auc"] == pytest.approx(roc_auc_score(y, p, average=average))
        assert row["average_precision"] == pytest.approx(average_precision_score(y, p, average=average))
        assert row["hamming_loss"] == pytest.approx(hamming_loss(y, predicted))
        assert row["subset_accuracy"] == pytest.approx(accuracy_score(y, predicted))  # exact-match ratio
    micro = _row(frame, split, "fixed", "micro")
    assert micro["accuracy"] == pytest.approx(1 - hamming_loss(y, predicted))
    assert micro["tp"] == ((predicted == 1) & (y == 1)).sum()
    assert np.isnan(_row(frame, split, "fixed", "a")["hamming_loss"])


def test_tuned_rule_tunes_one_threshold_per_label_on_validation(table):
    splits, frame = table
    y_val, p_val = splits["val"]
    chosen = np.array([tune_threshold(y_val[:, j], p_val[:, j]) for j in range(len(LABELS))])
    assert len(set(chosen.tolist())) > 1  # the labels really get their own thresholds
    y, p = splits["test"]
    predicted = (p >= chosen).astype(int)
    for j, label in enumerate(LABELS):
        row = _row(frame, "test", "tuned", label)
        assert row["threshold"] == chosen[j]
        assert row["f1"] == pytest.approx(f1_score(y[:, j], predicted[:, j], zero_division=0))
    for average in ("macro", "micro"):
        row = _row(frame, "test", "tuned", average)
        assert np.isnan(row["threshold"])
        assert row["f1"] == pytest.approx(f1_score(y, predicted, average=average, zero_division=0))
        assert row["hamming_loss"] == pytest.approx(hamming_loss(y, predicted))
        assert row["subset_accuracy"] == pytest.approx(accuracy_score(y, predicted))


def test_mean_rule_averages_over_the_authors_grid(table):
    splits, frame = table
    y, p = splits["test"]
    per_grid = [(p >= t).astype(int) for t in GRID]
    for average in ("macro", "micro"):
        row = _row(frame, "test", "mean", average)
        expected = np.mean([f1_score(y, q, average=average, zero_division=0) for q in per_grid])
        assert row["f1"] == pytest.approx(expected)
        assert row["hamming_loss"] == pytest.approx(np.mean([hamming_loss(y, q) for q in per_grid]))
        assert row["subset_accuracy"] == pytest.approx(np.mean([accuracy_score(y, q) for q in per_grid]))
    row = _row(frame, "test", "mean", "c")
    assert row["recall"] == pytest.approx(np.mean([recall_score(y[:, 2], q[:, 2], zero_division=0) for q in per_grid]))


def test_bad_input():
    y, p = _data(50, 0)
    with pytest.raises(HfaError, match=r"shape \(n, 4\)"):
        evaluate_multilabel({"val": (y[:, :3], p[:, :3])}, LABELS)
    with pytest.raises(HfaError, match="include 'val'"):
        evaluate_multilabel({"test": (y, p)}, LABELS)
    with pytest.raises(HfaError, match="may not be called 'macro'"):
        evaluate_multilabel({"val": (y, p)}, ["a", "b", "c", "macro"])


def test_macro_counts_an_undefined_precision_as_zero_as_scikit_learn_does():
    rng = np.random.default_rng(5)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    p = rng.random((200, 3))
    p[:, 1] *= 0.4  # label b: no score reaches 0.5, no predicted positives at the fixed threshold
    table = evaluate_multilabel({"val": (y, p), "test": (y, p)}, ["a", "b", "c"])
    fixed = table[(table["split"] == "test") & (table["rule"] == "fixed")].set_index("label")
    assert np.isnan(fixed.loc["b", "precision"])  # the label row says undefined
    predicted = (p >= 0.5).astype(int)
    for metric, score in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        expected = score(y, predicted, average="macro", zero_division=0)
        assert fixed.loc["macro", metric] == pytest.approx(expected)
