"""Choosing the feature columns of a user table (data.features / data.drop / data.id), dates, and leak checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hfa.cli import app
from hfa.config import DataConfig, load_config
from hfa.data import clear_caches, load_raw, prepare_data
from hfa.data.columns import date_columns, separating_features
from hfa.errors import HfaError


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_caches()
    yield
    clear_caches()


def churn_table(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Numbers, a category, an id, a date and three label columns (``churn`` yes/no, ``upsell``, ``refund``)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    churn = (x[:, 0] + rng.normal(size=rows) > 1.0).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(rows)],
            "signup": pd.date_range("2021-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "spend": x[:, 0],
            "visits": x[:, 1],
            "plan": rng.choice(["basic", "pro"], rows),
            "churn": np.where(churn == 1, "yes", "no"),
            "upsell": rng.integers(0, 2, rows),
            "refund": rng.integers(0, 2, rows),
        }
    )


def write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def test_drop_and_id_leave_columns_out_and_features_select(tmp_path):
    path = write(churn_table(), tmp_path / "t.csv")
    dropped = DataConfig(
        name=path, target="churn", positive="yes", drop=["signup", "upsell", "refund"], id="customer_id"
    )
    features, y = load_raw(dropped)
    assert list(features.columns) == ["spend", "visits", "plan"]
    assert y.sum() == (churn_table()["churn"] == "yes").sum()
    chosen = DataConfig(name=path, target="churn", positive="yes", features=["visits", "spend"])
    assert list(load_raw(chosen)[0].columns) == ["visits", "spend"]
    splits = prepare_data(dropped)
    assert splits.feature_names == ["spend", "visits", "plan_basic", "plan_pro"]


def test_other_label_columns_are_features_unless_dropped(tmp_path):
    path = write(churn_table(), tmp_path / "t.csv")
    features, _ = load_raw(DataConfig(name=path, target="churn", positive="yes", drop=["signup"]))
    assert {"upsell", "refund", "customer_id"} <= set(features.columns)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"drop": ["signup", "nope"]}, "data.drop names 'nope', which is not a column"),
        ({"features": ["spend", "nope"]}, "data.features names 'nope', which is not a column"),
        ({"id": "nope", "drop": ["signup"]}, "data.id names 'nope', which is not a column"),
        ({}, "column 'signup' of"),
        ({"features": ["spend", "signup"]}, "leave it out of data.features"),
    ],
)
def test_bad_column_choices_are_one_line_errors(tmp_path, extra, words):
    path = write(churn_table(), tmp_path / "t.csv")
    with pytest.raises(HfaError, match=words):
        load_raw(DataConfig(name=path, target="churn", positive="yes", **extra))


def test_date_error_names_the_key_that_drops_it(tmp_path):
    path = write(churn_table(), tmp_path / "t.csv")
    with pytest.raises(HfaError) as caught:
        load_raw(DataConfig(name=path, target="churn", positive="yes"))
    assert "holds dates" in str(caught.value) and "data.drop=[signup]" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["data.features=[a,b]", "data.drop=[b]"], "'b' is both in data.features and in data.drop"),
        (["data.target=y", "data.features=[a,y]"], "target column 'y' is in data.features"),
        (["data.target=y", "data.drop=[y]"], "target column 'y' is in data.drop"),
        (["data.target=[y,z]", "data.drop=[z]"], "target column 'z' is in data.drop"),
        (["data.target=y", "data.id=y"], "data.id='y' is a target column"),
        (["data.id=a", "data.features=[a,b]"], "data.id='a' is in data.features"),
        (["data.features=[]"], "data.features is empty"),
        (["data.drop=[a,a]"], "lists a column twice"),
    ],
)
def test_contradictory_column_keys_are_refused_by_the_config(overrides, words):
    with pytest.raises(HfaError, match=words):
        load_config(None, ["data.name=t.csv", *overrides])


def test_column_keys_apply_to_files_only():
    with pytest.raises(HfaError, match="data.drop=.* only applies to .csv/.parquet files"):
        load_raw(DataConfig(name="synthetic", drop=["x0"]))


def test_unset_column_keys_keep_run_ids_and_resolved_config():
    from hfa.config import canonical, run_id

    base = load_config(None, ["data.name=t.csv", "data.target=y"])
    assert "drop" not in canonical(base)["data"] and "id" not in canonical(base)["data"]
    dropped = load_config(None, ["data.name=t.csv", "data.target=y", "data.drop=[c]"])
    assert canonical(dropped)["data"]["drop"] == ["c"] and run_id(dropped) != run_id(base)


def test_positive_is_stored_as_written():
    from hfa.config import canonical

    cfg = load_config(None, ["data.name=t.csv", "data.target=y", "data.positive=Yes", "train.stack=true"])
    assert canonical(cfg)["data"]["positive"] == "Yes" and cfg.train.stack is True
    # Settings are taken as written (strict types): "yes" is text, not a boolean.
    with pytest.raises(HfaError, match="train.stack"):
        load_config(None, ["train.stack=yes"])


def test_date_columns_by_dtype_and_by_text():
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "iso": ["2024-01-01T10:00:00", None],
            "text": ["2024-01-01", "soon"],
            "number": [20240101, 20240102],
        }
    )
    assert date_columns(frame) == ["when", "iso"]


# --- leaks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "copy",
    [
        lambda t: t["churn"],  # a duplicate
        lambda t: np.where(t["churn"] == "yes", 1, 0),  # a relabelling
        lambda t: np.where(t["churn"] == "yes", "lost", "kept"),
    ],
)
def test_a_copy_of_the_target_is_refused_naming_both(tmp_path, copy):
    frame = churn_table().drop(columns=["signup"])
    frame["churned_flag"] = copy(frame)
    path = write(frame, tmp_path / "t.csv")
    with pytest.raises(HfaError, match="feature column 'churned_flag' .* target column 'churn'"):
        load_raw(DataConfig(name=path, target="churn", positive="yes"))


def test_a_duplicated_header_is_refused(tmp_path):
    path = tmp_path / "dup.csv"
    rows = ["1.0,0,0", "2.0,1,1", "3.0,0,0", "0.5,1,1"] * 20
    path.write_text("x,y,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(HfaError, match="has 2 columns named 'y'; give each column its own name"):
        load_raw(DataConfig(name=str(path), target="y"))


def test_a_copy_of_one_target_of_several_is_refused(tmp_path):
    frame = churn_table().drop(columns=["signup"])
    frame["refund_again"] = frame["refund"]
    path = write(frame, tmp_path / "t.csv")
    with pytest.raises(HfaError, match="'refund_again' .* target column 'refund'"):
        load_raw(DataConfig(name=path, target=["upsell", "refund"], drop=["churn"]))


def test_separating_features_by_hand():
    y = np.array([0, 0, 0, 1, 1])
    frame = pd.DataFrame(
        {
            "above": [1.0, 2.0, np.nan, 5.0, 6.0],  # every positive above every negative (the gap ignored)
            "below": [9, 8, 7, 1, 0],
            "touching": [1, 2, 3, 3, 4],  # a tie across the classes: not separated
            "level": ["a", "a", "b", "c", "c"],  # each level one class, 3 levels: not fewer than 2 positives
            "mixed": ["a", "b", "a", "b", "a"],
        }
    )
    assert separating_features(frame, y) == ["above", "below"]
    y2 = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    frame2 = pd.DataFrame({"group": ["n", "n", "m", "p", "p", "p", "m", "p"]})
    assert separating_features(frame2, y2) == ["group"]


def test_train_warns_of_a_separating_feature_and_records_it(tmp_path):
    frame = churn_table(rows=300).drop(columns=["signup", "upsell", "refund"])
    frame["outcome_code"] = np.where(frame["churn"] == "yes", 10.0, 0.0) + np.random.default_rng(1).random(300)
    path = write(frame, tmp_path / "t.csv")
    result = CliRunner().invoke(
        app,
        [
            "train",
            "name=w",
            f"data.name={path}",
            "data.target=churn",
            "data.positive=yes",
            "data.id=customer_id",
            "train.epochs=2",
            "--out",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "warning: feature 'outcome_code' alone separates the classes" in " ".join(result.output.split())
    import json

    (run_json,) = (tmp_path / "runs" / "w").glob("*/run.json")
    info = json.loads(run_json.read_text())
    assert info["data"]["separating_features"] == ["outcome_code"]
    assert info["val_positives"] == int(
        prepare_data(
            load_config(
                None, [f"data.name={path}", "data.target=churn", "data.positive=yes", "data.id=customer_id"]
            ).resolved_data()
        ).y_val.sum()
    )
    assert any("outcome_code" in line for line in info["warnings"])
    # Predict carries the run's data.id through; rows without that column are scored without ids, and it says so.
    with_ids = CliRunner().invoke(app, ["predict", str(run_json.parent), str(path)])
    assert with_ids.exit_code == 0 and with_ids.stdout.startswith("customer_id,score,label"), with_ids.output
    bare = write(frame.drop(columns=["customer_id"]), tmp_path / "bare.csv")
    without = CliRunner().invoke(app, ["predict", str(run_json.parent), str(bare)])
    assert without.exit_code == 0 and without.stdout.startswith("score,label"), without.output
    assert "has no column 'customer_id' (the run's data.id)" in " ".join(without.stderr.split())


def test_a_refused_table_creates_nothing(tmp_path):
    frame = churn_table().drop(columns=["signup"])
    frame["dup"] = frame["churn"]
    path = write(frame, tmp_path / "t.csv")
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app, ["train", "name=x", f"data.name={path}", "data.target=churn", "data.positive=yes", "--out", str(out)]
    )
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_failed_multilabel_check_creates_nothing(tmp_path):
    frame = churn_table().drop(columns=["signup"])
    frame["rare"] = (np.arange(len(frame)) < 3).astype(int)
    path = write(frame, tmp_path / "t.csv")
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "name=x",
            f"data.name={path}",
            "data.target=[upsell,rare]",
            "data.drop=[churn,refund]",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "move it from data.target to data.drop" in " ".join(result.output.split())
    assert not out.exists()


def test_an_id_column_passes_through_predict_and_scores_are_named_honestly(tmp_path):
    from hfa.predict import load_run

    frame = churn_table(rows=300)
    path = write(frame, tmp_path / "t.csv")
    args = [
        "train",
        "name=p",
        f"data.name={path}",
        "data.target=churn",
        "data.positive=yes",
        "data.id=customer_id",
        "data.drop=[signup,upsell,refund]",
        "train.epochs=2",
        "--out",
        str(tmp_path / "runs"),
        "--quiet",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run_dir = result.stdout.strip()
    out = tmp_path / "scored.csv"
    scored_cli = CliRunner().invoke(app, ["predict", run_dir, path, "--out", str(out)])
    assert scored_cli.exit_code == 0, scored_cli.output
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["customer_id", "score", "label"]  # the id without --id; not a probability
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()
    predictor = load_run(run_dir)
    assert predictor.feature_columns == ["spend", "visits", "plan"] and not predictor.calibrated
    np.testing.assert_allclose(scored["score"], predictor.predict_proba(frame), rtol=1e-6)
