"""Calibration maps (``eval.calibrate``): scores -> probabilities, fitted on the validation split after training.

A metric loss pushes scores towards 0 and 1 and a resampled or weighted training split shifts them, so a score is
a ranking, not a probability. A map fitted on validation, whose class ratio is the test split's, makes it one:

- ``platt``: scikit-learn's ``LogisticRegression`` (its defaults: L2 with C=1, which keeps the map finite when
  validation is separable) on the logit of the score, ``p = sigmoid(a logit(s) + b)``;
- ``isotonic``: scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``, the non-decreasing step map through
  its fitted points, linear between them and flat beyond them.

A :class:`Calibration` holds only numbers, applies with numpy and round-trips through JSON (run.json), so
``hfa predict`` and ``HfaClassifier`` apply exactly what the run fitted without pickling an estimator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hfa.errors import HfaError, shorten
from hfa.methods import CALIBRATIONS

# Scores are clipped into [EPS, 1 - EPS] before the logit: a saturated float32 sigmoid gives exactly 0 or 1.
EPS = 1e-12


@dataclass(frozen=True)
class Calibration:
    """A fitted map. ``platt``: ``params = (a, b)``; ``isotonic``: ``x`` and ``y``, the fitted points."""

    method: str
    params: tuple[float, ...] = ()
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, scores: ArrayLike) -> NDArray[np.float64]:
        """Probabilities (float64, same shape) for ``scores`` in [0, 1]."""
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "none":
            return s
        if self.method == "platt":
            a, b = self.params
            z = a * _logit(s) + b
            return np.exp(-np.logaddexp(0.0, -z))  # sigmoid(z) without overflow for large |z|
        # np.interp is flat beyond the end points: out_of_bounds="clip".
        return np.interp(s, np.asarray(self.x), np.asarray(self.y))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"method": "platt", "coef": a, "intercept": b}`` or ``{"method": "isotonic", "x": [...],
        "y": [...]}``."""
        if self.method == "platt":
            return {"method": "platt", "coef": self.params[0], "intercept": self.params[1]}
        if self.method == "isotonic":
            return {"method": "isotonic", "x": list(self.x), "y": list(self.y)}
        return {"method": "none"}

    @classmethod
    def from_dict(cls, data: Any, source: str = "run.json") -> Calibration:
        """The map ``to_dict`` wrote, held to what ``fit_calibration`` can make (see ``MAX_PLATT`` and
        ``_isotonic_points``); anything else is a one-line HfaError naming ``source`` and the key.

        run.json is not hashed (it holds the other files' sha256s), so these checks are all that stands between an
        edited map and a "probability" outside [0, 1] or a reversed ranking."""
        if not isinstance(data, Mapping):
            _refuse(source, "", data, "a map hfa wrote ({'method': 'platt', 'coef': a, 'intercept': b} or similar)")
        method = data.get("method")
        if method == "none":
            return cls("none")
        if method == "platt":
            for key in ("coef", "intercept"):
                if not _real(data.get(key), -MAX_PLATT, MAX_PLATT):
                    _refuse(source, f".{key}", data.get(key), f"a finite number of magnitude at most {MAX_PLATT:g}")
            return cls("platt", (float(data["coef"]), float(data["intercept"])))
        if method == "isotonic":
            x, y = _isotonic_points(data.get("x"), data.get("y"), source)
            return cls("isotonic", x=x, y=y)
        return _refuse(source, ".method", method, "'platt', 'isotonic' or 'none'")


MAX_PLATT = 1e12
"""The largest platt coefficient or intercept a fit can give. With C=1 the fit's optimum on n validation scores
has ``|coef| = |sum (y - p) logit(s)| <= n L`` and, both classes present, ``|intercept| <= ln n + L |coef|``
(L = logit(1 - EPS) ~ 27.6): below 1e12 for any validation split under a billion rows. A larger number is not a
fitted map but one that saturates every score to 0 or 1."""


def _real(value: Any, low: float, high: float) -> bool:
    """A JSON number (not a bool, not a string) in [low, high]; NaN and infinities fail the comparison."""
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _isotonic_points(x: Any, y: Any, source: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """An isotonic map's points as ``IsotonicRegression`` fits them on scores in [0, 1]: at least one point, ``x``
    strictly increasing (its distinct scores), ``y`` non-decreasing (increasing=True) averages of 0/1 labels."""
    if not (isinstance(x, list | tuple) and x and all(_real(v, 0.0, 1.0) for v in x)):
        _refuse(source, ".x", x, "a list of at least one score in [0, 1]")
    if any(b <= a for a, b in zip(x, x[1:], strict=False)):
        _refuse(source, ".x", x, "scores in strictly increasing order")
    if not (isinstance(y, list | tuple) and len(y) == len(x) and all(_real(v, 0.0, 1.0) for v in y)):
        _refuse(source, ".y", y, f"a list of {len(x)} probabilities in [0, 1], one per score of 'x'")
    if any(b < a for a, b in zip(y, y[1:], strict=False)):
        _refuse(source, ".y", y, "non-decreasing probabilities (a higher score never gets a lower one)")
    return tuple(map(float, x)), tuple(map(float, y))


def _refuse(source: str, key: str, value: Any, expected: str) -> NoReturn:
    raise HfaError(
        f"{source}: 'calibration{key}' holds {shorten(value)}; expected {expected}; it is not a calibration map hfa "
        "wrote: train the run again"
    )


def _logit(s: NDArray[np.float64]) -> NDArray[np.float64]:
    s = np.clip(s, EPS, 1.0 - EPS)
    return np.log(s) - np.log1p(-s)


def fit_calibration(method: str, scores: ArrayLike, y: ArrayLike) -> Calibration:
    """The ``method`` map (``platt``, ``isotonic``, ``none``) fitted on ``scores`` in [0, 1] and labels ``y`` in {0, 1}.

    Raises:
        HfaError: for an unknown method, mismatched or empty inputs, or labels of a single class (nothing to fit).
    """
    if method not in CALIBRATIONS:
        raise HfaError(f"unknown calibration {method!r}; allowed: {', '.join(CALIBRATIONS)}")
    s = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(y).ravel()
    if s.shape != labels.shape or s.size == 0:
        raise HfaError(f"calibration needs one label per score (got {s.size} scores and {labels.size} labels)")
    if method == "none":
        return Calibration("none")
    classes = np.unique(labels)
    if classes.size < 2:
        what = "positives" if classes.size and classes[0] == 1 else "negatives"
        raise HfaError(
            f"eval.calibrate={method} cannot be fitted: the validation split holds only {what}; "
            "use calibrate none or a larger data.val_size"
        )
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        fitted = LogisticRegression().fit(_logit(s)[:, None], labels.astype(np.int64))
        return Calibration("platt", (float(fitted.coef_[0, 0]), float(fitted.intercept_[0])))
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip").fit(s, labels.astype(np.float64))
    return Calibration("isotonic", x=tuple(map(float, iso.X_thresholds_)), y=tuple(map(float, iso.y_thresholds_)))


RAW_COLUMNS = {"brier": "brier_raw", "ece": "ece_raw"}
"""A calibrated run's metrics keep the scores' Brier and ECE before calibration beside those after."""


def calibrate_run(
    method: str, scores: Mapping[str, tuple[Any, Any]]
) -> tuple[dict[str, tuple[Any, Any]], Calibration, dict[str, dict[str, float]]]:
    """A run's ``split -> (y, scores)`` calibrated by a map fitted on ``val``: the calibrated splits, the map, and
    per split the raw scores' Brier and ECE (``hfa.metrics.probability_scores``)."""
    from hfa.metrics import probability_scores

    fitted = fit_calibration(method, scores["val"][1], scores["val"][0])
    raw = {split: probability_scores(y, p) for split, (y, p) in scores.items()}
    return {split: (y, fitted.apply(p)) for split, (y, p) in scores.items()}, fitted, raw


def with_raw_scores(metrics: Any, raw: Mapping[str, Mapping[str, float]]) -> Any:
    """``metrics`` (a run's table, one row per split and rule) with ``brier_raw`` and ``ece_raw`` columns."""
    extra = {
        column: metrics["split"].map({s: values[name] for s, values in raw.items()})
        for name, column in RAW_COLUMNS.items()
    }
    return metrics.assign(**extra)
