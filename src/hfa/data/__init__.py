"""Data: named data sets and user tables -> imbalance subsampling -> stratified split -> preprocessing.

from hfa.data import prepare_data
splits = prepare_data(config.data)      # Splits: x_/y_ train/val/test as float32, feature_names, info

Names are imported on first use, so ``hfa.data.listing`` (the shipped table ``hfa datasets`` prints) loads
without pandas or scikit-learn.
"""

from hfa._lazy import lazy_exports

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
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
