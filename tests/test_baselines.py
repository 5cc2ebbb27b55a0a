"""The baselines (model.name: logistic | gbdt): the very models scikit-learn fits, stored as tensors, scored by
hfa predict as the run's evaluation scored them, refused with losses they cannot take, swept beside MLPs."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from hfa.baselines import TreeScorer, load_model
from hfa.cli import app
from hfa.config import ModelConfig, load_config, run_id
from hfa.data import load_raw, prepare_data
from hfa.errors import HfaError
from hfa.metrics import evaluate
from hfa.predict import load_run
from hfa.sweep import expand
from test_predict import mixed_table  # numbers with gaps (imputed), text categories (one-hot), booleans, an id

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A logistic and a gbdt run on one CSV table, through `hfa train`."""
    root = tmp_path_factory.mktemp("baselines")
    path = root / "table.csv"
    mixed_table().to_csv(path, index=False)
    common = [f"data.name={path}", "data.target=label", "data.positive=yes", "data.id=id", "name=base", "seed=3"]
    runs = {}
    for model, extra in (("logistic", ["model.C=0.5"]), ("gbdt", ["model.max_iter=40", "model.min_samples_leaf=5"])):
        overrides = [*common, f"model.name={model}", "loss.name=wbce", *extra]
        result = runner.invoke(app, ["train", "--out", str(root / "runs"), "--quiet", *overrides])
        assert result.exit_code == 0, result.output
        cfg = load_config(None, overrides)
        runs[model] = (root / "runs" / "base" / run_id(cfg), cfg, path)
    return runs


def _splits(cfg):
    return prepare_data(cfg.resolved_data())


def _weights(y: np.ndarray) -> np.ndarray:
    # wbce with pos_weight auto: negatives / positives of the training split, counted here independently.
    return np.where(y == 1, (y == 0).sum() / (y == 1).sum(), 1.0)


@pytest.mark.slow
def test_a_logistic_run_is_scikit_learns_logistic_regression_on_the_same_rows(trained):
    run_dir, cfg, _ = trained["logistic"]
    splits = _splits(cfg)
    y = splits.y_train.astype(int)
    reference = LogisticRegression(C=0.5, max_iter=1000).fit(splits.x_train.astype(np.float64), y, _weights(y))
    state = torch.load(run_dir / "model.pt", weights_only=True)
    np.testing.assert_allclose(state["coef"].numpy(), reference.coef_[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state["intercept"].numpy(), reference.intercept_, rtol=1e-12, atol=1e-12)
    predictor = load_run(run_dir)
    features, _ = load_raw(cfg.resolved_data())
    scores = predictor.predict_proba(features.iloc[splits.indices["test"]])
    np.testing.assert_allclose(scores, reference.predict_proba(splits.x_test)[:, 1], rtol=1e-6, atol=1e-7)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["model"] == "logistic" and info["n_parameters"] == splits.n_features + 1
    assert info["pos_weight"] == pytest.approx((y == 0).sum() / (y == 1).sum(), rel=1e-12)
    assert info["stopped"] == "converged" and info["epochs_run"] == reference.n_iter_[0]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["logistic", "gbdt"])
def test_metrics_csv_are_the_scores_hfa_predict_gives(trained, model):
    run_dir, cfg, _ = trained[model]
    splits = _splits(cfg)
    features, _ = load_raw(cfg.resolved_data())
    predictor = load_run(run_dir)
    scores = {
        s: (getattr(splits, f"y_{s}"), predictor.predict_proba(features.iloc[splits.indices[s]]))
        for s in ("val", "test")
    }
    again = evaluate(scores, threshold=cfg.eval.threshold, tune_metric=cfg.eval.tune_metric, beta=cfg.loss.beta)
    stored = pd.read_csv(run_dir / "metrics.csv")
    pd.testing.assert_frame_equal(again.reset_index(drop=True), stored, check_dtype=False, rtol=0, atol=1e-15)
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == 1 and history["best"].all()  # one row: the fitted model's losses on both splits


@pytest.mark.slow
def test_a_gbdt_run_is_scikit_learns_boosting_early_stopped_on_the_runs_validation_split(trained):
    run_dir, cfg, _ = trained["gbdt"]
    splits = _splits(cfg)
    y, y_val = splits.y_train.astype(int), splits.y_val.astype(int)
    pos = (y == 0).sum() / (y == 1).sum()
    reference = HistGradientBoostingClassifier(
        max_iter=40, min_samples_leaf=5, early_stopping=True, n_iter_no_change=10, random_state=3
    )
    reference.fit(
        splits.x_train, y, np.where(y == 1, pos, 1.0), X_val=splits.x_val, y_val=y_val,
        sample_weight_val=np.where(y_val == 1, pos, 1.0),
    )  # fmt: skip
    predictor = load_run(run_dir)
    features, _ = load_raw(cfg.resolved_data())
    scores = predictor.predict_proba(features.iloc[splits.indices["test"]])
    expected = 1 / (1 + np.exp(-reference.decision_function(splits.x_test).astype(np.float32)))
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-7)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["model"] == "gbdt" and info["epochs_run"] == reference.n_iter_


def test_tree_traversal_equals_scikit_learns_decision_function_with_missing_values():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 6))
    y = (x[:, 0] + np.sin(3 * x[:, 1]) + rng.normal(0, 0.5, 3000) > 0.8).astype(int)
    x[rng.random(x.shape) < 0.15] = np.nan  # learned missing-value directions
    fitted = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15, random_state=0).fit(x[:2000], y[:2000])
    scorer = TreeScorer.from_sklearn(fitted)
    # Through model.pt's format: a state dict saved and read back with weights_only=True.
    buffer = io.BytesIO()
    torch.save(scorer.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    again = load_model(ModelConfig(name="gbdt"), 6, 1, state)
    rows = torch.from_numpy(x[2000:])
    np.testing.assert_array_equal(again(rows).numpy(), fitted.decision_function(x[2000:]))
    np.testing.assert_array_equal(scorer(rows).numpy(), fitted.decision_function(x[2000:]))
    assert roc_auc_score(y[2000:], scorer(rows).numpy()) > 0.8


@pytest.mark.slow
def test_hfa_predict_scores_a_gbdt_and_a_logistic_run(trained, tmp_path):
    for model in ("logistic", "gbdt"):
        run_dir, _, path = trained[model]
        result = runner.invoke(app, ["predict", str(run_dir), str(path), "--threshold", "tuned"])
        assert result.exit_code == 0, result.output
        scored = pd.read_csv(io.StringIO(result.stdout))
        rows = pd.read_csv(path)
        assert list(scored.columns) == ["id", "score", "label"] and (scored["id"] == rows["id"]).all()
        cut = json.loads((run_dir / "run.json").read_text())["thresholds"]["tuned"]
        assert ((scored["score"] >= cut).astype(int) == scored["label"]).all()
        assert roc_auc_score(rows["label"] == "yes", scored["score"]) > 0.7


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.name=gbdt", "loss.name=f1"], "model.name=gbdt takes loss bce (unweighted) or wbce"),
        (["model.name=logistic", "loss.name=focal"], "model.name=logistic takes loss bce"),
        (["model.name=gbdt", "data.name=mulan/yeast"], "a multi-label run needs model.name=mlp"),
        (["model.name=forest"], "allowed: 'mlp', 'logistic' or 'gbdt'"),
        (["model.name=gbdt", "model.max_iter=0"], "model.max_iter"),
        (["model.name=logistic", "model.C=-1"], "model.C"),
    ],
)
def test_a_model_and_loss_that_do_not_go_together_exit_2_before_training(tmp_path, overrides, message):
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "runs"), "--quiet", *overrides])
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
    with pytest.raises(HfaError, match="model"):  # the Python API refuses what the CLI refuses
        import hfa

        hfa.train(out=tmp_path / "api", overrides=overrides)


def test_keys_a_model_does_not_read_leave_its_run_id():
    assert len(expand(None, ["model.name=gbdt"], ["model.hidden=[8],[16]", "train.lr=0.1,0.01"]).configs) == 1
    assert len(expand(None, ["model.name=logistic"], ["model.max_iter=5,10", "train.patience=0,3"]).configs) == 1
    assert len(expand(None, [], ["model.C=0.1,1", "model.learning_rate=0.1,0.2"]).configs) == 1  # mlp
    assert len(expand(None, ["model.name=gbdt"], ["train.patience=0,3", "model.max_iter=5,10"]).configs) == 4
    assert len(expand(None, ["model.name=logistic"], ["model.C=0.1,1"]).configs) == 2
    # MLP runs keep the ids they had before model.name existed (the default is left out of the hash).
    assert run_id(load_config(None, ["data.name=keel/yeast4", "loss.name=wbce"])) == "wbce_irnatural_s0_0cea4b29"
    assert run_id(load_config(None, ["model.name=gbdt"])).startswith("gbdt-bce_")


@pytest.mark.slow
def test_a_sweep_crossing_mlp_logistic_and_gbdt_is_reported(tmp_path):
    grid = ["--grid", "model.name=mlp,logistic,gbdt", "--grid", "seed=0,1"]
    overrides = ["name=mix", "data.n_samples=600", "data.imbalance_ratio=5", "train.epochs=3", "model.hidden=[8]"]
    result = runner.invoke(app, ["sweep", "--out", str(tmp_path), "--quiet", *grid, *overrides])
    assert result.exit_code == 0, result.output
    folders = sorted(p.name for p in (tmp_path / "mix").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(folders) == 6 and sum(f.startswith("gbdt-") for f in folders) == 2
    report = runner.invoke(app, ["report", str(tmp_path / "mix"), "--format", "csv"])
    assert report.exit_code == 0, report.output
    rows = pd.read_csv(io.StringIO(report.stdout))
    assert {"bce", "logistic", "gbdt"} <= set(rows["loss"])  # one method label per model (hfa.methods)
    assert "model.hidden" not in rows.columns  # decided by the model: no row of its own


def test_a_sweeps_methods_set_several_keys_at_once(tmp_path):
    grid = expand("configs/baselines-keel.yaml")
    assert len(grid.configs) == grid.points == 6 * 4 * 5  # methods x data sets x seeds
    assert grid.factors == {"methods": 6, "data.name": 4, "seed": 5}
    made = {(c.model.name, c.loss.name, c.data.resample) for c in grid.configs}
    assert made == {
        ("mlp", "bce", "none"),
        ("mlp", "f1", "none"),
        ("logistic", "wbce", "none"),
        ("gbdt", "wbce", "none"),
        ("mlp", "bce", "smote"),
        ("mlp", "bce", "random_under"),
    }
    assert grid.axes["loss.name"] == ["bce", "f1", "wbce", "wbce", "bce", "bce"] and "data.name" in grid.axes
    path = tmp_path / "c.yaml"
    for block, message in [
        ("methods: {a: {loss.name: f1}}\nsweep: {loss.name: [bce]}", "method a sets 'loss.name', which the sweep"),
        ("methods: {a: {loss.name: f1, search: {train.lr: {low: 0.1, high: 1}}}}", "does not tune"),
        ("methods: {a: {model.name: gbdt, loss.name: f1}}", "model.name=gbdt takes loss bce"),
        ("methods: {a: {model.nme: gbdt}}", "unknown key 'model.nme'"),
    ]:
        path.write_text(block)
        with pytest.raises(HfaError, match=message):
            expand(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("left", lambda t: t + 10**6, "'left' indices are not whole numbers in [0,"),
        ("feature", lambda t: t - 1, "'feature' indices"),
        ("is_leaf", lambda t: t.long(), "flags are not booleans"),
        ("threshold", lambda t: t[:, :1], "differ in shape"),
        ("value", lambda t: t * float("nan"), "not finite"),
    ],
)
def test_a_tampered_gbdt_model_pt_exits_2_in_one_line(trained, tmp_path, name, change, message):
    import shutil

    run_dir, _, path = trained["gbdt"]
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    state = torch.load(copy / "model.pt", weights_only=True)
    state[name] = change(state[name])
    torch.save(state, copy / "model.pt")
    result = runner.invoke(app, ["predict", str(copy), str(path)])
    assert result.exit_code == 2 and "model.pt was changed after the run was written" in result.output
    # A run written before run.json held its files' hashes: the tensors themselves are checked.
    info = json.loads((copy / "run.json").read_text())
    info.pop("files")
    info.pop("format")
    (copy / "run.json").write_text(json.dumps(info))
    result = runner.invoke(app, ["predict", str(copy), str(path)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
