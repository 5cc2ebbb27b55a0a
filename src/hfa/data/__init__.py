"""Data: named data sets and user tables -> imbalance subsampling -> stratified split -> preprocessing.

from hfa.data import prepare_data
splits = prepare_data(config.data)      # Splits: x_/y_ train/val/test as float32, feature_names, info

Names are imported on first use, so ``hfa.data.listing`` (the shipped table ``hfa datasets`` prints) loads
without pandas or scikit-learn.
"""

import importlib

_EXPORTS = {
    "MIN_POSITIVES": "splits",
    "SKLEARN_DATASETS": "named",
    "Splits": "splits",
    "clear_caches": "splits",
    "kept_counts": "imbalance",
    "list_datasets": "catalog",
    "load_raw": "sources",
    "parse_name": "sources",
    "prepare_data": "splits",
    "stratified_split": "splits",
    "subsample_to_ratio": "imbalance",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> object:
    submodule = _EXPORTS.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value  # found once; later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
