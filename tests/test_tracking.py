"""MLflow tracking, read back from a real local file store with MLflow's own client."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hfa.cli import app
from hfa.config import flatten

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

runner = CliRunner()

TINY = {
    "name": "tracked",
    "data": {"name": "synthetic", "n_samples": 2000, "cluster_std": 2.0, "imbalance_ratio": 5},
    "model": {"hidden": [8]},
    "train": {"epochs": 4, "batch_size": 128, "lr": 0.01, "patience": 2, "device": "cpu"},
    "sweep": {"loss.name": ["bce", "f1"], "seed": [0, 1]},
}


@pytest.fixture
def store(tmp_path, monkeypatch):
    # MLflow >= 3.7 refuses file stores unless asked; a file store is what a test can read back offline.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    return f"file:{tmp_path / 'mlruns'}"


def runs_of(uri: str, name: str):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    return client, client.search_runs([experiment.experiment_id])


@pytest.mark.slow
def test_a_sweep_is_a_parent_with_one_child_per_run(store, tmp_path):
    result = runner.invoke(app, ["sweep", "-c", "tiny.yaml", "--mlflow", store, "--out", "runs"])
    assert result.exit_code == 0, result.output
    client, runs = runs_of(store, "tracked")
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 5 and len(children) == 4 and parent.info.status == "FINISHED"
    assert json.loads(parent.data.params["sweep.seed"]) == [0, 1] and parent.data.params["runs"] == "4"
    for child in children:
        run_dir = tmp_path / "runs" / "tracked" / child.info.run_name
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        flat = flatten(config)
        assert set(child.data.params) == set(flat)
        assert child.data.params["loss.name"] == config["loss"]["name"]
        assert child.data.params["model.hidden"] == "[8]"
        history = pd.read_csv(run_dir / "history.csv")
        logged = client.get_metric_history(child.info.run_id, "val_loss")
        assert [m.step for m in logged] == history["epoch"].tolist()
        assert [m.value for m in logged] == pytest.approx(history["val_loss"].tolist(), rel=1e-12)
        metrics = pd.read_csv(run_dir / "metrics.csv")
        for _, row in metrics.iterrows():
            key = f"{row['split']}_{row['rule']}_f1"
            assert child.data.metrics[key] == pytest.approx(row["f1"], rel=1e-12)
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"model.pt", "preprocessing.json", "metrics.csv", "run.json"} <= artifacts


@pytest.mark.slow
def test_train_logs_one_run_through_the_config_key(store):
    result = runner.invoke(app, ["train", "-c", "tiny.yaml", f"tracking.mlflow={store}", "--out", "runs", "-q"])
    assert result.exit_code == 0, result.output
    _, runs = runs_of(store, "tracked")
    (run,) = runs
    assert run.info.status == "FINISHED" and "test_tuned_f1" in run.data.metrics
    assert "tracking.mlflow" not in run.data.params  # where it was logged is not what it computed


def test_without_mlflow_nothing_changes_and_asking_for_it_says_how(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    result = runner.invoke(app, ["train", "--mlflow", "file:./x", "train.epochs=1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "pip install 'hfa[mlflow]'" in result.output, result.output
    assert not any(tmp_path.iterdir())  # refused before training


@pytest.mark.slow
def test_a_run_without_mlflow_imports_none_of_it(tmp_path):
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from hfa.cli import app\n"
        f"r = CliRunner().invoke(app, ['train', 'train.epochs=1', 'data.n_samples=500', '--out', {str(tmp_path)!r}])\n"
        "print(r.exit_code, 'mlflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout + done.stderr


@pytest.mark.slow
def test_a_local_sqlite_store_works_with_what_ships(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow puts a sqlite store's artifacts in ./mlruns: not in the repository
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = runner.invoke(app, ["train", "--mlflow", uri, "train.epochs=1", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    from mlflow.tracking import MlflowClient

    store = MlflowClient(tracking_uri=uri)
    (run,) = store.search_runs([store.get_experiment_by_name("hfa").experiment_id])
    assert run.info.status == "FINISHED" and "test_tuned_f1" in run.data.metrics


def test_help_shows_the_extra_to_install():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "hfa[mlflow]" in result.output and "sqlite:///mlflow.db" in result.output
