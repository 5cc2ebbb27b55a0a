"""Checks of loaded features before anything is fitted: what would otherwise fail deep inside scikit-learn or
training (no usable column, infinite cells, magnitudes whose squares overflow) is a one-line ``HfaError``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hfa.errors import HfaError, clip

MAX_ABS_FEATURE = 1e30
"""Largest magnitude a numeric feature may hold: standardising squares values, and 1e30**2 still fits a float64
with room for the sum over rows (values near 1e308 overflow to inf, and training then ends in NaN)."""


def check_features(features: pd.DataFrame, what: str) -> None:
    """Raise ``HfaError`` when ``features`` has no column with a value, or a numeric cell that is infinite or huge."""
    filled = [c for c in features.columns if features[c].notna().any()]
    if not filled:
        raise HfaError(f"every feature column of {what} is empty; at least one column needs values")
    for column in features.columns:
        values = features[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(np.isinf(numbers) | (np.abs(np.nan_to_num(numbers)) > MAX_ABS_FEATURE))
        if len(bad):
            row = int(bad[0])
            raise HfaError(
                f"column {clip(str(column))!r} of {what} holds {numbers[row]:g} in data row {row + 1} "
                f"({len(bad)} such cells); allowed: finite numbers of magnitude at most {MAX_ABS_FEATURE:g} "
                "(empty cells are imputed)"
            )


def check_matrix(x: np.ndarray, what: str) -> None:
    """The preprocessed training matrix: at least one feature, and every value finite in float32."""
    if x.shape[1] == 0:
        raise HfaError(f"{what} has no usable feature after preprocessing (every column empty or constant)")
    if not np.isfinite(x).all():
        raise HfaError(f"{what} gives non-finite values after preprocessing; check its numeric columns")
