"""``data.name`` -> features and binary labels, whichever kind of source it names."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from hfa.config import DataConfig
from hfa.data import files, multilabel, named
from hfa.data.columns import check_copies
from hfa.data.labels import binarize
from hfa.errors import HfaError

SourceKind = Literal["synthetic", "paper", "sklearn", "keel", "mulan", "file"]
MULTILABEL_PREFIXES = ("mulan/",)
"""``data.name`` prefixes of multi-label named data sets (every label column is a target)."""


def parse_name(name: str) -> tuple[SourceKind, str]:
    """Which kind of source ``data.name`` is, and the name within it (the path, for files)."""
    text = name.strip()
    prefix, _, rest = text.partition("/")
    if text.lower() == "synthetic":
        return "synthetic", "synthetic"
    if text.lower() in named.PAPER_SETS:
        return "paper", text.lower()
    # A table path wins over the prefixes, so a folder called keel/ or sklearn/ still works.
    if Path(text).suffix.lower() in files.FILE_SUFFIXES:
        return "file", text
    if prefix.lower() in ("sklearn", "keel", "mulan") and rest:
        return prefix.lower(), rest.strip().lower()  # type: ignore[return-value]
    if Path(text).suffix:
        return "file", text
    hint = ""
    if "/" not in text:
        try:
            hint = f" (did you mean 'keel/{named.keel_name(text)}'?)"
        except HfaError:
            hint = f" (did you mean 'sklearn/{text.lower()}'?)" if text.lower() in named.SKLEARN_DATASETS else ""
    raise HfaError(
        f"unknown data set {name!r} in data.name{hint}; allowed: synthetic, synthetic_33, synthetic_05, "
        "sklearn/<name>, keel/<name>, mulan/yeast, "
        "or a .csv/.parquet path"
    )


def load_raw(cfg: DataConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (numeric and/or categorical columns) and labels y in {0, 1} (int8), before any subsampling.

    Multi-label data (a list of targets, or a ``mulan/`` set) gives y of shape ``(n, L)``, its columns named by
    :func:`target_names`. Named data sets come from a cache, so the frame returned is a copy the caller may change.
    """
    kind, key = parse_name(cfg.name)
    if kind != "file":
        for field in ("target", "features", "drop", "id"):
            value = getattr(cfg, field)
            if value not in (None, []):
                raise HfaError(
                    f"data.{field}={value!r} only applies to .csv/.parquet files, not to data.name={cfg.name!r}; "
                    "remove it"
                )
    if kind == "mulan":
        features, labels = multilabel.mulan_dataset(key)
        return features.copy(), multilabel.binarize_targets(labels, cfg.positive, what=f"mulan/{key}")
    if isinstance(cfg.positive, dict) and not isinstance(cfg.target, list):
        raise HfaError("data.positive as a mapping (column -> value) applies to a list of targets only; give one value")
    if kind == "file":
        features, labels = files.split_targets(files.read_table(key), cfg, key)
        if isinstance(cfg.target, list):
            y = multilabel.binarize_targets(labels, cfg.positive, what=repr(key))
        else:
            y = binarize(labels[cfg.target], cfg.positive, what=f"column {cfg.target!r} of {key!r}")
        check_copies(features, labels, y, key)
        return features.reset_index(drop=True), y

    if kind == "synthetic":
        source = named.synthetic(cfg.n_samples, cfg.n_features, cfg.cluster_std, cfg.drawn_seed)
        what = "synthetic"
    elif kind == "paper":
        source = named.paper_synthetic(key, cfg.drawn_seed)
        what = key
    elif kind == "sklearn":
        source = named.sklearn_dataset(key)
        what = f"sklearn/{key}"
    else:
        key = named.keel_name(key)
        source = named.keel_dataset(key)
        what = f"keel/{key}"
    y = binarize(source.labels, cfg.positive, what=what, default=source.default_positive, aliases=source.aliases)
    return source.features.copy(), y


def target_names(cfg: DataConfig) -> list[str]:
    """The label columns of multi-label data, in output order (``[]`` for single-label data)."""
    kind, key = parse_name(cfg.name)
    if kind == "mulan":
        return [str(c) for c in multilabel.mulan_dataset(key)[1].columns]
    return list(cfg.target) if isinstance(cfg.target, list) else []


def display_name(cfg: DataConfig) -> str:
    """How messages and summaries name the data set (canonical spelling for named ones)."""
    kind, key = parse_name(cfg.name)
    if kind == "keel":
        return f"keel/{named.keel_name(key)}"
    if kind in ("sklearn", "mulan"):
        return f"{kind}/{key}"
    return key
