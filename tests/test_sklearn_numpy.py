"""hfa.data.sklearn_numpy against scikit-learn itself: the same bits for generated inputs, the same refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from hfa.data.sklearn_numpy import make_blobs as numpy_blobs
from hfa.data.sklearn_numpy import standard_scaler_fit, stratified_cut


@settings(max_examples=60, deadline=None)
@given(
    n_samples=st.integers(1, 400),
    n_centers=st.integers(1, 4),
    n_features=st.integers(1, 6),
    std=st.floats(0.1, 20.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_make_blobs_bits(n_samples: int, n_centers: int, n_features: int, std: float, seed: int) -> None:
    centers = np.random.RandomState(seed % 1000).uniform(-10, 10, size=(n_centers, n_features))
    x, y = make_blobs(n_samples=n_samples, centers=centers, cluster_std=std, random_state=seed)
    ours_x, ours_y = numpy_blobs(n_samples, centers, std, seed)
    assert ours_x.dtype == x.dtype and ours_y.dtype == y.dtype
    assert np.array_equal(ours_x, x) and np.array_equal(ours_y, y)


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(0, 60), min_size=1, max_size=4),
    test_size=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**31 - 1),
    shuffled=st.booleans(),
)
def test_stratified_cut_matches_train_test_split(
    counts: list[int], test_size: float, seed: int, shuffled: bool
) -> None:
    y = np.repeat(np.arange(len(counts)), counts).astype(np.int8)
    if shuffled:
        y = np.random.RandomState(seed % 97).permutation(y)
    rows = np.arange(len(y))
    try:
        expected = train_test_split(rows, test_size=test_size, stratify=y, random_state=seed)
    except ValueError:
        with pytest.raises(ValueError):
            stratified_cut(y, test_size, seed)
        return
    train, test = stratified_cut(y, test_size, seed)
    assert np.array_equal(train, expected[0]) and np.array_equal(test, expected[1])


def test_stratified_cut_ties_and_refusals() -> None:
    # Equal remainders: _approximate_mode breaks the tie with a draw, which must come from the same stream.
    y = np.array([0] * 5 + [1] * 5 + [2] * 5)
    for seed in range(20):
        expected = train_test_split(np.arange(15), test_size=0.2, stratify=y, random_state=seed)
        ours = stratified_cut(y, 0.2, seed)
        assert all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))
    for bad in (np.array([0, 0, 0, 1]), np.array([0, 1, 0, 1])):
        with pytest.raises(ValueError):
            train_test_split(np.arange(len(bad)), test_size=0.25, stratify=bad, random_state=0)
        with pytest.raises(ValueError):
            stratified_cut(bad, 0.25, 0)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 5),
    scale=st.sampled_from([1e-12, 1.0, 1e3, 1e12]),
    offset=st.sampled_from([0.0, 1.0, -1e6, 1e9]),
    constant=st.booleans(),
    fortran=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_standard_scaler_bits(
    n: int, d: int, scale: float, offset: float, constant: bool, fortran: bool, seed: int
) -> None:
    x = np.random.RandomState(seed).normal(offset, scale, size=(n, d))
    if constant:
        x[:, 0] = offset + 0.1
    if fortran:
        x = np.asfortranarray(x)
    fitted = StandardScaler().fit(x)
    mean, scale_ = standard_scaler_fit(x)
    assert np.array_equal(mean, fitted.mean_) and np.array_equal(scale_, fitted.scale_)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 200),
    d=st.integers(1, 4),
    missing=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_preprocessing_is_imputer_then_scaler(n: int, d: int, missing: float, seed: int) -> None:
    """fit_preprocessing + transform (numpy where nothing is missing, a column at a time) against scikit-learn's
    SimpleImputer(median) then StandardScaler on the same frame, rounded to float32 as hfa stores it."""
    import pandas as pd
    from sklearn.impute import SimpleImputer

    from hfa.data.preprocess import fit_preprocessing

    rng = np.random.RandomState(seed)
    x = rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 10), size=(n, d))
    x[rng.uniform(size=(n, d)) < missing] = np.nan
    x[0] = rng.normal(size=d)  # every column keeps a value
    frame = pd.DataFrame(x, columns=[f"c{j}" for j in range(d)])
    fitted = fit_preprocessing(frame)
    imputer = SimpleImputer(strategy="median").fit(frame.to_numpy())
    imputed = imputer.transform(frame.to_numpy())
    scaler = StandardScaler().fit(imputed)
    assert [c.median for c in fitted.numeric] == imputer.statistics_.tolist()
    assert [c.mean for c in fitted.numeric] == scaler.mean_.tolist()
    assert [c.scale for c in fitted.numeric] == scaler.scale_.tolist()
    assert np.array_equal(fitted.transform(frame), scaler.transform(imputed).astype(np.float32))
