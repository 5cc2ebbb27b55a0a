"""Three of scikit-learn's data steps written in numpy: the same draws and float64 operations, so the same bits.

``hfa train`` on synthetic or complete tabular data needs from scikit-learn only ``make_blobs``, a stratified
``train_test_split`` and ``StandardScaler``'s mean and scale; importing scikit-learn costs ~1 s of start-up
(``sklearn.base`` imports ``scipy.stats``), a third of a 100k-row run. Each function here follows scikit-learn
1.9's code step for step (random draws in the same order from the same ``RandomState``, the same reductions), and
``tests/test_sklearn_numpy.py`` checks every output against scikit-learn's, bit for bit, over generated inputs.
Data with missing values still goes through scikit-learn's ``SimpleImputer`` (``hfa.data.preprocess``).
"""

from __future__ import annotations

import math

import numpy as np


def make_blobs(
    n_samples: int, centers: np.ndarray, cluster_std: float, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_blobs(n_samples, centers=centers, cluster_std=cluster_std, random_state=...)``."""
    rng = np.random.RandomState(random_state)
    centers = np.asarray(centers, dtype=np.float64)
    n_centers, n_features = centers.shape
    per_center = [n_samples // n_centers] * n_centers
    for i in range(n_samples % n_centers):
        per_center[i] += 1
    x = np.empty((n_samples, n_features), dtype=np.float64)
    y = np.empty(n_samples, dtype=int)
    start = 0
    for i, n in enumerate(per_center):
        x[start : start + n] = rng.normal(loc=centers[i], scale=cluster_std, size=(n, n_features))
        y[start : start + n] = i
        start += n
    order = np.arange(n_samples)  # sklearn.utils.shuffle: a permutation drawn by RandomState.shuffle
    rng.shuffle(order)
    return x[order], y[order]


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """``sklearn.utils.extmath._approximate_mode``: per-class draws, ties in the remainders broken at random."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def stratified_cut(y: np.ndarray, test_size: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(train, test)`` as ``train_test_split(arange(len(y)), test_size=..., stratify=y,
    random_state=...)`` returns them; the same ``ValueError`` where scikit-learn refuses the cut."""
    n_samples = len(y)
    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size} should be a float in the (0, 1) range")
    n_test = math.ceil(test_size * n_samples)
    n_train = n_samples - n_test
    if n_train == 0:
        raise ValueError(f"With n_samples={n_samples} and test_size={test_size}, the train set would be empty")
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    n_classes = classes.shape[0]
    if np.min(class_counts) < 2:
        raise ValueError("The least populated class in y has only 1 member, which is too few")
    if n_train < n_classes or n_test < n_classes:
        raise ValueError(f"train ({n_train}) and test ({n_test}) sizes must reach the number of classes {n_classes}")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(random_state)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i in range(n_classes):
        shuffled = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(shuffled[: n_i[i]])
        test.extend(shuffled[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


def standard_scaler_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``StandardScaler().fit(x)``'s ``(mean_, scale_)`` for a float64 matrix without missing values.

    scikit-learn's first ``partial_fit``: ``_incremental_mean_and_var`` from a count of 0 (the corrected two-pass
    variance), then a scale of 1 for features whose variance is within rounding of 0 (``_is_constant_feature``).
    """
    n = np.zeros(x.shape[1]) + (x.shape[0] - np.zeros(x.shape[1]))  # sklearn's float64 sample counts
    new_sum = np.sum(x, axis=0)
    mean = (0.0 + new_sum) / n
    temp = x - new_sum / n
    correction = np.sum(temp, axis=0)
    temp **= 2
    variance = np.sum(temp, axis=0)
    variance -= correction**2 / n
    variance = variance / n
    count = n[0]
    eps = np.finfo(np.float64).eps
    constant = variance <= count * eps * variance + (count * mean * eps) ** 2
    scale = np.sqrt(variance)
    scale[constant] = 1.0
    return mean, scale
