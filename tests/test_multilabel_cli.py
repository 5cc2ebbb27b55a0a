"""Multi-label runs end to end: `hfa train` on a CSV with a list of targets and on mulan/yeast, stacks in a sweep,
and a one-line exit 2 before any training for every bad input."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from hfa.cli import app
from hfa.config import load_config
from hfa.data import prepare_data
from hfa.results import write_results
from hfa.runs import RUN_FILES, execute_run
from hfa.sweep import execute, units
from test_multilabel_data import multilabel_table

runner = CliRunner()
FAST = ["model.hidden=[8]", "train.epochs=6", "train.batch_size=64", "train.lr=0.01", "train.device=cpu"]


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "ml.csv"
    multilabel_table().to_csv(path, index=False)
    return path


def targets(csv) -> list[str]:
    return [f"data.name={csv}", "data.target=[a, b, c]", "data.positive={c: 'yes'}"]


def train(*args: str):
    return runner.invoke(app, ["train", *map(str, args)])


@pytest.mark.slow
def test_train_on_a_list_of_targets_writes_a_multilabel_run(csv, tmp_path):
    result = train("--out", tmp_path / "runs", "name=ml", "loss.name=f1", *targets(csv), *FAST)
    assert result.exit_code == 0, result.output
    (run_dir,) = (p for p in (tmp_path / "runs" / "ml").iterdir() if p.name != ".locks")
    # PR points (curves.csv): single-label runs only
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(set(RUN_FILES) - {"curves.csv"})
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert metrics.columns[:4].tolist() == ["split", "rule", "label", "threshold"]
    assert {"hamming_loss", "subset_accuracy"} <= set(metrics.columns)
    expected = [(s, r, label) for s in ("val", "test") for r in ("fixed", "tuned", "mean") for label in "abc"]
    got = [tuple(row) for row in metrics[["split", "rule", "label"]].itertuples(index=False)]
    assert [g for g in got if g[2] in "abc"] == expected
    assert (metrics["label"] == "macro").sum() == (metrics["label"] == "micro").sum() == 6
    info = json.loads((run_dir / "run.json").read_text())
    assert info["data"]["labels"] == ["a", "b", "c"]
    assert set(info["data"]["splits"]["test"]["labels"]) == {"a", "b", "c"}
    config = (run_dir / "config.yaml").read_text()
    assert "average: macro" in config  # a canonical key of a multi-label metric loss
    assert "macro" in result.output and "micro" in result.output
    thresholds = info["thresholds"]
    assert thresholds["labels"] == ["a", "b", "c"] and len(thresholds["tuned"]) == 3
    tuned = metrics[(metrics["split"] == "val") & (metrics["rule"] == "tuned")].set_index("label")["threshold"]
    assert thresholds["tuned"] == tuned[["a", "b", "c"]].tolist()
    # hfa predict: a probability and a label column per target; on the test rows, the probabilities behind
    # metrics.csv (each label's ROC AUC) and the tuned per-label thresholds.
    out = tmp_path / "scored.csv"
    scored_run = runner.invoke(app, ["predict", str(run_dir), str(csv), "--threshold", "tuned", "--out", str(out)])
    assert scored_run.exit_code == 0, scored_run.output
    scored = pd.read_csv(out)
    assert scored.columns.tolist() == [f"{kind}_{t}" for t in "abc" for kind in ("score", "label")]
    cfg = load_config(None, ["name=ml", "loss.name=f1", *targets(csv), *FAST])
    splits = prepare_data(cfg.resolved_data())
    test_rows = scored.iloc[splits.indices["test"]]
    stored = metrics.query("split == 'test' and rule == 'fixed'").set_index("label")
    for j, name in enumerate("abc"):
        auc = roc_auc_score(splits.y_test[:, j], test_rows[f"score_{name}"])
        assert stored.loc[name, "roc_auc"] == pytest.approx(auc, abs=1e-6)
        decided = (test_rows[f"score_{name}"] >= thresholds["tuned"][j]).astype(int)
        assert (test_rows[f"label_{name}"] == decided).all()


@pytest.mark.slow
def test_multilabel_runs_stack_in_a_sweep_and_equal_their_runs_alone(csv, tmp_path):
    configs = [
        load_config(None, ["name=mls", f"seed={seed}", f"loss.name={loss}", *targets(csv), *FAST])
        for seed in (0, 1)
        for loss in ("wbce", "f1")
    ]
    assert len(units(configs)) == 1
    swept = execute(configs, tmp_path / "sweep")
    assert all(report.status == "ok" for report in swept.reports)
    alone = execute_run(configs[3], tmp_path / "alone").run_dir
    stacked = tmp_path / "sweep" / "mls" / alone.name
    assert (alone / "metrics.csv").read_bytes() == (stacked / "metrics.csv").read_bytes()
    assert json.loads((stacked / "run.json").read_text())["stacked"] == 4
    weights = json.loads((tmp_path / "sweep" / "mls" / swept.reports[0].run_dir.name / "run.json").read_text())
    assert len(weights["pos_weight"]) == 3
    results = pd.read_csv(write_results(tmp_path / "sweep" / "mls"))
    assert results.columns[results.columns.get_loc("rule") + 1] == "label"
    assert set(results["label"]) == {"a", "b", "c", "macro", "micro"}
    shown = runner.invoke(app, ["report", str(tmp_path / "sweep" / "mls"), "--label", "a,macro"])
    assert shown.exit_code == 0 and "label" in shown.output, shown.output  # a row per label, never pooled


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("river") is None, reason="needs hfa[multilabel] (river)")
def test_train_on_mulan_yeast(tmp_path):
    result = train("--out", tmp_path, "--quiet", "name=yeast", "data.name=mulan/yeast", "loss.name=wbce", *FAST)
    assert result.exit_code == 0, result.output
    (run_dir,) = (p for p in (tmp_path / "yeast").iterdir() if p.name != ".locks")
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert metrics["label"].nunique() == 16  # Class1..Class14, macro, micro
    info = json.loads((run_dir / "run.json").read_text())
    assert len(info["pos_weight"]) == 14
    train_counts = info["data"]["splits"]["train"]["labels"]
    ratios = [train_counts[f"Class{j}"]["ratio"] for j in range(1, 15)]
    np.testing.assert_allclose(info["pos_weight"], ratios)  # auto: each label's negatives / positives in train


def _rare_csv(tmp_path):
    table = multilabel_table()
    table["rare"] = 0
    table.loc[:11, "rare"] = 1
    path = tmp_path / "rare.csv"
    table.to_csv(path, index=False)
    return path


BAD = {
    "target not binary": (["data.target=[a, f0]"], "target column 'f0'"),
    "target not a column": (["data.target=[a, zz]"], "data.target='zz' is not a column"),
    "pos_weight wrong length": (
        ["data.target=[a, b]", "loss.name=wbce", "loss.pos_weight=[1, 2, 3]"],
        "loss.pos_weight lists 3 numbers but the data has 2 labels",
    ),
    "positive absent": (["data.target=[a, c]", "data.positive=maybe"], "data.positive='maybe' is not a label"),
    "too few positives": (["data.target=[a, rare]"], "label 'rare' of"),
    "ratio": (["data.target=[a, b]", "data.imbalance_ratio=4"], "applies to single-label data"),
    "one target in a list": (["data.target=[a]"], "needs two or more columns"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_multilabel_input_exits_2_with_one_line_before_training(case, tmp_path, monkeypatch):
    import hfa.runs

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(hfa.runs, "train", no_training)
    overrides, message = BAD[case]
    result = train("--out", tmp_path / "runs", f"data.name={_rare_csv(tmp_path)}", *overrides, *FAST)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert message in " ".join(result.output.split())
