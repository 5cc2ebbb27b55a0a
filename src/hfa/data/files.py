"""User tables: a ``.csv`` or ``.parquet`` path in ``data.name``, with ``data.target`` naming the label."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from hfa.config import DataConfig
from hfa.data.columns import refuse_dates, select
from hfa.errors import HfaError, clip

FILE_SUFFIXES = (".csv", ".parquet")
_SHOWN_COLUMNS = 8


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def resolve(name: str) -> Path:
    """The file ``data.name`` points at (relative to the current directory), or an HfaError."""
    path = Path(name).expanduser()
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise HfaError(
            f"unsupported file type {path.suffix!r} in data.name={name!r}; allowed: {', '.join(FILE_SUFFIXES)}"
        )
    resolved = path if path.is_absolute() else Path.cwd() / path
    if not resolved.is_file():
        from hfa.io import missing_file

        raise HfaError(f"data file {name!r} (data.name) {missing_file(resolved)}; looked for {resolved}")
    return resolved


def read_table(name: str) -> pd.DataFrame:
    """The whole table, with pandas' own type inference."""
    path = resolve(name)
    check_header(path, name)
    try:
        table = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except ImportError as error:
        raise HfaError(
            f"reading {name!r} needs a parquet engine: pip install 'hfa[parquet]' ({_one_line(error)})"
        ) from error
    except Exception as error:  # parser errors come in many library-specific types
        raise HfaError(f"could not read data file {name!r}: {_one_line(error)}") from error
    if table.empty:
        raise HfaError(f"data file {name!r} has no rows")
    check_cells(table, f"data file {name!r}")
    return table


def check_header(path: Path, name: str) -> None:
    """Each column name once: pandas would rename a CSV's second ``a`` to ``a.1`` and train on it unasked, and
    pyarrow refuses a Parquet file's in words of its internals."""
    try:
        if path.suffix.lower() == ".csv":
            names = [str(c) for c in pd.read_csv(path, nrows=1, header=None, dtype=str).iloc[0].fillna("")]
        else:
            import pyarrow.parquet as pq

            names = list(pq.read_schema(path).names)
    except Exception:  # unreadable here: read_table's own read says why, in its words
        return
    twice = next(((n, k) for n, k in Counter(names).items() if k > 1), None)
    if twice is not None:
        raise HfaError(
            f"data file {name!r} has {twice[1]} columns named {clip(twice[0], 40)!r}; give each column its own name"
        )


def check_cells(table: pd.DataFrame, what: str) -> None:
    """Every cell a single value: a Parquet column of lists, arrays or mappings is refused, naming the column."""
    for column in table.columns:
        values = table[column]
        if values.dtype != object:
            continue
        nested = values.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray)).to_numpy(dtype=bool)
        if nested.any():
            row = int(np.flatnonzero(nested)[0])
            kind = type(values.iloc[row]).__name__
            raise HfaError(
                f"column {str(column)[:80]!r} of {what} holds {kind} values (row {row + 1}); "
                "allowed: numbers, text or booleans, one per cell"
            )


def show_columns(columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:_SHOWN_COLUMNS])
    return shown if len(columns) <= _SHOWN_COLUMNS else f"{shown}, ... ({len(columns)} in all)"


def split_targets(table: pd.DataFrame, cfg: DataConfig, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features (chosen by ``data.features`` / ``data.drop`` / ``data.id``) and the label columns named by
    ``data.target`` (one, or a list for a multi-label run)."""
    columns = [str(c) for c in table.columns]
    table.columns = columns
    if cfg.target is None:
        raise HfaError(
            f"data.target is required for the data file {name!r}: name its label column, one of: "
            f"{show_columns(columns)}"
        )
    targets = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)
    for target in targets:
        if target not in columns:
            raise HfaError(f"data.target={target!r} is not a column of {name!r}; columns: {show_columns(columns)}")
    features = select(table, targets, name, cfg.features, cfg.drop, cfg.id)
    if features.shape[1] == 0:
        shown = targets[0] if len(targets) == 1 else targets
        raise HfaError(
            f"data file {name!r} has no feature columns besides data.target={shown!r} and those data.drop/data.id "
            "leave out"
        )
    refuse_dates(features, name, selected=cfg.features is not None)
    unsupported = [
        c
        for c in features.columns
        if not (
            pd.api.types.is_numeric_dtype(features[c])
            or pd.api.types.is_bool_dtype(features[c])
            or pd.api.types.is_string_dtype(features[c])
            or pd.api.types.is_object_dtype(features[c])
            or isinstance(features[c].dtype, pd.CategoricalDtype)
        )
    ]
    if unsupported:
        kinds = ", ".join(f"{c!r} ({features[c].dtype})" for c in unsupported[:_SHOWN_COLUMNS])
        raise HfaError(
            f"data file {name!r} has columns of a type hfa cannot use: {kinds}; "
            "allowed: numbers, booleans, text/categories (convert them, or leave them out with data.drop)"
        )
    return features, table[targets]
