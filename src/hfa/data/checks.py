"""Checks of loaded features before anything is fitted: what would otherwise fail deep inside scikit-learn or
training (no usable column, infinite cells, magnitudes whose squares overflow) is a one-line ``HfaError``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hfa.data.preprocess import categorical_columns
from hfa.errors import HfaError, clip

MAX_ABS_FEATURE = 1e30
"""Largest magnitude a numeric feature may hold: standardising squares values, and 1e30**2 still fits a float64
with room for the sum over rows (values near 1e308 overflow to inf, and training then ends in NaN)."""


MAX_CATEGORIES = 10_000
MAX_ONE_HOT_CELLS = 100_000_000
"""Most cells one-hot encoding may make over a table (rows x levels): 800 MB as the float64 blocks it is built from."""
"""Most one-hot columns the text columns of a table may make: each is a dense float32 column over every row."""


def check_features(features: pd.DataFrame, what: str) -> None:
    """Raise ``HfaError`` when ``features`` has no column with a value, a numeric cell that is infinite or huge,
    or text columns with more distinct values than one-hot encoding can hold."""
    filled = [c for c in features.columns if features[c].notna().any()]
    if not filled:
        raise HfaError(f"every feature column of {what} is empty; at least one column needs values")
    distinct = {c: int(features[c].nunique()) for c in categorical_columns(features)}
    if sum(distinct.values()) > MAX_CATEGORIES:
        column = max(distinct, key=distinct.__getitem__)
        raise HfaError(
            f"the text columns of {what} hold {sum(distinct.values()):,} distinct values (column "
            f"{clip(str(column))!r}: {distinct[column]:,}), one feature each once one-hot encoded; at most "
            f"{MAX_CATEGORIES:,}: drop identifier-like columns or convert them to numbers"
        )
    cells = len(features) * sum(distinct.values())
    if cells > MAX_ONE_HOT_CELLS:
        column = max(distinct, key=distinct.__getitem__)
        raise HfaError(
            f"one-hot encoding the text columns of {what} makes {len(features):,} rows x "
            f"{sum(distinct.values()):,} levels = {cells:,} cells (column {clip(str(column))!r} alone has "
            f"{distinct[column]:,} levels); at most {MAX_ONE_HOT_CELLS:,}: drop that column from the table, or "
            "convert it to numbers"
        )
    for column in features.columns:
        values = features[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        check_magnitudes(values.to_numpy(dtype=np.float64, na_value=np.nan), what, [column])


def check_magnitudes(numbers: np.ndarray, what: str, columns: Sequence[object], rows: str = "data row") -> None:
    """THE value check of numeric inputs, for training (``check_features``), ``hfa predict`` and ``HfaClassifier``
    alike: every number finite (NaN is a missing cell) and of magnitude at most ``MAX_ABS_FEATURE``; else a one-line
    ``HfaError`` naming the first such cell (its column, the value, its row) and what is allowed.

    ``numbers`` is one column ``(n,)`` or columns ``(n, d)``, named by ``columns``.
    """
    grid = np.asarray(numbers, dtype=np.float64)
    grid = grid if grid.ndim == 2 else grid.reshape(-1, 1)
    bad = np.isinf(grid) | (np.abs(np.nan_to_num(grid, posinf=0.0, neginf=0.0)) > MAX_ABS_FEATURE)
    if not bad.any():
        return
    j = int(np.flatnonzero(bad.any(axis=0))[0])
    row = int(np.flatnonzero(bad[:, j])[0])
    raise HfaError(
        # repr's shortest round-trip digits: 1.0000001e+30 must not read as the bound 1e+30 (as :g would show it).
        f"column {clip(str(columns[j]))!r} of {what} holds {float(grid[row, j])!r} in {rows} {row + 1} "
        f"({int(bad[:, j].sum())} such cells); allowed: finite numbers of magnitude at most {MAX_ABS_FEATURE:g} "
        "(empty cells are imputed)"
    )


def check_matrix(x: np.ndarray, what: str) -> None:
    """The preprocessed training matrix: at least one feature, and every value finite in float32."""
    if x.shape[1] == 0:
        raise HfaError(f"{what} has no usable feature after preprocessing (every column empty or constant)")
    if not np.isfinite(x).all():
        raise HfaError(f"{what} gives non-finite values after preprocessing; check its numeric columns")
