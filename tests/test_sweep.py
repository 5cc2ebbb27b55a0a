"""`hfa sweep`: grid expansion, resuming, failures recorded, parallel and Ray executors giving the same rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hfa.cli import app
from hfa.errors import HfaError
from hfa.sweep import expand, parse_grid

runner = CliRunner()

BASE = {
    "name": "grid",
    "data": {"name": "synthetic", "n_samples": 2000, "cluster_std": 2.0, "imbalance_ratio": 5},
    "model": {"hidden": [8]},
    "train": {"epochs": 3, "batch_size": 256, "lr": 0.01, "patience": 2, "device": "cpu"},
    "sweep": {"loss.name": ["bce", "f1"], "seed": [0, 1]},
}


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(BASE))
    return path


def sweep(*args) -> object:
    return runner.invoke(app, ["sweep", *map(str, args)])


def metric_rows(results: Path) -> pd.DataFrame:
    frame = pd.read_csv(results)
    return frame.sort_values(["run_id", "split", "rule"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- the grid


def test_grid_is_the_cross_product(config):
    grid = expand(config)
    configs, axes = grid.configs, grid.axes
    assert list(axes) == ["loss.name", "seed"]
    assert sorted((c.loss.name, c.seed) for c in configs) == [("bce", 0), ("bce", 1), ("f1", 0), ("f1", 1)]


def test_grid_option_adds_and_replaces_axes(config):
    grid = expand(config, grid=["seed=3,4,5", "data.imbalance_ratio=2,8"])
    configs, axes = grid.configs, grid.axes
    assert axes["seed"] == [3, 4, 5] and axes["data.imbalance_ratio"] == [2, 8]
    assert len(configs) == 2 * 3 * 2


def test_override_pins_a_swept_key(config):
    grid = expand(config, overrides=["seed=7", "train.epochs=1"])
    configs, axes = grid.configs, grid.axes
    assert list(axes) == ["loss.name"]
    assert {(c.seed, c.train.epochs) for c in configs} == {(7, 1)}


def test_mapping_values_merge_into_a_section(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**BASE, "sweep": {"loss": [{"name": "bce"}, {"name": "fbeta", "beta": 2}]}}))
    configs = expand(path).configs
    assert [(c.loss.name, c.loss.beta) for c in configs] == [("bce", 1.0), ("fbeta", 2.0)]


def test_same_grid_same_run_folders(config):
    first = [c.model_dump_json() for c in expand(config).configs]
    second = [c.model_dump_json() for c in expand(config).configs]
    assert first == second


def test_keys_a_run_ignores_do_not_make_copies(config):
    """bce x focal x gamma {0, 2}: four grid points, three runs (gamma means nothing to bce)."""
    grid = expand(config, grid=["loss.name=bce,focal", "loss.gamma=0,2", "seed=0"])
    assert grid.points == 4
    assert sorted((c.loss.name, c.loss.gamma) for c in grid.configs) == [("bce", 0), ("focal", 0), ("focal", 2)]
    result = sweep(
        "--config",
        config,
        "--out",
        config.parent / "out",
        "--grid",
        "loss.name=bce,focal",
        "--grid",
        "loss.gamma=0,2",
        "--grid",
        "seed=0",
        "train.epochs=1",
    )
    assert result.exit_code == 0, result.output
    assert "4 grid points" in result.output and "3 distinct runs" in result.output


def test_grid_values_are_yaml():
    assert parse_grid("loss.thresholds=[0.5],[0.3, 0.7]") == ("loss.thresholds", [[0.5], [0.3, 0.7]])
    assert parse_grid("train.lr=1e-3,0.01") == ("train.lr", [0.001, 0.01])


@pytest.mark.parametrize(
    ("overrides", "grid", "expected"),
    [
        ([], ["seed"], "must be KEY=V1,V2"),
        ([], ["seed="], "gives no values"),
        ([], ["train.epoch=1,2"], "did you mean 'train.epochs'"),
        ([], ["train.epochs=one,two"], "train.epochs"),
        (["seed=0", "loss.name=bce"], [], "the sweep grid is empty"),
    ],
)
def test_bad_grids_are_one_line_errors(config, overrides, grid, expected):
    with pytest.raises(HfaError, match=expected) as info:
        expand(config, overrides, grid)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--grid", "seed"], "must be KEY=V1,V2"),
        (["--grid", "seed="], "gives no values"),
        (["--grid", "losss.name=bce"], "did you mean 'loss.name'"),
        (["--grid", "seed=a,b"], "'seed'"),
        (["seed=0", "loss.name=bce"], "the sweep grid is empty"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--executor", "slurm"], "--executor must be local or ray"),
    ],
)
def test_bad_sweep_input_exits_2_with_one_line(config, tmp_path, args, expected):
    result = sweep("--config", config, "--out", tmp_path / "runs", *args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.output
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------- running


@pytest.mark.slow
def test_sweep_resumes_and_force_reruns(config, tmp_path):
    out = tmp_path / "runs"
    first = sweep("--config", config, "--out", out)
    assert first.exit_code == 0, first.output
    assert "4 trained, 0 already done" in first.output
    results = out / "grid" / "results.csv"
    rows = metric_rows(results)
    assert set(rows["loss.name"]) == {"bce", "f1"} and set(rows["seed"]) == {0, 1}
    assert len(rows) == 4 * 2 * 3  # runs x splits x rules

    again = sweep("--config", config, "--out", out)
    assert "0 trained, 4 already done" in again.output

    victim = sorted(p for p in (out / "grid").iterdir() if p.is_dir())[0]
    (victim / "run.json").unlink()
    partial = sweep("--config", config, "--out", out)
    assert "1 trained, 3 already done" in partial.output
    pd.testing.assert_frame_equal(metric_rows(results), rows)

    forced = sweep("--config", config, "--out", out, "--force")
    assert "4 trained, 0 already done" in forced.output


@pytest.mark.slow
def test_failed_run_is_recorded_and_the_sweep_goes_on(config, tmp_path):
    out = tmp_path / "runs"
    result = sweep("--config", config, "--out", out, "seed=0", "--grid", "data.imbalance_ratio=5,900")
    assert result.exit_code == 1
    assert "failed" in result.output and "positives" in result.output
    frame = pd.read_csv(out / "grid" / "results.csv")
    failed = frame[frame["status"] == "failed"]
    assert set(failed["data.imbalance_ratio"]) == {900} and failed["error"].str.contains("positives").all()
    assert set(frame.loc[frame["status"] == "ok", "data.imbalance_ratio"]) == {5}


@pytest.mark.slow
def test_killed_sweep_finishes_only_what_is_missing(config, tmp_path):
    out = tmp_path / "runs"
    hfa = [sys.executable, "-c", "from hfa.cli import main; main()"]
    args = ["sweep", "--config", str(config), "--out", str(out), "--grid", "seed=0,1,2", "train.epochs=8"]
    process = subprocess.Popen([*hfa, *args, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "grid").glob("*/run.json"))) < 2:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {p.parent.name for p in (out / "grid").glob("*/run.json")}
    assert 2 <= len(done_before) < 6
    # Nothing half-written is visible: every run folder is complete.
    for run_dir in (p for p in (out / "grid").iterdir() if p.is_dir() and not p.name.startswith(".")):
        assert (run_dir / "metrics.csv").is_file() and (run_dir / "model.pt").is_file()

    again = subprocess.run([*hfa, *args], capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert f"{6 - len(done_before)} trained, {len(done_before)} already done" in again.stdout
    assert not [p for p in (out / "grid").iterdir() if p.name.startswith(".")]
    assert len(pd.read_csv(out / "grid" / "results.csv")) == 6 * 2 * 3


@pytest.mark.slow
def test_every_executor_writes_the_same_numbers(config, tmp_path):
    """Serial, process pool and Ray train the same stacks with the same threads: identical results.csv."""
    pytest.importorskip("ray")
    runs = {
        "serial": [],
        "parallel": ["--workers", "2"],
        "ray": ["--executor", "ray", "--workers", "2"],
        "unstacked": ["train.stack=false"],
    }
    for name, extra in runs.items():
        result = sweep("--config", config, "--out", tmp_path / name, "--grid", "data.imbalance_ratio=4,6", *extra)
        assert result.exit_code == 0, result.output
    reference = metric_rows(tmp_path / "serial" / "grid" / "results.csv")
    for other in ("parallel", "ray"):
        pd.testing.assert_frame_equal(metric_rows(tmp_path / other / "grid" / "results.csv"), reference)
    # Each run trained alone gives the very same numbers as in its stack.
    pd.testing.assert_frame_equal(metric_rows(tmp_path / "unstacked" / "grid" / "results.csv"), reference)


@pytest.mark.slow
def test_mapping_axis_sweep_writes_its_keys_as_columns(tmp_path):
    path = tmp_path / "c.yaml"
    grid = {"loss": [{"name": "bce"}, {"name": "fbeta", "beta": 2}]}
    path.write_text(yaml.safe_dump({**BASE, "sweep": grid}))
    result = sweep("--config", path, "--out", tmp_path / "runs", "train.epochs=1")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "runs" / "grid" / "results.csv")
    assert {"loss.name", "loss.beta"} <= set(frame.columns)
    assert set(frame["loss"]) == {"bce", "fbeta(beta=2)"}
