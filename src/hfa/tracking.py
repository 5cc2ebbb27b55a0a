"""MLflow tracking of finished run folders; imported only when a run or sweep is given a tracking URI.

Everything is logged from the run folder once the run is written, so it works the same whichever executor
trained the run (this process, worker processes, Ray): the resolved config as params, ``history.csv`` as
per-epoch metrics (step = epoch), ``metrics.csv`` as ``<split>_<rule>_<metric>`` final metrics, and the folder
itself as artifacts. A sweep is one parent run with a child run per run of the grid.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any

import yaml

from hfa.config import flatten
from hfa.errors import HfaError

_BATCH = 100  # MLflow takes at most 100 params (and 1000 metrics) per log_batch call
_HISTORY = ("train_loss", "val_loss", "val_f1")
_NOT_METRICS = ("split", "rule", "label")


def client(uri: str) -> Any:
    """An MLflow client that has reached its store, so a bad URI fails before any training starts."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise HfaError(f"--mlflow {uri} needs MLflow: pip install 'hfa[mlflow]' (or pip install mlflow)") from None
    try:
        mlflow = MlflowClient(tracking_uri=uri)
        mlflow.search_experiments(max_results=1)
    except Exception as error:  # MLflow raises its own and its back ends' exception types
        # MLflow >= 3.7 refuses file stores unless MLFLOW_ALLOW_FILE_STORE=true; its message says so.
        first = " ".join(str(error).split())
        hint = ""
        if uri.startswith("file:") or "://" not in uri:
            # sqlite works with the skinny client through SQLAlchemy and Alembic, which hfa's optuna brings.
            hint = "; for a local store use --mlflow sqlite:///mlflow.db"
        raise HfaError(f"--mlflow {uri}: the tracking store cannot be used: {first}{hint}") from None
    return mlflow


def experiment_id(mlflow: Any, name: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    return found.experiment_id if found is not None else mlflow.create_experiment(name)


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or math.isfinite(value) else None


def run_metrics(run_dir: Path, now: int) -> list[Any]:
    """Per-epoch history and final metrics of a run folder as MLflow ``Metric`` entities."""
    from mlflow.entities import Metric

    metrics = []
    for row in _rows(run_dir / "history.csv"):
        step = int(row["epoch"])
        for name in _HISTORY:
            value = _number(row.get(name))
            if value is not None:
                metrics.append(Metric(name, value, now, step))
    for row in _rows(run_dir / "metrics.csv"):
        prefix = f"{row['split']}_{row['rule']}"
        for name, text in row.items():
            value = _number(text)
            if name not in _NOT_METRICS and value is not None:
                metrics.append(Metric(f"{prefix}_{name}", value, now, 0))
    return metrics


def _params(config: dict[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    flat = flatten(config)
    return [Param(key, json.dumps(v) if isinstance(v, list | dict) else str(v)) for key, v in flat.items()]


def _log_batches(mlflow: Any, run_id: str, metrics: list[Any] = (), params: list[Any] = ()) -> None:
    for start in range(0, len(params), _BATCH):
        mlflow.log_batch(run_id, params=params[start : start + _BATCH])
    for start in range(0, len(metrics), 10 * _BATCH):
        mlflow.log_batch(run_id, metrics=metrics[start : start + 10 * _BATCH])


def log_run(uri: str, run_dir: str | Path, parent: str | None = None, mlflow: Any = None) -> str:
    """Log one run folder (finished or failed) as an MLflow run; returns the MLflow run id."""
    run_dir = Path(run_dir)
    mlflow = mlflow or client(uri)
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    config_path = run_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    tags = {"hfa.run_id": str(info.get("run_id", run_dir.name)), "hfa.run_dir": str(run_dir.resolve())}
    if parent is not None:
        tags["mlflow.parentRunId"] = parent
    if info.get("error"):
        tags["hfa.error"] = str(info["error"])[:5000]
    run = mlflow.create_run(experiment_id(mlflow, info.get("name") or "hfa"), run_name=run_dir.name, tags=tags)
    run_id = run.info.run_id
    _log_batches(mlflow, run_id, run_metrics(run_dir, int(time.time() * 1000)), _params(config))
    mlflow.log_artifacts(run_id, str(run_dir))
    mlflow.set_terminated(run_id, "FINISHED" if info.get("status") == "ok" else "FAILED")
    return run_id


class SweepTracker:
    """A sweep's parent run; ``on_report`` logs each run of the sweep as its child as the run is reported."""

    def __init__(self, uri: str, root: str | Path, runs: int, axes: dict[str, list[Any]] | None = None):
        self.uri = uri
        self.mlflow = client(uri)
        root = Path(root)
        parent = self.mlflow.create_run(
            experiment_id(self.mlflow, root.name), run_name=f"sweep {root.name}", tags={"hfa.sweep": str(root)}
        )
        self.parent = parent.info.run_id
        params = {"runs": runs, **{f"sweep.{key}": values for key, values in (axes or {}).items()}}
        _log_batches(self.mlflow, self.parent, params=_params(params))
        self.failed = 0

    def on_report(self, report: Any) -> None:
        self.failed += report.status == "failed"
        log_run(self.uri, report.run_dir, parent=self.parent, mlflow=self.mlflow)

    def close(self, interrupted: bool = False) -> None:
        status = "KILLED" if interrupted else "FAILED" if self.failed else "FINISHED"
        self.mlflow.set_terminated(self.parent, status)
