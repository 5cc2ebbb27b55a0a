"""A finished run as a predictor on raw rows: its own preprocessing, weights and decision thresholds.

Everything is read from the run folder (``config.yaml``, ``preprocessing.json``, ``model.pt``, ``run.json``);
nothing is unpickled: the weights are a state dict read with ``torch.load(..., weights_only=True)``.

    predictor = load_run("runs/quickstart/bce_ir20_s0_5ca4c90e")
    scored = predictor.score(pandas.read_csv("new.csv"), threshold="tuned")   # score (or probability), label
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hfa.calibration import Calibration
from hfa.config import Config, read_yaml, validate
from hfa.data.preprocess import Preprocessing
from hfa.errors import HfaError
from hfa.metrics import tuned_rule_beta

NEEDED = ("run.json", "config.yaml", "model.pt", "preprocessing.json")
THRESHOLD_RULES = ("fixed", "tuned")
TABLE_SUFFIXES = (".csv", ".parquet")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise HfaError(f"cannot read {path}: {_one_line(error)}") from None


def check_finished(run_dir: Path) -> dict[str, Any]:
    """run.json of a finished, successful run folder that holds what scoring needs; else a one-line HfaError."""
    if not run_dir.is_dir():
        raise HfaError(f"{run_dir} is not a run folder (no such directory); pass OUT/<name>/<run-id>")
    if not (run_dir / "run.json").is_file():
        raise HfaError(f"{run_dir} is not a finished run folder (no run.json); pass OUT/<name>/<run-id>")
    info = _read_json(run_dir / "run.json")
    if info.get("status") != "ok":
        raise HfaError(f"{run_dir} is not a finished run: status {info.get('status')!r} ({info.get('error')})")
    absent = [name for name in NEEDED if not (run_dir / name).is_file()]
    if absent:
        raise HfaError(
            f"{run_dir} lacks {', '.join(absent)}: it was written by an older hfa; train it again to score new rows"
        )
    if "thresholds" not in info:
        raise HfaError(f"{run_dir}/run.json has no thresholds: it was written by an older hfa; train it again")
    return info


@dataclass
class Predictor:
    """A trained run on raw rows. ``threshold`` is ``"fixed"``, ``"tuned"`` or a number in (0, 1)."""

    run_dir: Path
    config: Config
    preprocessing: Preprocessing
    model: Any  # torch.nn.Module, kept untyped so importing this module does not import torch
    info: dict[str, Any]

    @property
    def labels(self) -> list[str] | None:
        """The target columns of a multi-label run (one output each); ``None`` for a single-label run."""
        return (self.info.get("data") or {}).get("labels") or None

    @property
    def thresholds(self) -> dict[str, float | np.ndarray]:
        """Per rule the threshold, or (multi-label) one threshold per label."""
        width = len(self.labels) if self.labels else None
        stored = self.info["thresholds"]
        # tuned_f<beta> rules exist where the run's config asked for them (eval.tune_betas).
        rules = [*THRESHOLD_RULES, *(rule for rule in stored if tuned_rule_beta(rule) is not None)]
        return {rule: _per_label(stored[rule], width) for rule in rules}

    @property
    def feature_columns(self) -> list[str]:
        return self.preprocessing.input_columns

    def threshold(self, which: str | float = "fixed") -> float | np.ndarray:
        """The decision threshold a rule names (per label for a multi-label run), or a number checked to lie in
        (0, 1)."""
        if isinstance(which, str) and which in self.thresholds:
            return self.thresholds[which]
        if isinstance(which, np.ndarray) and ((which > 0) & (which < 1)).all():
            return which  # per-label thresholds this predictor gave out
        try:
            value = float(which)
        except (TypeError, ValueError):
            value = float("nan")
        if not 0 < value < 1:
            rules = ", ".join(self.thresholds)
            raise HfaError(f"threshold {which!r} is not allowed; allowed: {rules} or a number in (0, 1)")
        return value

    def predict_proba(self, rows: pd.DataFrame, source: str = "the input") -> np.ndarray:
        """Score of the positive class per row (float32; calibrated: float64 probabilities), as the run's own
        evaluation computed it; ``(n, L)`` for a multi-label run."""
        import torch

        from hfa.training import predict_proba

        x = self.preprocessing.transform(rows, source)
        scores = predict_proba(self.model, torch.from_numpy(x))
        return scores if self.calibration is None else self.calibration.apply(scores)

    @property
    def calibration(self) -> Calibration | None:
        """The map the run fitted on validation (``eval.calibrate``), applied to every score it gives."""
        stored = self.info.get("calibration")
        return None if stored is None else Calibration.from_dict(stored, str(self.run_dir / "run.json"))

    def predict(self, rows: pd.DataFrame, threshold: str | float = "fixed") -> np.ndarray:
        """1 where the probability reaches the threshold (``p >= t``, as the metrics count), else 0."""
        cut = self.threshold(threshold)
        return (self.predict_proba(rows).astype(np.float64) >= cut).astype(np.int8)

    @property
    def calibrated(self) -> bool:
        """Whether the run's scores were calibrated on validation (``eval.calibrate``), so they are probabilities."""
        return getattr(self.config.eval, "calibrate", "none") not in (None, "none")

    @property
    def score_column(self) -> str:
        """``probability`` for a calibrated run; else ``score``: a metric loss pushes scores to 0 and 1 and even
        BCE's are off once the classes were subsampled, so an uncalibrated score is a ranking, not a probability."""
        return "probability" if self.calibrated else "score"

    @property
    def id_column(self) -> str | None:
        """The row identifier the run was trained with (``data.id``), carried through by default."""
        return self.config.data.id

    def score(
        self, rows: pd.DataFrame, threshold: str | float = "fixed", id_column: str | None = None, source: str = ""
    ) -> pd.DataFrame:
        """One row out per row in: ``score`` (``probability`` for a calibrated run, see ``score_column``) and
        ``label`` (0/1), after the id column: ``id_column``, else the run's ``data.id`` where the rows have it.

        A multi-label run gives ``<score_column>_<target>`` and ``label_<target>`` for every target column.
        """
        source = source or "the input"
        cut = self.threshold(threshold)
        if id_column is None and self.id_column is not None and self.id_column in rows.columns:
            id_column = self.id_column
        if id_column is not None and id_column not in rows.columns:
            raise HfaError(f"--id {id_column!r} is not a column of {source}; columns: {', '.join(map(str, rows))}")
        probability = self.predict_proba(rows, source)
        decided = (probability.astype(np.float64) >= cut).astype(np.int8)
        if self.labels is None:
            scored = pd.DataFrame({self.score_column: probability, "label": decided})
        else:
            columns: dict[str, np.ndarray] = {}
            for j, name in enumerate(self.labels):
                columns[f"{self.score_column}_{name}"] = probability[:, j]
                columns[f"label_{name}"] = decided[:, j]
            scored = pd.DataFrame(columns)
        if id_column is not None:
            scored.insert(0, id_column, rows[id_column].to_numpy())
        return scored


def load_run(run_dir: str | Path) -> Predictor:
    """A finished run folder as a ``Predictor`` (on the CPU); a folder that is not one is a one-line HfaError."""
    import torch

    from hfa.model import build_model

    run_dir = Path(run_dir)
    info = check_finished(run_dir)
    labels = (info.get("data") or {}).get("labels")
    config = validate(read_yaml(run_dir / "config.yaml"), str(run_dir / "config.yaml"))
    preprocessing = Preprocessing.from_dict(
        _read_json(run_dir / "preprocessing.json"), str(run_dir / "preprocessing.json")
    )
    model = build_model(preprocessing.n_features, config.model, out_features=len(labels) if labels else 1)
    try:
        state = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as error:  # torch raises several types for a corrupt or mismatched file
        raise HfaError(f"cannot load {run_dir / 'model.pt'}: {_one_line(error)}") from None
    model.eval()
    return Predictor(run_dir, config, preprocessing, model, info)


def _per_label(value: Any, width: int | None) -> float | np.ndarray:
    """A stored threshold as a number, or for ``width`` labels as an array (a single number holds for all)."""
    if width is None:
        return float(value)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (width,)).copy()


def read_rows(path: str | Path) -> pd.DataFrame:
    """The rows of a CSV or Parquet file to score."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise HfaError(f"cannot score {path}: unsupported file type {path.suffix!r}; allowed: .csv, .parquet")
    if not path.is_file():
        raise HfaError(f"cannot score {path}: no such file")
    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except ImportError as error:
        raise HfaError(f"reading {path} needs a parquet engine: pip install 'hfa[parquet]' ({error})") from None
    except Exception as error:  # parser errors come in many library-specific types
        raise HfaError(f"could not read {path}: {_one_line(error)}") from None


def write_rows(frame: pd.DataFrame, path: str | Path) -> Path:
    """Scored rows to CSV or Parquet (by suffix), written atomically."""
    from hfa.io import atomic_write

    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise HfaError(f"--out {path}: unsupported file type {path.suffix!r}; allowed: .csv, .parquet")
    if path.suffix.lower() == ".csv":
        return atomic_write(path, lambda p: frame.to_csv(p, index=False))
    return atomic_write(path, lambda p: frame.to_parquet(p, index=False))
