"""`hfa train` end to end: the files it writes, determinism, and a one-line exit 2 for every bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hfa.cli import app
from hfa.runs import RUN_FILES

runner = CliRunner()

# Small enough to train in about a second on 2 CPU cores.
TINY = {
    "name": "tiny",
    "data": {"name": "synthetic", "n_samples": 3000, "cluster_std": 2.0, "imbalance_ratio": 10},
    "model": {"hidden": [16]},
    "train": {"epochs": 8, "batch_size": 128, "lr": 0.01, "patience": 3, "device": "cpu"},
}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def train(*args: str):
    return runner.invoke(app, ["train", *map(str, args)])


def run_dirs(out):
    return sorted(p for p in out.glob("*/*") if p.is_dir())


@pytest.mark.slow
def test_train_writes_the_five_files(config, tmp_path):
    out = tmp_path / "runs"
    result = train("--config", config, "--out", out, "loss.name=f1")
    assert result.exit_code == 0, result.output
    (run_dir,) = run_dirs(out)
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(RUN_FILES)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    spec_columns = (
        "split rule threshold tp fp fn tn precision recall f1 accuracy balanced_accuracy roc_auc average_precision"
    )
    assert set(spec_columns.split()) <= set(metrics.columns)
    assert list(zip(metrics["split"], metrics["rule"], strict=True)) == [
        (split, rule) for split in ("val", "test") for rule in ("fixed", "tuned", "mean")
    ]
    assert metrics.loc[metrics["rule"] == "mean", "threshold"].isna().all()
    assert (metrics.loc[metrics["rule"] == "fixed", "threshold"] == 0.5).all()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "ok" and info["loss_label"] == "f1" and info["device"] == "cpu"
    for split in ("train", "val", "test"):
        assert info["data"]["splits"][split]["ratio"] == pytest.approx(10, rel=0.05)
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert resolved["loss"]["name"] == "f1" and resolved["loss"]["thresholds"][0] == 0.1
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == info["epochs_run"]
    assert "test split" in result.output and "precision" in result.output


@pytest.mark.slow
def test_same_config_and_seed_give_the_same_metrics(config, tmp_path):
    first = train("--config", config, "--out", tmp_path / "a", "--quiet")
    second = train("--config", config, "--out", tmp_path / "b", "--quiet")
    assert first.exit_code == second.exit_code == 0
    (a,), (b,) = run_dirs(tmp_path / "a"), run_dirs(tmp_path / "b")
    assert a.name == b.name
    pd.testing.assert_frame_equal(pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv"))
    train("--config", config, "--out", tmp_path / "c", "--quiet", "seed=1")
    (c,) = run_dirs(tmp_path / "c")
    assert not pd.read_csv(a / "history.csv").equals(pd.read_csv(c / "history.csv"))


@pytest.mark.slow
def test_weighted_bce_raises_recall_over_bce_at_ratio_20(tmp_path):
    """The seed paper's claim on a synthetic set: positive weighting trades precision for recall."""
    recall = {}
    for loss in ("bce", "wbce"):
        result = train(
            "--out",
            tmp_path,
            "--quiet",
            "name=seedcheck",
            f"loss.name={loss}",
            "data.imbalance_ratio=20",
            "data.cluster_std=5.0",
            "data.n_samples=20000",
            "model.hidden=[16]",
            "train.epochs=15",
            "train.lr=0.01",
            "train.patience=5",
            "train.device=cpu",
        )
        assert result.exit_code == 0, result.output
        (run_dir,) = [p for p in run_dirs(tmp_path) if p.name.startswith(f"{loss}_")]
        metrics = pd.read_csv(run_dir / "metrics.csv").set_index(["split", "rule"])
        recall[loss] = metrics.loc[("test", "fixed"), "recall"]
    assert recall["wbce"] > recall["bce"] + 0.10


BAD_INPUTS = {
    "missing config": (["--config", "{tmp}/nope.yaml"], "does not exist"),
    "empty config": (["--config", "{tmp}/empty.yaml"], "is empty"),
    "config not a mapping": (["--config", "{tmp}/list.yaml"], "must hold a mapping"),
    "python tag": (["--config", "{tmp}/tag.yaml"], "refuses to load"),
    "unknown key": (["train.epoch=3"], "did you mean 'train.epochs'"),
    "negative ratio": (["data.imbalance_ratio=-1"], "data.imbalance_ratio"),
    "test_size >= 1": (["data.test_size=1"], "data.test_size"),
    "zero epochs": (["train.epochs=0"], "train.epochs"),
    "override without =": (["train.epochs"], "has no '='"),
    "unknown loss": (["loss.name=hinge"], "allowed: bce"),
    "unknown data set": (["data.name=mnist"], "unknown data set"),
    "csv without target column": (["data.name={csv_plain}", "data.target=label"], "label"),
    "csv target not binary": (["data.name={csv_multi}", "data.target=y"], "data.positive"),
    "csv missing target values": (["data.name={csv_missing}", "data.target=y"], "missing"),
    "unreachable ratio": (["data.imbalance_ratio=5000"], "positives"),
    "cuda where none": (["train.device=cuda"], "CUDA is not available"),
    "seed too large": (["seed=4294967296"], "'seed'"),
    "negative seed": (["seed=-1"], "'seed'"),
    "data seed too large": (["data.seed=4294967296"], "'data.seed'"),
    "data seed not an integer": (["data.seed=1.5"], "'data.seed'"),
    "data seed a word": (["data.seed=abc"], "'data.seed'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_exit_2_and_one_line_and_writes_nothing(case, tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "tag.yaml").write_text("name: !!python/object/apply:os.getcwd []\n")
    frames = {
        "csv_plain": pd.DataFrame({"a": range(40), "y": [0, 1] * 20}),
        "csv_multi": pd.DataFrame({"a": range(60), "y": [0, 1, 2] * 20}),
        "csv_missing": pd.DataFrame({"a": range(40), "y": [0, 1, None, 1] * 10}),
    }
    paths = {}
    for key, frame in frames.items():
        path = tmp_path / f"{key}.csv"
        frame.to_csv(path, index=False)
        paths[key] = str(path)
    args, expected = BAD_INPUTS[case]
    args = [a.format(tmp=tmp_path, **paths) for a in args]
    out = tmp_path / "runs"
    result = train(*args, "--out", out, "train.epochs=1" if case != "zero epochs" else "seed=0")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert expected in lines[0]
    assert not out.exists() or not any(out.rglob("*.csv"))


def test_collapsed_rules_are_flagged(capsys) -> None:
    from hfa.cli.train import _flag_collapsed

    test = pd.DataFrame(
        {
            "rule": ["fixed", "tuned", "mean"],
            "threshold": [0.5, 0.004, float("nan")],
            "tp": [0, 9, 0],
            "fp": [0, 91, 0],
            "fn": [9, 0, 9],
            "tn": [91, 0, 91],
        }
    )
    _flag_collapsed(test)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("collapsed: under the fixed rule (threshold 0.5) every test row is predicted negative")
    assert "precision undefined" in lines[0] and "predicted positive" in lines[1]


def test_a_run_records_curves_and_every_trained_fbeta(config, tmp_path) -> None:
    out = tmp_path / "runs"
    result = train("--config", config, "loss.name=fbeta", "loss.beta=2", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = run_dirs(out)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert {"f1", "f2", "specificity", "g_mean", "brier", "ece"} <= set(metrics.columns) and "fbeta" not in metrics
    curves = pd.read_csv(run_dir / "curves.csv")
    assert list(curves.columns) == ["split", "threshold", "tp", "fp", "fn", "tn"]
    assert set(curves["split"]) == {"val", "test"}
