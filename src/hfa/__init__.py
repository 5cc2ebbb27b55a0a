"""hfa: train binary classifiers on imbalanced data with losses that optimise the reported metric."""

__version__ = "0.1.0"
