"""Which columns of a user table are features: ``data.features`` / ``data.drop`` / ``data.id``, dates, and leaks.

Checked on the whole table before anything is split or fitted, so a bad choice is one line and no work:
a named column that is not there, a date column (refused, see :func:`refuse_dates`), a feature that copies a
target. A feature that alone separates the training split is not an error (it may be a strong, honest feature)
but is named in a warning and in run.json (:func:`separating_features`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hfa.errors import HfaError, clip

# ISO dates and date-times as CSV files write them: 2024-01-31, 2024-01-31 12:00, 2024-01-31T12:00:00.5+02:00.
_DATE = r"\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"


def _show(columns: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown if len(columns) <= limit else f"{shown}, ... ({len(columns)} in all)"


def select(
    table: pd.DataFrame,
    targets: Sequence[str],
    name: str,
    features: Sequence[str] | None = None,
    drop: Sequence[str] = (),
    id_column: str | None = None,
) -> pd.DataFrame:
    """The feature columns of ``table``: ``features`` when given, else every column but the targets, ``drop`` and
    ``id_column``. Every named column must exist; the config has already refused overlaps between them."""
    columns = [str(c) for c in table.columns]
    named = [("data.features", c) for c in features or ()] + [("data.drop", c) for c in drop]
    if id_column is not None:
        named.append(("data.id", id_column))
    for key, column in named:
        if column not in columns:
            raise HfaError(
                f"{key} names {clip(column)!r}, which is not a column of {name!r}; columns: {_show(columns)}"
            )
    if features is not None:
        return table[list(features)]
    left_out = {*targets, *drop, *([id_column] if id_column is not None else [])}
    return table[[c for c in columns if c not in left_out]]


def date_columns(features: pd.DataFrame) -> list[str]:
    """Columns holding dates: a date/time dtype, or text whose every filled cell is an ISO date or date-time."""
    found = []
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
            found.append(str(column))
            continue
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        filled = values.dropna()
        # The first cell decides cheaply for the usual column; only a plausible one is checked whole.
        plausible = len(filled) and isinstance(filled.iloc[0], str) and filled.iloc[:1].str.fullmatch(_DATE).all()
        if plausible and filled.astype(str).str.fullmatch(_DATE).all():
            found.append(str(column))
    return found


def refuse_dates(features: pd.DataFrame, name: str, selected: bool) -> None:
    """Dates are refused rather than turned into numbers: whether a date means a trend, a season or an age is
    the user's choice, and a raw timestamp scores future rows outside every value the model was trained on."""
    dates = date_columns(features)
    if not dates:
        return
    column = clip(dates[0])
    fix = (
        "leave it out of data.features" if selected else f"drop it with data.drop=[{column}]"
    ) + " or add a numeric column made from it (days since an event, month, weekday)"
    more = f" ({len(dates)} date columns: {_show(dates)})" if len(dates) > 1 else ""
    raise HfaError(f"column {column!r} of {name!r} holds dates, which hfa does not use as features{more}; {fix}")


def check_copies(features: pd.DataFrame, labels: pd.DataFrame, y: np.ndarray, name: str) -> None:
    """Refuse a feature that is a target column again, or a relabelling of it (its values map one to one onto
    the target's values, or onto the binary label hfa trains on): training on it is training on the answer."""
    y = y.reshape(len(y), -1)
    counts = features.nunique(dropna=False)
    for j, target in enumerate(labels.columns):
        raw = labels[target]
        levels = raw.nunique(dropna=False)
        for column in features.columns:
            if counts[column] not in (levels, 2):
                continue
            values = features[column]
            pairs = pd.DataFrame({"f": values.to_numpy(), "t": raw.to_numpy()}).drop_duplicates()
            copy = counts[column] == levels and len(pairs) == levels
            if not copy and counts[column] == 2:
                codes = pd.factorize(values)[0]
                copy = bool((codes == y[:, j]).all() or (codes == 1 - y[:, j]).all())
            if copy:  # (a header naming the target twice is refused before: files.read_table)
                raise HfaError(
                    f"feature column {clip(str(column))!r} of {name!r} is a copy or relabelling of the target "
                    f"column {clip(str(target))!r} (each of its values names one class); drop it with "
                    f"data.drop=[{clip(str(column))}]"
                )


def separating_features(features: pd.DataFrame, y: np.ndarray) -> list[str]:
    """Columns that alone separate the classes of ``y`` (0/1) perfectly: a number with every positive above (or
    below) every negative, or a category whose every level holds one class and fewer levels than rows per class
    (so an identifier, unique per row, is not counted). Missing cells are left out of the comparison."""
    positive = y == 1
    if positive.all() or not positive.any():
        return []
    found = []
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            x = values.to_numpy(dtype=np.float64, na_value=np.nan)
            pos, neg = x[positive & ~np.isnan(x)], x[~positive & ~np.isnan(x)]
            if len(pos) and len(neg) and (pos.min() > neg.max() or pos.max() < neg.min()):
                found.append(str(column))
            continue
        frame = pd.DataFrame({"v": values.to_numpy(), "y": positive}).dropna()
        per_level = frame.groupby("v", observed=True)["y"].nunique()
        smallest = int(min(positive.sum(), (~positive).sum()))
        if len(per_level) and (per_level == 1).all() and len(per_level) < smallest:
            found.append(str(column))
    return found
