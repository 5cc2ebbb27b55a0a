"""hfa.data on user tables (.csv/.parquet): labels, categories, missing values, errors, the shipped example."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hfa.config import DataConfig
from hfa.data import clear_caches, load_raw, prepare_data
from hfa.data.preprocess import MISSING_CATEGORY, fit_transform_splits
from hfa.errors import HfaError

DATASETS = Path(__file__).resolve().parents[1] / "datasets"


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_caches()
    yield
    clear_caches()


def table(rows=400, seed=0):
    """A small mixed-type table: numbers with gaps, a category with gaps, a yes/no label (1 in 5 'yes')."""
    rng = np.random.default_rng(seed)
    label = np.where(np.arange(rows) % 5 == 0, "yes", "no")
    frame = pd.DataFrame(
        {
            "amount": rng.normal(100, 20, rows) + 30 * (label == "yes"),
            "count": rng.integers(0, 10, rows),
            "color": rng.choice(["red", "green", "blue"], rows),
            "flag": rng.random(rows) < 0.5,
            "label": label,
        }
    )
    frame.loc[rng.random(rows) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "color"] = None
    return frame


def write(frame, path: Path) -> str:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


def cfg_for(path, **extra):
    return DataConfig(name=str(path), target="label", positive="yes", **extra)


# --- round trips and preprocessing ----------------------------------------------------------------


def test_csv_and_parquet_give_the_same_splits(tmp_path):
    frame = table()
    from_csv = prepare_data(cfg_for(write(frame, tmp_path / "t.csv"), imbalance_ratio=3))
    from_parquet = prepare_data(cfg_for(write(frame, tmp_path / "t.parquet"), imbalance_ratio=3))
    assert from_csv.feature_names == from_parquet.feature_names
    for attr in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_allclose(getattr(from_csv, attr), getattr(from_parquet, attr), atol=1e-6)
    totals = [from_csv.info["splits"][s] for s in ("train", "val", "test")]
    assert sum(t["positives"] for t in totals) == 80 and sum(t["negatives"] for t in totals) == 240


def test_load_raw_returns_features_and_binary_labels(tmp_path):
    frame = table()
    x, y = load_raw(cfg_for(write(frame, tmp_path / "t.csv")))
    assert list(x.columns) == ["amount", "count", "color", "flag"]
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y, (frame["label"] == "yes").to_numpy())


def test_one_hot_categories_with_missing_as_own_level(tmp_path):
    splits = prepare_data(cfg_for(write(table(), tmp_path / "t.csv")))
    names = splits.feature_names
    one_hot = [f"color_{c}" for c in ["blue", "green", "red", MISSING_CATEGORY]]
    assert set(one_hot) <= set(names)
    assert names[:3] == ["amount", "count", "flag"]  # numbers (and booleans) first, then categories
    columns = [names.index(c) for c in one_hot]
    for x in (splits.x_train, splits.x_val, splits.x_test):
        block = x[:, columns]
        assert set(np.unique(block)) == {0.0, 1.0}
        np.testing.assert_array_equal(block.sum(axis=1), 1)  # exactly one level per row
    assert not np.isnan(splits.x_train).any() and not np.isnan(splits.x_test).any()


def test_missing_numbers_get_the_training_median(tmp_path):
    frame = table()
    splits = prepare_data(cfg_for(write(frame, tmp_path / "t.csv")))
    raw, _ = load_raw(cfg_for(tmp_path / "t.csv"))
    train_amount = raw["amount"].to_numpy()[splits.indices["train"]]
    median = np.nanmedian(train_amount)
    imputed = np.where(np.isnan(train_amount), median, train_amount)
    expected_value = (median - imputed.mean()) / imputed.std()
    column = splits.feature_names.index("amount")
    for name, x in (("train", splits.x_train), ("val", splits.x_val), ("test", splits.x_test)):
        gaps = np.isnan(raw["amount"].to_numpy()[splits.indices[name]])
        assert gaps.any(), name
        np.testing.assert_allclose(x[gaps, column], expected_value, atol=1e-5)


def test_unseen_category_encodes_as_all_zeros():
    train = pd.DataFrame({"v": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    other = pd.DataFrame({"v": [2.0], "c": ["z"]})
    (x_train, x_other), names, _ = fit_transform_splits([train, other])
    assert names == ["v", "c_a", "c_b"]
    np.testing.assert_array_equal(x_other[0, 1:], [0, 0])


def test_relative_path_resolves_against_the_current_directory(tmp_path, monkeypatch):
    write(table(), tmp_path / "t.csv")
    monkeypatch.chdir(tmp_path)
    _, y = load_raw(cfg_for("t.csv"))
    assert y.sum() == 80


def test_a_file_changed_on_disk_is_not_served_from_the_cache(tmp_path):
    path = tmp_path / "t.csv"
    write(table(seed=0), path)
    first = prepare_data(cfg_for(path))
    write(table(seed=1, rows=500), path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    second = prepare_data(cfg_for(path))
    assert sum(second.info["splits"][s]["rows"] for s in ("train", "val", "test")) == 500
    assert first.info["source"]["rows"] == 400


# --- positive labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        ([0, 1, 1, 0], None, [0, 1, 1, 0]),  # {0, 1} needs no data.positive
        ([0.0, 1.0, 1.0, 0.0], None, [0, 1, 1, 0]),
        ([False, True, True, False], None, [0, 1, 1, 0]),
        ([0, 1, 1, 0], 0, [1, 0, 0, 1]),  # ...but data.positive can flip it
        (["0", "1", "1", "0"], 1, [0, 1, 1, 0]),  # YAML 1 matches a text "1"
        ([1, 2, 2, 1], "2", [0, 1, 1, 0]),  # and a quoted "2" matches a number
        ([False, True, True, False], "true", [0, 1, 1, 0]),
        (["a", "b", "c", "a"], "a", [1, 0, 0, 1]),  # one-vs-rest of a multiclass column
    ],
)
def test_positive_label_matching(tmp_path, values, positive, expected):
    rows = 12
    frame = pd.DataFrame({"x": np.arange(rows, dtype=float), "label": values * (rows // len(values))})
    path = write(frame, tmp_path / "t.parquet")  # parquet keeps "0"/"1" as text, unlike CSV
    _, y = load_raw(DataConfig(name=path, target="label", positive=positive))
    np.testing.assert_array_equal(y, expected * (rows // len(values)))


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "cfg", "words"),
    [
        (None, dict(name="{tmp}/absent.csv"), ["absent.csv", "does not exist"]),
        (None, dict(name="{tmp}/data.xlsx"), ["'.xlsx'", "data.xlsx", ".csv", ".parquet"]),
        ("table", dict(target="lable"), ["data.target='lable'", "'amount'", "'label'"]),
        ("table", dict(target=None), ["data.target is required", "'label'"]),
        ("multiclass", dict(positive=None), ["3 classes", "data.positive", "'a'", "'b'", "'c'"]),
        ("table", dict(positive=None), ["'no'", "'yes'", "set data.positive"]),
        ("table", dict(positive="maybe"), ["data.positive='maybe'", "'label'", "'no'", "'yes'"]),
        ("gaps", dict(), ["2 missing label values", "'label'", "fill or drop"]),
        ("single", dict(), ["single label value", "'yes'"]),
        ("dates", dict(), ["'when'", "holds dates", "data.drop=[when]"]),
        ("only_target", dict(), ["no feature columns"]),
        ("table", dict(imbalance_ratio=200), ["leaves", "positive", "largest reachable ratio"]),
    ],
)
def test_file_errors_name_the_problem(tmp_path, frame, cfg, words):
    frames = {
        "table": table(),
        "multiclass": pd.DataFrame({"x": range(30), "label": ["a", "b", "c"] * 10}),
        "gaps": table().assign(label=lambda f: f["label"].mask(f.index.isin([3, 7]))),
        "single": table().assign(label="yes"),
        "dates": table().assign(when=pd.Timestamp("2024-01-01")),
        "only_target": table()[["label"]],
    }
    name = cfg.pop("name", "{tmp}/t.parquet").format(tmp=tmp_path)
    if frame is not None:
        write(frames[frame], Path(name))
    settings = {"target": "label", "positive": "yes", **cfg}
    with pytest.raises(HfaError) as error:
        prepare_data(DataConfig(name=name, **settings))
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_unreadable_csv_is_a_user_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b'a,b\n1,"unterminated\n')
    with pytest.raises(HfaError, match="could not read data file"):
        load_raw(DataConfig(name=str(path), target="a"))


# --- the shipped example -----------------------------------------------------------------------------


def test_shipped_credit_example_prepares():
    cfg = DataConfig(name=str(DATASETS / "credit_example.csv"), target="default", positive="yes")
    splits = prepare_data(cfg)
    assert splits.info["source"] == {"rows": 800, "positives": 120, "negatives": 680, "ratio": 680 / 120}
    assert "employment_unemployed" in splits.feature_names
    assert "employment_" + MISSING_CATEGORY in splits.feature_names
    harder = prepare_data(cfg.model_copy(update={"imbalance_ratio": 20}))
    assert harder.info["splits"]["test"]["positives"] >= 5


def test_shipped_credit_example_matches_its_generator():
    spec = importlib.util.spec_from_file_location("make_credit_example", DATASETS / "make_credit_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.make().to_csv(index=False, lineterminator="\n") == (DATASETS / "credit_example.csv").read_text()
    assert (DATASETS / "credit_example.csv").stat().st_size < 50_000


_LEVELS = ["a", "b", "c", "10", "1.5", "x y", "é"]


@given(
    train=st.lists(st.sampled_from([*_LEVELS, None]), min_size=2, max_size=40),
    new=st.lists(st.sampled_from([*_LEVELS, None, "unseen", "A"]), min_size=1, max_size=40),
)
@settings(max_examples=60, deadline=None, derandomize=True)
def test_one_hot_encoding_is_scikit_learns_with_unknown_levels_ignored(train, new):
    """Any levels, gaps and unseen values: the categories block equals OneHotEncoder(handle_unknown="ignore")
    fitted on the same training column, a missing value being a level of its own."""
    from sklearn.preprocessing import OneHotEncoder

    from hfa.data.preprocess import as_text, fit_preprocessing

    fitted = fit_preprocessing(pd.DataFrame({"v": np.arange(len(train), dtype=float), "c": train}))
    reference = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    reference.fit(as_text(pd.Series(train, dtype=object)).to_frame())
    rows = pd.DataFrame({"v": np.zeros(len(new)), "c": new})
    expected = reference.transform(as_text(pd.Series(new, dtype=object)).to_frame())
    np.testing.assert_array_equal(fitted.transform(rows)[:, 1:], expected)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    names=st.lists(st.sampled_from(["a", "b", "c", "x y", "é"]), min_size=2, max_size=5),
    parquet=st.booleans(),
)
def test_a_column_name_given_twice_is_refused_not_renamed(tmp_path_factory, names, parquet):
    """pandas reads a CSV's second ``a`` as ``a.1``: training on a column the file does not name is refused."""
    if parquet and importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyarrow is not installed")
    folder = tmp_path_factory.mktemp("dup")
    columns = [*names, "y"]
    path = folder / ("t.parquet" if parquet else "t.csv")
    if parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = [pa.array(np.arange(40.0)) for _ in names] + [pa.array(["yes", "no"] * 20)]
        pq.write_table(pa.table(arrays, names=columns), path)
    else:
        rows = [",".join(f'"{c}"' for c in columns)] + [
            ",".join([str(i)] * len(names) + ["yes" if i % 2 else "no"]) for i in range(40)
        ]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = DataConfig(name=str(path), target="y", positive="yes")
    clear_caches()
    if len(set(names)) == len(names):
        load_raw(cfg)
        return
    with pytest.raises(HfaError, match="columns named"):
        load_raw(cfg)
