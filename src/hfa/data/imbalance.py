"""The imbalance ratio (README, "Data"): subsample to ``r`` negatives per positive before the split."""

from __future__ import annotations

import math

import numpy as np

from hfa.errors import HfaError


def kept_counts(n_pos: int, n_neg: int, ratio: float | None) -> tuple[int, int]:
    """(positives, negatives) that ``subsample_to_ratio`` keeps.

    Positives are subsampled when the data has fewer than ``ratio`` negatives per positive (the usual case
    when making data more imbalanced); otherwise negatives are.
    """
    if ratio is None:
        return n_pos, n_neg
    if not (math.isfinite(ratio) and ratio > 0):
        raise HfaError(f"data.imbalance_ratio must be a finite number > 0 or null (got {ratio})")
    if n_neg < ratio * n_pos:
        # The epsilon keeps exact quotients (e.g. 1000 / 0.1) from flooring one short in binary floats.
        return min(n_pos, math.floor(n_neg / ratio + 1e-9)), n_neg
    # Half-up rounding, not Python's banker's rounding, so 2.5 negatives per positive on 3 positives is 8.
    return n_pos, min(n_neg, math.floor(ratio * n_pos + 0.5))


def subsample_to_ratio(y: np.ndarray, ratio: float | None, rng: np.random.Generator | int | None) -> np.ndarray:
    """Sorted row indices that keep ``ratio`` negatives per positive (all rows when ``ratio`` is None).

    Which rows are kept is drawn from ``rng`` (a Generator or a seed); their original order is preserved.
    """
    y = np.asarray(y)
    if ratio is None:
        return np.arange(len(y))
    positives = np.flatnonzero(y == 1)
    negatives = np.flatnonzero(y == 0)
    n_pos, n_neg = kept_counts(len(positives), len(negatives), ratio)
    rng = np.random.default_rng(rng)
    kept_pos = positives if n_pos == len(positives) else rng.choice(positives, size=n_pos, replace=False)
    kept_neg = negatives if n_neg == len(negatives) else rng.choice(negatives, size=n_neg, replace=False)
    return np.sort(np.concatenate([kept_pos, kept_neg]))
