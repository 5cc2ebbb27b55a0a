"""Self-contained run folders and `hfa predict`: raw rows scored exactly as the run's own evaluation scored them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from hfa.cli import app
from hfa.config import load_config
from hfa.data import load_raw, prepare_data
from hfa.data.preprocess import Preprocessing, as_model_frame, categorical_columns, fit_preprocessing
from hfa.metrics import evaluate
from hfa.predict import load_run

runner = CliRunner()


def mixed_table(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "amount": rng.normal(50, 20, rows),
            "count": rng.integers(0, 9, rows),
            "flag": rng.random(rows) < 0.3,
            "city": rng.choice(["north", "south", "east"], rows),
            "empty": np.nan,
        }
    )
    frame.loc[rng.random(rows) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "city"] = None
    score = (frame["amount"].fillna(50) - 50) / 20 + (frame["city"] == "north") + rng.normal(0, 1, rows)
    frame["label"] = np.where(score > 1.2, "yes", "no")
    return frame


def reference_transform(train: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """What the preprocessing was before it became JSON: scikit-learn's ColumnTransformer."""
    train, other = as_model_frame(train), as_model_frame(other)
    categorical = categorical_columns(train)
    numeric = [c for c in train.columns if c not in categorical]
    transformer = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ],
        sparse_threshold=0.0,
    )
    transformer.fit(train)
    return transformer.transform(other).astype(np.float32)


def test_preprocessing_equals_scikit_learn_and_survives_json():
    table = mixed_table().drop(columns=["label", "empty", "id"])
    train, other = table.iloc[:400], table.iloc[400:].copy()
    other.loc[other.index[:5], "city"] = "unseen"
    fitted = fit_preprocessing(train)
    np.testing.assert_array_equal(fitted.transform(other), reference_transform(train, other))
    again = Preprocessing.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again == fitted
    np.testing.assert_array_equal(again.transform(other), fitted.transform(other))
    assert list(fitted.feature_names[:3]) == ["amount", "count", "flag"]
    np.testing.assert_array_equal(fitted.transform(other)[:5, -4:], 0)  # an unseen city: all zeros


def test_a_column_empty_in_training_is_expected_but_unused():
    table = mixed_table().drop(columns=["label"])
    fitted = fit_preprocessing(table)
    assert fitted.ignored == ("empty",) and "empty" not in fitted.feature_names
    assert "empty" in fitted.input_columns


@pytest.fixture(scope="module")
def credit_run(tmp_path_factory):
    """One run on a CSV table with gaps, text categories and booleans; trained once for the module."""
    root = tmp_path_factory.mktemp("predict")
    table = mixed_table()
    path = root / "table.csv"
    table.to_csv(path, index=False)
    overrides = [
        f"data.name={path}",
        "data.target=label",
        "data.positive=yes",  # YAML reads this as True; the column stores "yes"
        "name=mixed",
        "model.hidden=[8]",
        "train.epochs=10",
        "train.lr=0.01",
        "train.device=cpu",
    ]
    result = runner.invoke(app, ["train", "--out", str(root / "runs"), "--quiet", *overrides])
    assert result.exit_code == 0, result.output
    run_dir = next(p for p in (root / "runs" / "mixed").iterdir() if not p.name.startswith("."))  # not .locks
    return run_dir, path, overrides


@pytest.mark.slow
def test_probabilities_on_the_test_rows_are_those_behind_metrics_csv(credit_run):
    run_dir, _, overrides = credit_run
    cfg = load_config(None, overrides)
    features, _ = load_raw(cfg.resolved_data())
    splits = prepare_data(cfg.resolved_data())
    predictor = load_run(run_dir)
    scores = {}
    for split in ("val", "test"):
        rows = features.iloc[splits.indices[split]]  # raw rows, as a user would hand them over
        np.testing.assert_array_equal(predictor.preprocessing.transform(rows), getattr(splits, f"x_{split}"))
        scores[split] = (getattr(splits, f"y_{split}"), predictor.predict_proba(rows))
    again = evaluate(scores, threshold=cfg.eval.threshold, tune_metric=cfg.eval.tune_metric, beta=cfg.loss.beta)
    stored = pd.read_csv(run_dir / "metrics.csv")
    pd.testing.assert_frame_equal(again.reset_index(drop=True), stored, check_dtype=False, rtol=0, atol=1e-15)
    y_test, p_test = scores["test"]
    assert stored.query("split == 'test' and rule == 'fixed'")["roc_auc"].item() == pytest.approx(
        roc_auc_score(y_test, p_test), abs=1e-12
    )
    tuned = json.loads((run_dir / "run.json").read_text())["thresholds"]["tuned"]
    assert stored.query("rule == 'tuned'")["threshold"].eq(tuned).all()


@pytest.mark.slow
def test_hfa_predict_writes_one_row_per_row_with_the_id(credit_run, tmp_path):
    run_dir, path, _ = credit_run
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", str(run_dir), str(path), "--out", str(out), "--id", "id"])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    table = pd.read_csv(path)
    assert list(scored.columns) == ["id", "score", "label"] and len(scored) == len(table)
    assert (scored["id"] == table["id"]).all()
    assert ((scored["score"] >= 0.5).astype(int) == scored["label"]).all()
    info = json.loads((run_dir / "run.json").read_text())
    tuned = runner.invoke(app, ["predict", str(run_dir), str(path), "--threshold", "tuned"])
    from io import StringIO

    scored_tuned = pd.read_csv(StringIO(tuned.stdout))
    cut = info["thresholds"]["tuned"]
    assert ((scored_tuned["score"] >= cut).astype(int) == scored_tuned["label"]).all()
    assert roc_auc_score(table["label"] == "yes", scored["score"]) > 0.7


@pytest.mark.slow
def test_parquet_in_and_out(credit_run, tmp_path):
    run_dir, path, _ = credit_run
    source = tmp_path / "rows.parquet"
    pd.read_csv(path).to_parquet(source)
    out = tmp_path / "scored.parquet"
    result = runner.invoke(app, ["predict", str(run_dir), str(source), "--out", str(out), "-t", "0.3"])
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    assert len(scored) == 600 and ((scored["score"] >= 0.3) == (scored["label"] == 1)).all()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=["amount"]), "lacks the feature column(s) 'amount'"),
        (lambda t: t.assign(amount="many"), "column 'amount' of"),
        (lambda t: t.assign(city=pd.to_datetime("2024-01-01")), "column 'city' of"),
    ],
)
def test_bad_rows_exit_2_with_one_line(credit_run, tmp_path, change, message):
    run_dir, path, _ = credit_run
    bad = tmp_path / "bad.parquet"
    change(pd.read_csv(path)).to_parquet(bad)
    result = runner.invoke(app, ["predict", str(run_dir), str(bad)])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.slow
def test_bad_threshold_and_id_exit_2(credit_run):
    run_dir, path, _ = credit_run
    for args, message in ((["-t", "1.5"], "threshold '1.5'"), (["--id", "nope"], "--id 'nope'")):
        result = runner.invoke(app, ["predict", str(run_dir), str(path), *args])
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_folder_that_is_not_a_finished_run_exits_2(tmp_path):
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"x0": [1.0]}).to_csv(rows, index=False)
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "run.json").write_text(json.dumps({"status": "failed", "error": "NaN loss"}))
    for folder, message in (
        (tmp_path / "nothing", "it does not exist"),
        (tmp_path, "no run.json"),
        (tmp_path / "failed", "status 'failed'"),
    ):
        result = runner.invoke(app, ["predict", str(folder), str(rows)])
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
