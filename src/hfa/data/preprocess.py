"""Features -> float32 matrix: median-impute + standardise numbers, one-hot categories.

Fitted on the training split only, so nothing about validation or test rows leaks into training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

MISSING_CATEGORY = "(missing)"


def categorical_columns(features: pd.DataFrame) -> list[str]:
    """Columns one-hot encoded: everything that is neither a number nor a boolean."""
    return [
        c
        for c in features.columns
        if not (pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c]))
    ]


def as_model_frame(features: pd.DataFrame) -> pd.DataFrame:
    """A row-wise (so leak-free) clean-up before fitting: booleans as 0/1, categories as plain text.

    Missing categories become their own level, and mixed-type category columns (1 and "a") become
    uniform text, which OneHotEncoder requires.
    """
    frame = features.copy()
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            frame[column] = values.astype(np.float64)
        elif not pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype(object).where(values.notna(), MISSING_CATEGORY).astype(str)
            frame[column] = frame[column].astype(object)
    return frame


def build_preprocessor(frame: pd.DataFrame) -> ColumnTransformer:
    categorical = categorical_columns(frame)
    numeric = [c for c in frame.columns if c not in categorical]
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ],
        sparse_threshold=0.0,
    )


def feature_names(transformer: ColumnTransformer) -> list[str]:
    """Output column names: "age", "job_teacher"; prefixed only where short names would collide."""
    transformer.set_params(verbose_feature_names_out=False)
    try:
        return [str(n) for n in transformer.get_feature_names_out()]
    except ValueError:
        transformer.set_params(verbose_feature_names_out=True)
        return [str(n) for n in transformer.get_feature_names_out()]


def fit_transform_splits(
    train: pd.DataFrame, *others: pd.DataFrame
) -> tuple[list[np.ndarray], list[str], ColumnTransformer]:
    """Fit on ``train``; transform it and ``others`` to float32. Returns (matrices, names, transformer)."""
    train = as_model_frame(train)
    transformer = build_preprocessor(train)
    matrices = [transformer.fit_transform(train)]
    matrices += [transformer.transform(as_model_frame(frame)) for frame in others]
    names = feature_names(transformer)
    return [np.ascontiguousarray(m, dtype=np.float32) for m in matrices], names, transformer
