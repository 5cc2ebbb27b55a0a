"""Turn a label column of any type into y in {0, 1}, given (or inferring) the positive label.

YAML and table files disagree about types (a config's ``positive: 1`` is an int, the column may hold the
strings "1", floats 1.0 or bools), so labels are compared through a canonical text key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from hfa.errors import HfaError

_SHOWN_VALUES = 10


def label_key(value: Any) -> str:
    """The text a label compares as: 1, 1.0 and "1" agree; True, "true" and "True" agree."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    return text.lower() if text.lower() in ("true", "false") else text


def show_values(values: list[Any]) -> str:
    """A short, stable listing of label values for an error message."""
    ordered = sorted(values, key=label_key)
    shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in ordered[:_SHOWN_VALUES])
    return shown if len(ordered) <= _SHOWN_VALUES else f"{shown}, ... ({len(ordered)} in all)"


def binarize(
    labels: pd.Series | np.ndarray,
    positive: Any,
    *,
    what: str,
    default: Any = None,
    aliases: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Labels -> int8 array, 1 where the label is the positive one.

    ``positive`` is the user's ``data.positive`` (None = not given); ``default`` is the source's own
    positive label; ``aliases`` maps extra keys to labels (e.g. class codes to class names); ``what``
    names the labels in error messages (e.g. "column 'label' of data.csv").
    """
    labels = pd.Series(labels)
    missing = labels.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise HfaError(
            f"{what} has {int(missing.sum())} missing label values (first at row {first}); fill or drop those rows"
        )
    # Only the distinct values are looked at one by one; rows are matched with a vectorised isin.
    values = list(pd.unique(labels))
    keys = {label_key(v) for v in values}
    if len(values) < 2:
        raise HfaError(f"{what} has a single label value {show_values(values)}; a binary classifier needs two")

    if positive is None:
        positive = default
    if positive is None:
        if keys == {"0", "1"}:
            positive = 1
        elif keys == {"false", "true"}:
            positive = True
        elif len(values) == 2:
            raise HfaError(f"{what} has the labels {show_values(values)}; set data.positive to the positive one")
        else:
            raise HfaError(
                f"{what} has {len(values)} classes; set data.positive to the one that is positive "
                f"(one-vs-rest), one of: {show_values(values)}"
            )

    wanted = label_key(positive)
    if wanted not in keys and aliases and wanted in aliases:
        wanted = label_key(aliases[wanted])
    matched = [v for v in values if label_key(v) == wanted] or _as_yaml_read_it(values, wanted, what)
    if not matched:
        raise HfaError(f"data.positive={positive!r} is not a label of {what}; labels: {show_values(values)}")
    return labels.isin(matched).to_numpy().astype(np.int8)


def _as_yaml_read_it(values: list[Any], wanted: str, what: str) -> list[Any]:
    """The label whose text YAML turns into ``data.positive``'s value: ``yes`` became True, ``0x1A`` 26, ...

    A config or override is read as YAML before hfa sees it, so the text the user typed is gone; reading each
    label's text the same way finds the one they meant.
    """
    import yaml

    from hfa.config import load_yaml

    found = []
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            read = load_yaml(value)
        except yaml.YAMLError:
            continue
        if not isinstance(read, str) and label_key(read) == wanted:
            found.append(value)
    if len(found) > 1:
        raise HfaError(
            f"data.positive matches several labels of {what} once read as YAML ({show_values(found)}); "
            "quote the one you mean, e.g. data.positive='\"yes\"'"
        )
    return found
