"""The small things a practitioner trips on: hfa config, grid points that are one run, loss-name hints."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from hfa.cli import app
from hfa.config import canonical, load_config, run_id
from hfa.sweep import expand

runner = CliRunner()


def test_hfa_config_prints_the_resolved_config_a_run_records():
    result = runner.invoke(app, ["config", "loss.name=fbeta", "loss.beta=2", "data.name=keel/yeast4"])
    assert result.exit_code == 0, result.output
    first, *rest = result.output.splitlines()
    cfg = load_config(None, ["loss.name=fbeta", "loss.beta=2", "data.name=keel/yeast4"])
    assert first == f"# run id {run_id(cfg)}"
    printed = yaml.safe_load("\n".join(rest))
    assert printed == canonical(cfg)
    assert printed["train"]["epochs"] == 100 and "n_samples" not in printed["data"]  # defaults in, unused keys out


def test_hfa_config_refuses_what_train_refuses():
    result = runner.invoke(app, ["config", "loss.name=F1"])
    assert result.exit_code == 2
    assert "unknown loss 'F1' (did you mean 'f1'?)" in result.output


def test_grid_points_that_are_one_run_are_counted_and_named():
    grid = expand(None, [], ["loss.name=bce,f1,fbeta", "seed=0,1,2,3,4", "loss.gamma=1,2,3"])
    assert (grid.points, len(grid.configs)) == (45, 15)
    merged, twins = grid.same_runs
    assert merged.startswith("30 grid points are the same run as another point") and "loss.gamma" in merged
    assert twins.startswith("5 grid points are the same run as loss.name=f1")
    assert expand(None, [], ["loss.name=f1,fbeta", "loss.beta=2"]).same_runs == []


def test_sweep_says_so_before_training(tmp_path):
    out = tmp_path / "runs"
    args = ["sweep", "--grid", "loss.name=f1,fbeta", "train.epochs=1", "data.n_samples=300", "model.hidden=[4]"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    note = text.index("note: 1 grid point is the same run as loss.name=f1")
    assert note < text.index("2 trained")


def test_multilabel_train_table_fits_80_columns(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd

    from hfa.cli.app import console

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    for j, name in enumerate(["upsell", "refund", "churned"]):
        frame[name] = (x[:, j] + rng.normal(size=600) > 1).astype(int)
    frame.to_csv(tmp_path / "ml.csv", index=False)
    monkeypatch.setattr(console, "_width", 80)
    args = [f"data.name={tmp_path / 'ml.csv'}", "data.target=[upsell,refund,churned]", "train.epochs=2"]
    result = runner.invoke(app, ["train", *args, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    table = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(table) == 10 and all(len(line) <= 80 for line in table)
    assert "…" not in result.stdout and "tuned: hamming loss" in result.stdout
