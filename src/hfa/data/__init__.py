"""Data: named data sets and user tables -> imbalance subsampling -> stratified split -> preprocessing.

from hfa.data import prepare_data
splits = prepare_data(config.data)      # Splits: x_/y_ train/val/test as float32, feature_names, info
"""

from hfa.data.catalog import list_datasets
from hfa.data.imbalance import kept_counts, subsample_to_ratio
from hfa.data.named import SKLEARN_DATASETS
from hfa.data.sources import load_raw, parse_name
from hfa.data.splits import MIN_POSITIVES, Splits, clear_caches, prepare_data, stratified_split

__all__ = [
    "MIN_POSITIVES",
    "SKLEARN_DATASETS",
    "Splits",
    "clear_caches",
    "kept_counts",
    "list_datasets",
    "load_raw",
    "parse_name",
    "prepare_data",
    "stratified_split",
    "subsample_to_ratio",
]
