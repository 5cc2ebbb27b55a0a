"""Evaluation of predicted probabilities at fixed, tuned and mean-over-thresholds rules.

scikit-learn is the reference: every threshold metric here equals the matching ``sklearn.metrics`` function
applied to ``y_prob >= threshold`` wherever it is defined; where its denominator is 0 (precision with no predicted
positives, MCC with an empty row or column) the value is NaN, not scikit-learn's ``zero_division`` 0, so a report
can tell "undefined" from "zero". The counts are computed for all thresholds in one pass
(sort once, cumulative sums, ``searchsorted``) rather than by calling scikit-learn once per threshold, because a
sweep evaluates thousands of thresholds (tuning) for every split of every run.

Degenerate splits: ``roc_auc`` and ``average_precision`` are NaN when ``y_true`` holds a single class for
``roc_auc``, or no positive for ``average_precision`` (scikit-learn returns 0.0 there with a warning; a number that
looks like a real score would silently drag down the mean ± std of a report).

One metric per column: ``f1`` is F1 and ``f2`` is F2 in every row of every run; a run records F-beta for each
beta its loss trains for, and any other count metric can be recomputed from ``tp, fp, fn, tn``
(``count_metric``) or, for the ``mean`` rule, from the counts of ``curve_points``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from hfa.errors import HfaError

__all__ = [
    "AUTHORS_THRESHOLDS",
    "COUNT_COLUMNS",
    "ECE_BINS",
    "TUNE_METRICS",
    "collapsed",
    "count_metric",
    "curve_points",
    "evaluate",
    "fbeta_column",
    "fbeta_of",
    "is_count_metric",
    "metric_columns",
    "metrics_at_thresholds",
    "probability_scores",
    "tune_threshold",
    "tuned_rule_beta",
    "tuned_rules",
]

COUNT_COLUMNS: tuple[str, ...] = ("tp", "fp", "fn", "tn")
# Metrics of the four counts alone; ``f<beta>`` (f1, f2, f0.5) joins them by name, see ``count_metric``.
COUNT_METRICS: tuple[str, ...] = (
    "precision",
    "recall",
    "specificity",
    "npv",
    "fpr",
    "accuracy",
    "balanced_accuracy",
    "g_mean",
    "mcc",
)
# Metrics of the scores that no threshold changes; they repeat on every row of a split.
SCORE_METRICS: tuple[str, ...] = ("roc_auc", "average_precision", "brier", "ece")
TUNE_METRICS: tuple[str, ...] = ("f1", "fbeta", "mcc", "balanced_accuracy", "accuracy")
AUTHORS_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Expected calibration error: 10 equal-width bins of the predicted probability, (0, 0.1], (0.1, 0.2], ...,
# the first closed at 0 -- scikit-learn's ``calibration_curve(n_bins=10, strategy="uniform")`` binning.
ECE_BINS = 10
# PR curves in curves.csv: at most this many cut points per split (plus the authors' grid), spread by rank.
CURVE_POINTS = 200
_FBETA = re.compile(r"^f([0-9]+(?:\.[0-9]+)?)$")  # ASCII digits: \d takes any script's (f٢ is not f2)

# Tuned thresholds stay strictly inside (0, 1) so they remain valid probability thresholds (`eval.threshold`).
_LOWEST = float(np.nextafter(0.0, 1.0))
_HIGHEST = float(np.nextafter(1.0, 0.0))
# MCC goes through a square root, so two cut points with the same exact value can differ by an ulp; treat
# scores this close as tied so the documented tie rule, not rounding noise, picks the threshold.
_TIE_RTOL = 1e-12


def fbeta_column(beta: float) -> str:
    """The column of F-beta at ``beta``: ``f1``, ``f2``, ``f0.5``."""
    return f"f{_check_beta(beta):g}"


def tuned_rules(betas: Sequence[float]) -> dict[str, float]:
    """``{"tuned_f2": 2.0, ...}``: the extra tuned rules of ``eval.tune_betas``, in order, each beta once."""
    return {f"tuned_{fbeta_column(b)}": float(b) for b in dict.fromkeys(float(b) for b in betas)}


def tuned_rule_beta(rule: str) -> float | None:
    """The beta of a ``tuned_f<beta>`` rule; None for any other rule."""
    return fbeta_of(rule[len("tuned_") :]) if rule.startswith("tuned_") else None


def fbeta_of(name: str) -> float | None:
    """The beta of an F-beta column name (``f2`` -> 2.0, ``f0.5`` -> 0.5); None for any other name."""
    match = _FBETA.match(name)
    if match is None:
        return None
    beta = float(match.group(1))
    return beta if beta > 0 else None


def is_count_metric(name: str) -> bool:
    """Whether ``name`` is a metric of tp/fp/fn/tn alone (``count_metric`` can compute it)."""
    return name in COUNT_METRICS or fbeta_of(name) is not None


def metric_columns(betas: Sequence[float] = (1.0,)) -> list[str]:
    """The metric columns of a metrics table: counts, rates, ``f1`` then ``f<beta>`` for each other beta, scores."""
    extra = sorted({_check_beta(b) for b in betas} - {1.0})
    fscores = ["f1", *(fbeta_column(b) for b in extra)]
    return [
        *COUNT_COLUMNS,
        "precision",
        "recall",
        "specificity",
        *fscores,
        "accuracy",
        "balanced_accuracy",
        "g_mean",
        "mcc",
        *SCORE_METRICS,
    ]


Counts = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def _check_inputs(y_true: ArrayLike, y_prob: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    y = _as_vector(y_true, "y_true")
    p = _as_vector(y_prob, "y_prob")
    if y.shape != p.shape:
        raise HfaError(f"y_true and y_prob must have the same length, got {y.shape[0]} and {p.shape[0]}")
    if y.size == 0:
        raise HfaError("y_true and y_prob must not be empty")
    if not np.isin(y, (0, 1)).all():
        raise HfaError(f"y_true must hold only the labels 0 and 1, got {np.unique(y)[:5].tolist()}")
    # float64 throughout so `>=` means the same here, in searchsorted and in a reference comparison,
    # whatever dtype the model produced (NumPy 2 would otherwise compare float32 against a float32 threshold).
    p = p.astype(np.float64)
    if not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
        raise HfaError("y_prob must hold finite probabilities in [0, 1] (apply a sigmoid to logits first)")
    return y.astype(np.int64), p


def _as_vector(values: ArrayLike, name: str) -> NDArray[Any]:
    arr = np.asarray(values)
    # A model head usually emits (N, 1); accept it like the losses do.
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise HfaError(f"{name} must be one-dimensional (N,) or (N, 1), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise HfaError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr


def _check_thresholds(thresholds: ArrayLike, name: str = "thresholds") -> NDArray[np.float64]:
    try:
        t = np.asarray(thresholds, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise HfaError(f"{name} must be numbers, got {thresholds!r}") from exc
    t = np.atleast_1d(t)
    if t.ndim != 1 or t.size == 0:
        raise HfaError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {t.shape}")
    if np.isnan(t).any():
        raise HfaError(f"{name} must not contain NaN")
    return t


def _check_beta(beta: float) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise HfaError(f"beta must be a positive finite number, got {beta!r}")
    if not (np.isfinite(beta) and beta > 0):
        raise HfaError(f"beta must be a positive finite number, got {beta!r}")
    return float(beta)


# The columns of a run that trains for F1 only (every run has these).
METRIC_COLUMNS: list[str] = metric_columns()


def _check_metric(metric: str, name: str) -> str:
    if metric not in TUNE_METRICS:
        raise HfaError(f"{name} must be one of {', '.join(TUNE_METRICS)}; got {metric!r}")
    return metric


def _confusion_counts(y: NDArray[np.int64], p: NDArray[np.float64], thresholds: NDArray[np.float64]) -> Counts:
    """Counts of ``p >= t`` for every ``t`` at once: O((N + T) log N) instead of O(N T)."""
    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    # positives_below[k] = positives among the k smallest scores; ties sit in one block of p_sorted, so the
    # order inside a block never matters for a cut taken at a block boundary.
    positives_below = np.concatenate(([0], np.cumsum(y[order], dtype=np.int64)))
    n_below = np.searchsorted(p_sorted, thresholds, side="left").astype(np.int64)  # samples with p < t
    n_pos = int(positives_below[-1])
    n_neg = y.size - n_pos
    fn = positives_below[n_below]
    tn = n_below - fn
    return n_pos - fn, n_neg - tn, fn, tn


def _divide(num: NDArray[np.float64], den: NDArray[np.float64], undefined: float) -> NDArray[np.float64]:
    """``num / den`` with ``undefined`` where ``den == 0``."""
    out = np.full(np.broadcast(num, den).shape, undefined, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def count_metric(name: str, tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, tn: ArrayLike) -> NDArray[np.float64]:
    """A metric of the confusion counts, elementwise; NaN where it is undefined.

    ``name`` is one of ``COUNT_METRICS`` or ``f<beta>`` (``f1``, ``f2``, ``f0.5``). Undefined means a zero
    denominator: precision with no predicted positives, recall with no positives, specificity with no
    negatives, F-beta with neither positives nor predicted positives, MCC when a row or column of the
    confusion matrix is empty, G-mean when recall or specificity is. (scikit-learn writes 0 there with a
    warning; a 0 that looks like a score would silently drag down a mean over seeds.)

    Raises:
        HfaError (a ValueError): for a name that is not a metric of the counts.
    """
    return _count_metric(name, *(np.asarray(c, dtype=np.float64) for c in (tp, fp, fn, tn)), undefined=np.nan)


def _count_metric(
    name: str,
    tp: NDArray[np.float64],
    fp: NDArray[np.float64],
    fn: NDArray[np.float64],
    tn: NDArray[np.float64],
    undefined: float,
) -> NDArray[np.float64]:
    n_pos, n_neg = tp + fn, fp + tn
    beta = fbeta_of(name)
    if beta is not None:
        b2 = beta * beta
        # From the counts, not from precision and recall, so that F is 0 (not undefined) with no predicted positives.
        return _divide((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp, undefined)
    if name == "precision":
        return _divide(tp, tp + fp, undefined)
    if name == "recall":
        return _divide(tp, n_pos, undefined)
    if name == "specificity":
        return _divide(tn, n_neg, undefined)
    if name == "npv":
        return _divide(tn, tn + fn, undefined)
    if name == "fpr":
        return _divide(fp, n_neg, undefined)
    if name == "accuracy":
        return _divide(tp + tn, n_pos + n_neg, undefined)
    if name == "balanced_accuracy":
        tpr, tnr = _divide(tp, n_pos, np.nan), _divide(tn, n_neg, np.nan)
        # scikit-learn's balanced accuracy averages the recalls of the classes present in y_true only.
        return np.where(n_pos == 0, tnr, np.where(n_neg == 0, tpr, (tpr + tnr) / 2))
    if name == "g_mean":
        # imbalanced-learn's binary geometric_mean_score: sqrt(sensitivity * specificity).
        return np.sqrt(_divide(tp, n_pos, undefined) * _divide(tn, n_neg, undefined))
    if name == "mcc":
        den = np.sqrt((tp + fp) * n_pos * n_neg * (tn + fn))
        return _divide(tp * tn - fp * fn, den, undefined)
    allowed = ", ".join([*COUNT_METRICS, "f<beta> (f1, f2, f0.5, ...)"])
    raise HfaError(f"unknown count metric {name!r}; allowed: {allowed}")


def collapsed(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, tn: ArrayLike) -> NDArray[np.bool_]:
    """Rows whose predictions are all one class: no predicted positives, or no predicted negatives."""
    tp, fp, fn, tn = (np.asarray(c, dtype=np.float64) for c in (tp, fp, fn, tn))
    return (tp + fp == 0) | (tn + fn == 0)


def _rates(counts: Counts, columns: Sequence[str]) -> dict[str, NDArray[np.float64]]:
    tp, fp, fn, tn = (c.astype(np.float64) for c in counts)
    return {name: _count_metric(name, tp, fp, fn, tn, np.nan) for name in columns if is_count_metric(name)}


def _tuning_values(counts: Counts, metric: str, beta: float) -> NDArray[np.float64]:
    """The metric to maximise at each cut; undefined counts as 0 (scikit-learn's ``zero_division=0``)."""
    name = fbeta_column(beta) if metric == "fbeta" else metric
    tp, fp, fn, tn = (c.astype(np.float64) for c in counts)
    return _count_metric(name, tp, fp, fn, tn, 0.0)


def probability_scores(y_true: ArrayLike, y_prob: ArrayLike, bins: int = ECE_BINS) -> dict[str, float]:
    """Brier score and expected calibration error (``bins`` equal-width bins, see ``ECE_BINS``).

    ECE is ``sum_b n_b / N * |mean(y in b) - mean(p in b)|`` over the non-empty bins.
    """
    y, p = _check_inputs(y_true, y_prob)
    return _probability_scores(y, p, bins)


def _probability_scores(y: NDArray[np.int64], p: NDArray[np.float64], bins: int = ECE_BINS) -> dict[str, float]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], p, side="left")  # (a, b] bins, as scikit-learn's calibration_curve
    sum_y = np.bincount(which, weights=y.astype(np.float64), minlength=bins)
    sum_p = np.bincount(which, weights=p, minlength=bins)
    gap = np.abs(sum_y - sum_p)  # n_b * |mean y - mean p|, zero for an empty bin
    return {"brier": float(np.mean((p - y) ** 2)), "ece": float(gap.sum() / y.size)}


_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy 1.x calls it trapz


def _ranking_scores(y: NDArray[np.int64], p: NDArray[np.float64]) -> tuple[float, float]:
    """ROC AUC and average precision as scikit-learn defines them, from one sort.

    Written out because scikit-learn's input validation cost more than the arithmetic: a sweep evaluates every
    run, and the tests hold these values to ``roc_auc_score`` / ``average_precision_score``.
    """
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0:
        return float("nan"), float("nan")
    order = np.argsort(-p, kind="mergesort")
    scores, labels = p[order], y[order]
    # The last index of every run of tied scores: one ROC / PR point per distinct threshold.
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(labels)[last].astype(np.float64)
    fps = last + 1 - tps
    recall = tps / n_pos
    average_precision = float(np.sum(np.diff(recall, prepend=0.0) * tps / (tps + fps)))
    if n_neg == 0:
        return float("nan"), average_precision
    roc_auc = float(_trapezoid(np.r_[0.0, recall], np.r_[0.0, fps / n_neg]))
    return roc_auc, average_precision


def metrics_at_thresholds(
    y_true: ArrayLike, y_prob: ArrayLike, thresholds: ArrayLike, betas: Sequence[float] = (1.0,)
) -> pd.DataFrame:
    """Every column of ``metric_columns(betas)`` for the rule ``y_prob >= threshold``, one row per threshold.

    Rows follow ``thresholds`` in the order given (duplicates kept); a ``threshold`` column comes first.
    Counts are ints; a rate whose denominator is 0 is NaN (see ``count_metric``). The score metrics
    (``roc_auc``, ``average_precision``, ``brier``, ``ece``) do not depend on the threshold and repeat on every
    row (``roc_auc``/``average_precision`` NaN for a degenerate split, see the module docstring).

    Raises:
        HfaError (a ValueError): for labels outside {0, 1}, probabilities outside [0, 1], mismatched lengths,
            empty inputs, NaN thresholds or a non-positive beta.
    """
    y, p = _check_inputs(y_true, y_prob)
    t = _check_thresholds(thresholds)
    names = metric_columns(betas)
    counts = _confusion_counts(y, p, t)
    roc_auc, average_precision = _ranking_scores(y, p)
    scores = {"roc_auc": roc_auc, "average_precision": average_precision, **_probability_scores(y, p)}
    columns: dict[str, NDArray[Any]] = {"threshold": t}
    columns.update(zip(COUNT_COLUMNS, counts, strict=True))
    columns.update(_rates(counts, names))
    columns.update({name: np.full(t.size, value) for name, value in scores.items()})
    return pd.DataFrame(columns, columns=["threshold", *names])


def tune_threshold(y_true: ArrayLike, y_prob: ArrayLike, metric: str = "f1", beta: float = 1.0) -> float:
    """The threshold in (0, 1) that maximises ``metric`` of ``y_prob >= threshold`` on these labels.

    Every way of cutting the sorted scores is a candidate: predict positive the samples scoring at least each
    distinct score, plus predicting nothing positive. Each cut is returned not at the score itself but at the
    midpoint between it and the next lower distinct score (0 below the lowest score; 1 above the highest for the
    empty cut), so ``>=`` on new data does not hinge on a score that happened to occur in validation. Midpoints
    are clipped into the open interval (0, 1); where clipping or rounding would make a midpoint select a
    different cut, the score itself is used instead. Candidates are scored at the threshold actually returned,
    so the result always achieves the reported maximum on these labels.

    Ties: among thresholds whose metric equals the maximum (to 1e-12 relative), the largest threshold wins,
    i.e. the cut with the fewest positive predictions — the conservative choice when validation cannot decide.

    Args:
        metric: one of ``TUNE_METRICS`` (f1, fbeta, mcc, balanced_accuracy, accuracy).
        beta: the F-beta weight of recall, used when ``metric == "fbeta"``.

    Raises:
        HfaError (a ValueError): for an unknown ``metric`` and for the input errors of ``metrics_at_thresholds``.
    """
    metric = _check_metric(metric, "metric")
    beta = _check_beta(beta)
    y, p = _check_inputs(y_true, y_prob)
    scores = np.unique(p)[::-1]  # distinct scores, highest first: cut j predicts positive scores >= scores[j]
    lower = np.concatenate((scores[1:], [0.0]))
    empty_cut_mid = (scores[0] + 1.0) / 2
    upper = np.concatenate(([np.inf], scores))
    mid = np.clip(np.concatenate(([empty_cut_mid], (scores + lower) / 2)), _LOWEST, _HIGHEST)
    # A midpoint selects its cut only if it lies in (next lower score, score]; adjacent floats, a score of
    # exactly 0 or 1, or clipping can break that, so fall back to the score (still clipped into (0, 1)).
    below = np.concatenate(([scores[0]], lower))
    separates = (mid > below) & (mid <= upper)
    fallback = np.clip(np.minimum(upper, _HIGHEST), _LOWEST, _HIGHEST)
    candidates = np.where(separates, mid, fallback)
    values = _tuning_values(_confusion_counts(y, p, candidates), metric, beta)
    best = values.max()
    tied = values >= best - _TIE_RTOL * max(abs(best), 1.0)
    return float(candidates[tied].max())


def evaluate(
    splits: Mapping[str, tuple[ArrayLike, ArrayLike]],
    threshold: float = 0.5,
    tune_metric: str = "f1",
    beta: float = 1.0,
    mean_thresholds: Sequence[float] = AUTHORS_THRESHOLDS,
    betas: Sequence[float] = (1.0,),
    tune_betas: Sequence[float] = (),
) -> pd.DataFrame:
    """The metrics table of a run: for each split (in mapping order), rows ``fixed``, ``tuned``, then
    ``tuned_f<beta>`` for each of ``tune_betas``, then ``mean``.

    Columns are ``split, rule, threshold`` followed by ``metric_columns(betas)``: ``f1`` always, and
    ``f<beta>`` for every other beta in ``betas`` (a column means one metric in every row).

    - ``fixed``: at ``threshold`` (``eval.threshold``).
    - ``tuned``: at the threshold that ``tune_threshold`` picks for ``tune_metric`` (at ``beta`` for ``fbeta``) on
      the ``val`` split, the same threshold for every split, so the test row is an honest post-hoc baseline.
    - ``tuned_f<beta>`` (``eval.tune_betas``): as ``tuned``, at the threshold maximising F-beta at that beta,
      so an F-beta loss can be compared with BCE tuned for its own metric.
    - ``mean``: the mean of each metric column over ``mean_thresholds`` (the authors' 0.1, ..., 0.9); the counts
      become float means and ``threshold`` is NaN (written empty in CSV). A rate undefined at any of those
      thresholds has an undefined mean.

    Count columns are float in the returned frame because the ``mean`` rows hold fractional counts.

    Raises:
        HfaError (a ValueError): when ``splits`` has no ``val`` split, for an unknown ``tune_metric``, a
            non-finite ``threshold``, bad ``mean_thresholds`` and the input errors of ``metrics_at_thresholds``.
    """
    tune_metric = _check_metric(tune_metric, "tune_metric")
    beta = _check_beta(beta)
    names = metric_columns(betas)
    fixed = _check_thresholds(threshold, "threshold")
    if fixed.size != 1 or not np.isfinite(fixed[0]):
        raise HfaError(f"threshold must be one finite number, got {threshold!r}")
    means = _check_thresholds(mean_thresholds, "mean_thresholds")
    if not splits:
        raise HfaError("splits must name at least one split, e.g. 'val' and 'test'")
    if "val" not in splits:
        raise HfaError(f"splits must include 'val' to tune the threshold on; got {', '.join(map(str, splits))}")
    rules = tuned_rules(tune_betas)
    tuned = [tune_threshold(*splits["val"], metric=tune_metric, beta=beta)]
    tuned += [tune_threshold(*splits["val"], metric="fbeta", beta=b) for b in rules.values()]

    numeric = ["threshold", *names]
    shown = ["fixed", "tuned", *rules]
    blocks, keys = [], []
    for split, (y_true, y_prob) in splits.items():
        # One pass per split: the fixed and tuned thresholds and the mean grid share the sort.
        table = metrics_at_thresholds(y_true, y_prob, np.concatenate((fixed, tuned, means)), betas=betas)
        values = table[numeric].to_numpy(np.float64)
        # A plain mean: a metric undefined at any of the thresholds has an undefined mean.
        mean_row = np.concatenate(([np.nan], values[len(shown) :, 1:].mean(axis=0)))
        blocks.append(np.vstack((values[: len(shown)], mean_row)))
        keys += [(split, rule) for rule in (*shown, "mean")]
    # Built from one float block: a frame of per-row dicts cast column by column cost most of a run's evaluation.
    frame = pd.DataFrame(np.vstack(blocks), columns=numeric)
    frame.insert(0, "rule", [rule for _, rule in keys])
    frame.insert(0, "split", [split for split, _ in keys])
    return frame


def curve_points(
    splits: Mapping[str, tuple[ArrayLike, ArrayLike]],
    extra_thresholds: Sequence[float] = AUTHORS_THRESHOLDS,
    points: int = CURVE_POINTS,
) -> pd.DataFrame:
    """Confusion counts along each split's score range: what a precision-recall curve and any metric need.

    Columns ``split, threshold, tp, fp, fn, tn``; thresholds are ``extra_thresholds`` (the authors' grid, so
    the ``mean`` rule of any count metric can be recomputed) plus up to ``points`` of the split's own distinct
    scores, spread evenly by rank (so the curve resolves where the scores crowd near 0 or 1), sorted.
    """
    frames = []
    extra = _check_thresholds(extra_thresholds, "extra_thresholds")
    for split, (y_true, y_prob) in splits.items():
        y, p = _check_inputs(y_true, y_prob)
        distinct = np.unique(p)
        picked = distinct[np.unique(np.linspace(0, distinct.size - 1, min(points, distinct.size)).round().astype(int))]
        t = np.unique(np.concatenate((extra, picked)))
        counts = _confusion_counts(y, p, t)
        frames.append(pd.DataFrame({"split": split, "threshold": t, **dict(zip(COUNT_COLUMNS, counts, strict=True))}))
    return pd.concat(frames, ignore_index=True)
