"""Features -> float32 matrix: median-impute + standardise numbers, one-hot categories.

Fitted on the training split only, so nothing about validation or test rows leaks into training. The fitted
state is a plain ``Preprocessing`` value that round-trips through JSON (``to_dict`` / ``from_dict``), so a run
folder can score raw rows later without pickle; training and ``hfa predict`` transform through the same code.
The numbers are those of scikit-learn's median imputer and standard scaler (tested): the scaler's and a median
without missing values computed in numpy the same way (``hfa.data.sklearn_numpy``), the imputer itself where
values are missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from hfa.errors import HfaError

COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3
"""pandas >= 3 copies a column only when it is written to, so a shallow copy is already a private one."""

MISSING_CATEGORY = "(missing)"
FORMAT = 1  # bumped when the JSON layout changes, so an old reader refuses a file it would misread
Kind = Literal["number", "bool", "category"]
_SHOWN = 8


def categorical_columns(features: pd.DataFrame) -> list[str]:
    """Columns one-hot encoded: everything that is neither a number nor a boolean."""
    return [
        c
        for c in features.columns
        if not (pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c]))
    ]


def private_copy(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy the caller may change without changing ``frame``; shallow where pandas copies on write (a deep copy
    of a million-row table costs its size again, at the peak of a run's memory)."""
    return frame.copy(deep=not COPY_ON_WRITE)


def as_text(values: pd.Series) -> pd.Series:
    """A category column as uniform text (OneHotEncoder-style levels); a missing value is a level of its own."""
    return values.astype(object).where(values.notna(), MISSING_CATEGORY).astype(str).astype(object)


def as_model_frame(features: pd.DataFrame) -> pd.DataFrame:
    """A row-wise (so leak-free) clean-up before fitting: booleans as 0/1, categories as plain text.

    Missing categories become their own level, and mixed-type category columns (1 and "a") become
    uniform text.
    """
    frame = private_copy(features)
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            frame[column] = values.astype(np.float64)
        elif not pd.api.types.is_numeric_dtype(values):
            frame[column] = as_text(values)
    return frame


@dataclass(frozen=True)
class NumericColumn:
    name: str
    kind: Kind  # "number" or "bool" (booleans train as 0/1)
    dtype: str  # as the training table stored it, for messages
    median: float  # fills missing values
    mean: float
    scale: float  # standard deviation of the imputed column; 1 where it is 0


@dataclass(frozen=True)
class CategoricalColumn:
    name: str
    dtype: str
    categories: tuple[str, ...]  # one output column each, sorted; an unseen level encodes as all zeros


def _kind_of(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    if pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values):
        return "text"
    if isinstance(values.dtype, pd.CategoricalDtype):
        return "category"
    return str(values.dtype)


@dataclass(frozen=True)
class Preprocessing:
    """The fitted preprocessing: which raw columns go in, how each is filled, scaled or encoded, what comes out.

    Output columns: the numeric columns in order, then one indicator per level of each categorical column.
    ``ignored`` lists numeric columns that were empty in training (scikit-learn's imputer drops them): they are
    still expected in the input, so a table that scores also trains.
    """

    numeric: tuple[NumericColumn, ...]
    categorical: tuple[CategoricalColumn, ...]
    ignored: tuple[str, ...]
    feature_names: tuple[str, ...]

    @property
    def input_columns(self) -> list[str]:
        return [c.name for c in self.numeric] + [c.name for c in self.categorical] + list(self.ignored)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def transform(self, features: pd.DataFrame, source: str = "the input") -> np.ndarray:
        """Raw rows -> the model's float32 matrix; extra columns are ignored, missing ones are an ``HfaError``."""
        columns = {str(c): c for c in features.columns}
        missing = [name for name in self.input_columns if name not in columns]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:_SHOWN])
            more = f" ({len(missing)} in all)" if len(missing) > _SHOWN else ""
            raise HfaError(f"{source} lacks the feature column(s) {shown}{more} that the model was trained on")
        out = np.empty((len(features), self.n_features), dtype=np.float32)
        self._numbers(features, columns, source, out)
        at = len(self.numeric)
        rows = np.arange(len(features))
        for column in self.categorical:
            block = out[:, at : at + len(column.categories)]
            block[:] = 0.0
            level = self._level_codes(features[columns[column.name]], column, source)
            known = level >= 0  # an unseen level encodes as all zeros
            block[rows[known], level[known]] = 1.0
            at += len(column.categories)
        return out

    def _numbers(self, features: pd.DataFrame, columns: Mapping[str, Any], source: str, out: np.ndarray) -> None:
        """The numeric columns, imputed and standardised, into ``out``'s first columns."""
        for column in self.numeric:
            values = features[columns[column.name]]
            kind = _kind_of(values)
            if kind not in ("number", "bool"):
                raise HfaError(
                    f"column {column.name!r} of {source} holds {kind} ({values.dtype}), but the model was trained "
                    f"on {column.kind}s ({column.dtype}); allowed: numbers or booleans"
                )
        for j, column in enumerate(self.numeric):
            x = features[columns[column.name]].to_numpy(dtype=np.float64, na_value=np.nan)
            # The float64 operations of SimpleImputer then StandardScaler, so the values are theirs bit for bit,
            # rounded to float32 as they are stored; a column at a time, so no float64 copy of the table is made.
            with np.errstate(over="ignore", invalid="ignore"):  # the caller checks the matrix; nothing prints
                out[:, j] = (np.where(np.isnan(x), column.median, x) - column.mean) / column.scale

    @staticmethod
    def _level_codes(values: pd.Series, column: CategoricalColumn, source: str) -> np.ndarray:
        """Each row's level as its index in ``column.categories`` (-1: a level training did not see), by one hash
        lookup a row: comparing every row with every level costs rows x levels."""
        kind = _kind_of(values)
        if kind not in ("text", "category", "bool", "number"):
            raise HfaError(
                f"column {column.name!r} of {source} holds {kind} values, but the model was trained on "
                f"categories ({column.dtype}); allowed: text, categories, booleans or numbers"
            )
        return pd.Index(column.categories, dtype=object).get_indexer(as_text(values))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; floats survive a JSON round trip exactly (Python writes the shortest exact repr)."""
        return {
            "format": FORMAT,
            "numeric": [vars(c) for c in self.numeric],
            "categorical": [{**vars(c), "categories": list(c.categories)} for c in self.categorical],
            "ignored": list(self.ignored),
            "feature_names": list(self.feature_names),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "preprocessing") -> Preprocessing:
        if data.get("format") != FORMAT:
            raise HfaError(f"{source} has format {data.get('format')!r}; this hfa reads format {FORMAT}")
        try:
            return cls(
                numeric=tuple(NumericColumn(**c) for c in data["numeric"]),
                categorical=tuple(
                    CategoricalColumn(c["name"], c["dtype"], tuple(c["categories"])) for c in data["categorical"]
                ),
                ignored=tuple(data["ignored"]),
                feature_names=tuple(data["feature_names"]),
            )
        except (KeyError, TypeError) as error:
            raise HfaError(f"{source} is not a valid preprocessing file ({error})") from None


def _names(numeric: list[str], categorical: list[CategoricalColumn]) -> tuple[str, ...]:
    """Output column names: "age", "job_teacher"; prefixed ("num__age", "cat__job_teacher") only on collisions."""
    dummies = [f"{c.name}_{level}" for c in categorical for level in c.categories]
    short = [*numeric, *dummies]
    if len(set(short)) == len(short):
        return tuple(short)
    return tuple([f"num__{n}" for n in numeric] + [f"cat__{d}" for d in dummies])


def fit_preprocessing(train: pd.DataFrame) -> Preprocessing:
    """Fit on the training rows: medians, means and scales of numbers, the levels of categories."""
    from hfa.data.sklearn_numpy import standard_scaler_fit

    raw_dtypes = {str(c): str(train[c].dtype) for c in train.columns}
    bools = {str(c) for c in train.columns if pd.api.types.is_bool_dtype(train[c])}
    frame = as_model_frame(train)
    category_names = categorical_columns(frame)
    number_names = [c for c in frame.columns if c not in category_names]

    numeric: list[NumericColumn] = []
    ignored: list[str] = []
    if number_names:
        x = frame[number_names].to_numpy(dtype=np.float64, na_value=np.nan)
        empty = np.isnan(x).all(axis=0)
        ignored = [name for name, gone in zip(number_names, empty, strict=True) if gone]
        kept = [name for name, gone in zip(number_names, empty, strict=True) if not gone]
        if kept:
            if empty.any():
                x = x[:, ~empty]
            if np.isnan(x).any():
                from sklearn.impute import SimpleImputer

                imputer = SimpleImputer(strategy="median").fit(x)
                medians, x = imputer.statistics_, imputer.transform(x)
            else:
                # SimpleImputer's median is np.ma.median, which is np.median when nothing is masked; skipping
                # the imputer (and scikit-learn's import) saves seconds on large tables, for the same numbers.
                # A column at a time: np.median partitions a copy of what it is given.
                medians = np.array([np.median(x[:, j]) for j in range(x.shape[1])])
            means, scales = standard_scaler_fit(x)
            numeric = [
                NumericColumn(
                    name,
                    "bool" if name in bools else "number",
                    raw_dtypes[name],
                    float(median),
                    float(mean),
                    float(scale),
                )
                for name, median, mean, scale in zip(kept, medians, means, scales, strict=True)
            ]
    categorical = [
        CategoricalColumn(name, raw_dtypes[name], tuple(sorted(set(frame[name])))) for name in category_names
    ]
    return Preprocessing(
        tuple(numeric), tuple(categorical), tuple(ignored), _names([c.name for c in numeric], categorical)
    )


def fit_transform_splits(frames: Iterable[pd.DataFrame]) -> tuple[list[np.ndarray], list[str], Preprocessing]:
    """Fit on the first frame (the training rows); transform it and the others to float32. Returns (matrices,
    names, preprocessing). Given a generator, each frame is made when its turn comes and dropped once transformed,
    so a large table's splits are never all in memory at once."""
    frames = iter(frames)
    train = next(frames)
    fitted = fit_preprocessing(train)
    matrices = [fitted.transform(train)]
    del train
    matrices += [fitted.transform(frame) for frame in frames]
    return matrices, list(fitted.feature_names), fitted
