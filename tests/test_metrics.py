"""hfa.metrics against scikit-learn (the independent reference) and hand-worked cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    fbeta_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from hfa.errors import HfaError
from hfa.metrics import (
    TUNE_METRICS,
    collapsed,
    count_metric,
    curve_points,
    evaluate,
    fbeta_column,
    is_count_metric,
    metric_columns,
    metrics_at_thresholds,
    probability_scores,
    tune_threshold,
)

AUTHORS_GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
BETA = 2.0
METRIC_COLUMNS = metric_columns((1.0, BETA))
NAN = float("nan")


def _sample(seed: int, n: int = 300, pos_rate: float = 0.1, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced labels with informative scores; ``ties`` rounds the scores so many samples share one."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < pos_rate).astype(int)
    y[0] = 1  # at least one of each class, so every sklearn reference is defined
    y[1] = 0
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0.0, 1.0)
    if ties:
        p = np.round(p, 1)
    return y, p


def _sklearn_ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE from scikit-learn's calibration_curve (uniform bins) weighted by the bins' sizes."""
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    edges = np.linspace(0, 1, bins + 1)
    sizes = np.bincount(np.searchsorted(edges[1:-1], p), minlength=bins)
    sizes = sizes[sizes > 0]
    return float(np.sum(sizes / y.size * np.abs(prob_true - prob_pred)))


def _sklearn_row(y: np.ndarray, p: np.ndarray, t: float, beta: float) -> dict[str, float]:
    """The reference: one threshold through scikit-learn, looped in the test on purpose.

    ``zero_division=nan``: where scikit-learn calls a rate ill-defined, hfa must say undefined (NaN) too.
    """
    pred = (p >= t).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", UserWarning)  # balanced accuracy with a class absent from y_true
        recall = recall_score(y, pred, zero_division=NAN)
        specificity = recall_score(y, pred, pos_label=0, zero_division=NAN)
        # scikit-learn's MCC is 0 where it is undefined (an empty row or column); hfa says undefined.
        mcc = matthews_corrcoef(y, pred) if min(tp + fp, tp + fn, tn + fp, tn + fn) > 0 else NAN
        return {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "precision": precision_score(y, pred, zero_division=NAN),
            "recall": recall,
            "specificity": specificity,
            "f1": f1_score(y, pred, zero_division=NAN),
            fbeta_column(beta): fbeta_score(y, pred, beta=beta, zero_division=NAN),
            "accuracy": accuracy_score(y, pred),
            "balanced_accuracy": balanced_accuracy_score(y, pred),
            "g_mean": float(np.sqrt(recall * specificity)),  # imbalanced-learn's binary geometric_mean_score
            "mcc": mcc,
            "roc_auc": roc_auc_score(y, p),
            "average_precision": average_precision_score(y, p),
            "brier": brier_score_loss(y, p),
            "ece": _sklearn_ece(y, p),
        }


SKLEARN_TUNE_METRICS = {
    "f1": lambda y, pred, beta: f1_score(y, pred, zero_division=0),
    "fbeta": lambda y, pred, beta: fbeta_score(y, pred, beta=beta, zero_division=0),
    "mcc": lambda y, pred, beta: matthews_corrcoef(y, pred),
    "balanced_accuracy": lambda y, pred, beta: balanced_accuracy_score(y, pred),
    "accuracy": lambda y, pred, beta: accuracy_score(y, pred),
}


def _sklearn_metric(y: np.ndarray, p: np.ndarray, t: float, metric: str, beta: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # UndefinedMetricWarning is one
        return float(SKLEARN_TUNE_METRICS[metric](y, (p >= t).astype(int), beta))


# 0.0 and below predict everything positive, 1.0+ nothing positive at these scores: the zero_division cases.
EDGE_THRESHOLDS = [-0.5, 0.0, 1e-12, 0.1, 0.35, 0.5, 0.65, 0.9, 0.999999, 1.0, 1.5]


@pytest.mark.parametrize(
    ("seed", "pos_rate", "ties"),
    [(0, 0.1, False), (1, 0.05, False), (2, 0.3, True), (3, 0.1, True), (4, 0.02, True)],
)
def test_every_column_matches_sklearn(seed: int, pos_rate: float, ties: bool) -> None:
    y, p = _sample(seed, pos_rate=pos_rate, ties=ties)
    # The distinct scores themselves exercise `>=` exactly at a tie block.
    thresholds = np.concatenate((EDGE_THRESHOLDS, np.unique(p)[:: max(1, np.unique(p).size // 15)]))
    table = metrics_at_thresholds(y, p, thresholds, betas=(1.0, BETA))

    assert list(table.columns) == ["threshold", *METRIC_COLUMNS]
    assert len(table) == len(thresholds)
    np.testing.assert_array_equal(table["threshold"], thresholds)
    for column in ("tp", "fp", "fn", "tn"):
        assert pd.api.types.is_integer_dtype(table[column])
    for row, t in zip(table.itertuples(index=False), thresholds, strict=True):
        expected = _sklearn_row(y, p, t, BETA)
        for column in METRIC_COLUMNS:
            assert getattr(row, column) == pytest.approx(expected[column], abs=1e-12, nan_ok=True), (column, t)


def test_threshold_order_and_duplicates_are_kept() -> None:
    y, p = _sample(5)
    thresholds = [0.9, 0.1, 0.5, 0.1]
    table = metrics_at_thresholds(y, p, thresholds)
    np.testing.assert_array_equal(table["threshold"], thresholds)
    pd.testing.assert_series_equal(table.iloc[1], table.iloc[3], check_names=False)
    # (N, 1) model output and float labels are accepted as the same data.
    same = metrics_at_thresholds(y.astype(np.float32), p.reshape(-1, 1), thresholds)
    pd.testing.assert_frame_equal(table, same)


def test_single_class_split_gives_nan_ranking_scores_and_finite_rest() -> None:
    p = np.array([0.2, 0.4, 0.6, 0.8])
    no_pos = metrics_at_thresholds(np.zeros(4, dtype=int), p, [0.0, 0.5, 1.0])
    assert no_pos["roc_auc"].isna().all()
    assert no_pos["average_precision"].isna().all()
    # Undefined, not 0: no positives means no recall, and no MCC; precision is defined where something is predicted.
    assert no_pos[["recall", "mcc", "g_mean"]].isna().all().all()
    assert no_pos["precision"].tolist()[:2] == [0.0, 0.0] and np.isnan(no_pos["precision"].iloc[2])
    assert no_pos["f1"].tolist()[:2] == [0.0, 0.0] and np.isnan(no_pos["f1"].iloc[2])
    # No positives: balanced accuracy is the specificity alone, as in sklearn.
    np.testing.assert_allclose(no_pos["balanced_accuracy"], [0.0, 0.5, 1.0])

    all_pos = metrics_at_thresholds(np.ones(4, dtype=int), p, [0.5])
    assert np.isnan(all_pos.loc[0, "roc_auc"])
    assert all_pos.loc[0, "average_precision"] == pytest.approx(1.0)
    assert all_pos.loc[0, "recall"] == pytest.approx(0.5)


def test_thousands_of_thresholds_in_one_pass() -> None:
    y, p = _sample(6, n=20_000)
    thresholds = np.linspace(0, 1, 5001)
    table = metrics_at_thresholds(y, p, thresholds)
    # Invariants at every threshold, and monotone predicted positives.
    assert (table["tp"] + table["fn"] == y.sum()).all()
    assert (table["fp"] + table["tn"] == (1 - y).sum()).all()
    assert (np.diff(table["tp"] + table["fp"]) <= 0).all()
    spot = 2500
    expected = _sklearn_row(y, p, thresholds[spot], 1.0)
    assert table.loc[spot, "f1"] == pytest.approx(expected["f1"])
    assert table.loc[spot, "mcc"] == pytest.approx(expected["mcc"])


@pytest.mark.parametrize("metric", TUNE_METRICS)
@pytest.mark.parametrize(("seed", "ties"), [(10, False), (11, True), (12, True)])
def test_tune_threshold_reaches_brute_force_maximum(metric: str, seed: int, ties: bool) -> None:
    y, p = _sample(seed, n=150, pos_rate=0.15, ties=ties)
    beta = BETA if metric == "fbeta" else 1.0
    # Every rule `p >= t` with t in (0, 1) equals the rule at one distinct score, or predicts nothing.
    candidates = [*np.unique(p), np.nextafter(p.max(), 2.0)]
    candidates = [t for t in candidates if 0.0 < t < 1.0]
    brute = max(_sklearn_metric(y, p, t, metric, beta) for t in candidates)

    tuned = tune_threshold(y, p, metric=metric, beta=beta)
    assert 0.0 < tuned < 1.0
    assert _sklearn_metric(y, p, tuned, metric, beta) == pytest.approx(brute, abs=1e-12)
    # The generalising rule: halfway between two adjacent distinct scores (or 0 / 1 beyond the ends).
    edges = np.unique(np.concatenate(([0.0], p, [1.0])))
    k = np.searchsorted(edges, tuned)
    assert tuned == pytest.approx((edges[k - 1] + edges[k]) / 2)


def test_tune_threshold_hand_worked() -> None:
    # Scores 0.9 0.8 0.7 0.6 0.3 0.2 with labels 1 1 0 1 0 0.
    # F1 by cut (predict >= score): 0.9 -> 2/4, 0.8 -> 4/5, 0.7 -> 4/6, 0.6 -> 6/7, 0.3 -> 6/8, 0.2 -> 6/9.
    # Best cut is 0.6 (F1 = 6/7); the next lower distinct score is 0.3, so the threshold is 0.45.
    y = [1, 1, 0, 1, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2]
    assert tune_threshold(y, p, "f1") == pytest.approx(0.45)
    # Accuracy: cut 0.8 -> 5/6 ties cut 0.6 -> 5/6; the tie goes to the larger threshold, (0.8 + 0.7) / 2.
    assert tune_threshold(y, p, "accuracy") == pytest.approx(0.75)


def test_tune_threshold_edges() -> None:
    # Perfectly separated: any cut between the classes is optimal; the midpoint of the gap is returned.
    assert tune_threshold([0, 0, 1, 1], [0.1, 0.2, 0.6, 0.8]) == pytest.approx(0.4)
    # Accuracy with a useless classifier: predicting nothing positive wins; threshold between max score and 1.
    assert tune_threshold([0, 0, 0, 1], [0.5, 0.6, 0.7, 0.2], "accuracy") == pytest.approx(0.85)
    # Best cut keeps every sample positive: midpoint between the lowest score and 0.
    assert tune_threshold([1, 1, 1, 0], [0.2, 0.4, 0.6, 0.5], "f1") == pytest.approx(0.1)
    # Scores at exactly 0 and 1 still give a threshold strictly inside (0, 1) that realises the best cut.
    y, p = np.array([0, 0, 1, 1]), np.array([0.0, 0.0, 1.0, 1.0])
    tuned = tune_threshold(y, p)
    assert 0.0 < tuned < 1.0
    assert f1_score(y, p >= tuned) == 1.0


def _two_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"val": _sample(20, n=200, pos_rate=0.2), "test": _sample(21, n=250, pos_rate=0.2)}


def test_evaluate_table_shape_rules_and_values() -> None:
    splits = _two_splits()
    table = evaluate(splits, threshold=0.4, tune_metric="mcc", beta=BETA, betas=(1.0, BETA))

    assert list(table.columns) == ["split", "rule", "threshold", *METRIC_COLUMNS]
    assert list(table["split"]) == ["val"] * 3 + ["test"] * 3
    assert list(table["rule"]) == ["fixed", "tuned", "mean"] * 2
    rows = table.set_index(["split", "rule"])

    assert (rows.xs("fixed", level="rule")["threshold"] == 0.4).all()
    tuned = rows.xs("tuned", level="rule")["threshold"]
    assert tuned.nunique() == 1
    assert tuned["val"] == tune_threshold(*splits["val"], metric="mcc", beta=BETA)
    assert tuned["val"] != tune_threshold(*splits["test"], metric="mcc", beta=BETA)  # tuned on val, not test
    assert rows.xs("mean", level="rule")["threshold"].isna().all()

    for split, (y, p) in splits.items():
        fixed = metrics_at_thresholds(y, p, [0.4], betas=(1.0, BETA)).iloc[0]
        at_tuned = metrics_at_thresholds(y, p, [tuned[split]], betas=(1.0, BETA)).iloc[0]
        grid = metrics_at_thresholds(y, p, AUTHORS_GRID, betas=(1.0, BETA))[METRIC_COLUMNS].mean()
        np.testing.assert_allclose(rows.loc[(split, "fixed"), METRIC_COLUMNS].astype(float), fixed[METRIC_COLUMNS])
        np.testing.assert_allclose(rows.loc[(split, "tuned"), METRIC_COLUMNS].astype(float), at_tuned[METRIC_COLUMNS])
        np.testing.assert_allclose(rows.loc[(split, "mean"), METRIC_COLUMNS].astype(float), grid)


def test_evaluate_custom_mean_grid_and_split_order() -> None:
    splits = _two_splits()
    reordered = {"test": splits["test"], "val": splits["val"]}
    table = evaluate(reordered, mean_thresholds=[0.5])
    assert list(table["split"]) == ["test"] * 3 + ["val"] * 3
    # A one-threshold grid makes the mean rule the fixed rule at 0.5.
    fixed = table[table["rule"] == "fixed"][metric_columns()].to_numpy()
    mean = table[table["rule"] == "mean"][metric_columns()].to_numpy()
    np.testing.assert_allclose(mean, fixed)


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: tune_threshold([0, 1], [0.2, 0.8], metric="auroc"), "metric"),
        (lambda: evaluate(_two_splits(), tune_metric="precision"), "tune_metric"),
        (lambda: evaluate({"test": _sample(0)}), "val"),
        (lambda: evaluate({}), "splits"),
        (lambda: evaluate(_two_splits(), threshold=float("nan")), "threshold"),
        (lambda: evaluate(_two_splits(), mean_thresholds=[]), "mean_thresholds"),
        (lambda: metrics_at_thresholds([0, 1], [0.2, 0.8], [0.5], betas=[0]), "beta"),
        (lambda: count_metric("roc_auc", 1, 0, 0, 1), "count metric"),
        (lambda: metrics_at_thresholds([0, 2], [0.2, 0.8], [0.5]), "y_true"),
        (lambda: metrics_at_thresholds([0, 1], [0.2, 1.8], [0.5]), "y_prob"),
        (lambda: metrics_at_thresholds([0, 1], [0.2, np.nan], [0.5]), "y_prob"),
        (lambda: metrics_at_thresholds([0, 1, 1], [0.2, 0.8], [0.5]), "same length"),
        (lambda: metrics_at_thresholds([], [], [0.5]), "empty"),
        (lambda: metrics_at_thresholds([0, 1], [0.2, 0.8], [np.nan]), "thresholds"),
        (lambda: metrics_at_thresholds([0, 1], [0.2, 0.8], []), "thresholds"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, names: str) -> None:
    with pytest.raises(ValueError, match=names) as info:
        call()
    assert isinstance(info.value, HfaError)


def test_bad_metric_message_lists_allowed_names() -> None:
    with pytest.raises(ValueError, match="f1, fbeta, mcc, balanced_accuracy, accuracy"):
        tune_threshold([0, 1], [0.2, 0.8], metric="F1")


def test_one_metric_per_column_names() -> None:
    assert metric_columns() == [
        "tp", "fp", "fn", "tn", "precision", "recall", "specificity", "f1", "accuracy", "balanced_accuracy",
        "g_mean", "mcc", "roc_auc", "average_precision", "brier", "ece",
    ]  # fmt: skip
    assert [c for c in metric_columns((2.0, 0.5, 1.0)) if c.startswith("f") and c != "fn" and c != "fp"] == [
        "f1",
        "f0.5",
        "f2",
    ]
    assert fbeta_column(2) == "f2" and fbeta_column(0.5) == "f0.5"
    assert is_count_metric("f3") and is_count_metric("f0.5") and is_count_metric("g_mean")
    assert not is_count_metric("fbeta") and not is_count_metric("roc_auc") and not is_count_metric("f0")


def test_count_metric_hand_worked() -> None:
    # tp=6, fp=2, fn=3, tn=89: precision 6/8, recall 6/9, F3 = 10*6 / (10*6 + 9*3 + 2) = 60/89.
    assert count_metric("precision", 6, 2, 3, 89) == pytest.approx(0.75)
    assert count_metric("f3", 6, 2, 3, 89) == pytest.approx(60 / 89)
    assert count_metric("specificity", 6, 2, 3, 89) == pytest.approx(89 / 91)
    assert count_metric("g_mean", 6, 2, 3, 89) == pytest.approx(np.sqrt(6 / 9 * 89 / 91))
    assert count_metric("npv", 6, 2, 3, 89) == pytest.approx(89 / 92)
    assert count_metric("fpr", 6, 2, 3, 89) == pytest.approx(2 / 91)
    # A collapsed model predicting nothing positive: precision and MCC undefined, recall and F1 zero.
    assert np.isnan(count_metric("precision", 0, 0, 9, 91)) and np.isnan(count_metric("mcc", 0, 0, 9, 91))
    assert count_metric("recall", 0, 0, 9, 91) == 0 and count_metric("f1", 0, 0, 9, 91) == 0
    np.testing.assert_array_equal(collapsed([0, 6, 9], [0, 2, 91], [9, 3, 0], [91, 89, 0]), [True, False, True])


def test_probability_scores_against_sklearn_and_by_hand() -> None:
    y, p = _sample(30, n=400, pos_rate=0.2)
    scores = probability_scores(y, p)
    assert scores["brier"] == pytest.approx(brier_score_loss(y, p))
    assert scores["ece"] == pytest.approx(_sklearn_ece(y, p))
    # By hand: p = 0.05, 0.05 (bin 1, labels 0 1), 0.95 (bin 10, label 1): |0.5 - 0.05| * 2/3 + |1 - 0.95| / 3.
    hand = probability_scores([0, 1, 1], [0.05, 0.05, 0.95])
    assert hand["ece"] == pytest.approx(0.45 * 2 / 3 + 0.05 / 3)
    assert hand["brier"] == pytest.approx((0.05**2 + 0.95**2 + 0.05**2) / 3)
    # A bin edge belongs to the bin below it, as in scikit-learn: 0.1 sits with 0.05, not with 0.15.
    assert probability_scores([0, 1], [0.05, 0.1])["ece"] == pytest.approx(abs(0.5 - 0.075))


def test_curve_points_hold_the_authors_grid_and_the_counts() -> None:
    splits = _two_splits()
    curves = curve_points(splits, points=50)
    assert list(curves.columns) == ["split", "threshold", "tp", "fp", "fn", "tn"]
    for split, (y, p) in splits.items():
        rows = curves[curves["split"] == split]
        assert set(AUTHORS_GRID) <= set(rows["threshold"]) and rows["threshold"].is_monotonic_increasing
        assert len(rows) <= 50 + len(AUTHORS_GRID)
        for row in rows.sample(10, random_state=0).itertuples():
            tn, fp, fn, tp = confusion_matrix(y, (p >= row.threshold).astype(int), labels=[0, 1]).ravel()
            assert (row.tp, row.fp, row.fn, row.tn) == (tp, fp, fn, tn)
    # The mean rule of a metric can be recomputed from the curve: the same as evaluate's mean row.
    table = evaluate(splits)
    test = curves[(curves["split"] == "test") & curves["threshold"].isin(AUTHORS_GRID)]
    f1 = count_metric("f1", test["tp"], test["fp"], test["fn"], test["tn"]).mean()
    assert f1 == pytest.approx(table[(table["split"] == "test") & (table["rule"] == "mean")]["f1"].item())


def test_mean_rule_of_a_sometimes_undefined_metric_is_undefined() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6])  # nothing scores >= 0.7: precision undefined at 0.7, 0.8, 0.9
    table = evaluate({"val": (y, p)})
    mean = table[table["rule"] == "mean"].iloc[0]
    assert np.isnan(mean["precision"]) and mean["recall"] == pytest.approx(np.mean([1, 1, 1, 1, 0.5, 0.5, 0, 0, 0]))
