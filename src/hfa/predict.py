"""A finished run as a predictor on raw rows: its own preprocessing, weights and decision thresholds.

Everything is read from the run folder (``config.yaml``, ``preprocessing.json``, ``model.pt``, ``run.json``);
nothing is unpickled: the weights are a state dict read with ``torch.load(..., weights_only=True)``.

    predictor = load_run("runs/quickstart/bce_ir20_s0_5ca4c90e")
    scored = predictor.score(pandas.read_csv("new.csv"), threshold="tuned")   # score (or probability), label
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from hfa.calibration import Calibration
from hfa.config import Config, read_yaml, validate
from hfa.data.preprocess import Preprocessing
from hfa.errors import HfaError, clip, shorten
from hfa.metrics import tuned_rule_beta
from hfa.rundir import verify_files

NEEDED = ("run.json", "config.yaml", "model.pt", "preprocessing.json")
EVAL_BATCH = 262_144  # rows per forward pass, as the run's own evaluation (hfa.training.predict_proba)
BATCH_CELLS = 20_000_000  # model inputs held at once while scoring (160 MB of float64 before the cast)
THRESHOLD_RULES = ("fixed", "tuned")
TABLE_SUFFIXES = (".csv", ".parquet")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise HfaError(f"cannot read {path}: {_one_line(error)}") from None
    except RecursionError:  # json's decoder recurses once per nested bracket
        raise HfaError(f"cannot read {path}: it nests arrays or objects deeper than any file hfa writes") from None


def check_finished(run_dir: Path) -> dict[str, Any]:
    """run.json of a finished, successful run folder that holds what scoring needs; else a one-line HfaError."""
    if not run_dir.is_dir():
        from hfa.io import missing_file

        why = "is a file" if run_dir.is_file() else missing_file(run_dir)
        raise HfaError(f"{run_dir} is not a run folder (it {why}); pass OUT/<name>/<run-id>")
    if not (run_dir / "run.json").is_file():
        raise HfaError(f"{run_dir} is not a finished run folder (no run.json); pass OUT/<name>/<run-id>")
    info = _read_json(run_dir / "run.json")
    if not isinstance(info, dict):
        raise HfaError(
            f"{run_dir / 'run.json'} must hold a JSON object (got {type(info).__name__}); train the run again"
        )
    if "status" not in info:
        raise HfaError(
            f"{run_dir / 'run.json'} has no 'status' (a finished run's says 'ok'); it was not written whole by hfa: "
            "train the run again"
        )
    if info.get("status") != "ok":
        raise HfaError(
            f"{run_dir} is not a finished run: run.json says status {clip(str(info.get('status')), 40)!r} "
            f"({clip(str(info.get('error')), 80)})"
        )
    absent = [name for name in NEEDED if not (run_dir / name).is_file()]
    if absent:
        raise HfaError(
            f"{run_dir} lacks {', '.join(absent)}: it was written by an older hfa; train it again to score new rows"
        )
    if "thresholds" not in info:
        raise HfaError(f"{run_dir}/run.json has no thresholds: it was written by an older hfa; train it again")
    _check_run_info(info, run_dir / "run.json")
    return info


def _check_run_info(info: dict[str, Any], path: Path) -> None:
    """The fields of run.json scoring reads, each of the type and range hfa writes; else one line naming the key."""
    data = info.get("data")
    if data is not None and not isinstance(data, dict):
        raise HfaError(f"{path}: 'data' must be an object (got {type(data).__name__}); train the run again")
    labels = (data or {}).get("labels")
    if labels is not None and not _label_names(labels):
        raise HfaError(
            f"{path}: 'data.labels' holds {shorten(labels)}; expected two or more distinct, non-empty column names "
            "(a multi-label run's targets, one per model output); train the run again"
        )
    stored = info["thresholds"]
    if not isinstance(stored, dict):
        raise HfaError(f"{path}: 'thresholds' must be an object (got {shorten(stored)}); train the run again")
    width = len(labels) if labels else None
    for rule in [*THRESHOLD_RULES, *(r for r in stored if tuned_rule_beta(r) is not None)]:
        value = stored.get(rule)
        values = value if isinstance(value, list) and width is not None else [value]
        fits = all(_unit_number(v) for v in values) and (not isinstance(value, list) or len(value) == width)
        if not fits:
            each = f"a number in (0, 1) or a list of {width}" if width else "a number in (0, 1)"
            raise HfaError(f"{path}: 'thresholds.{rule}' holds {shorten(value)}; expected {each}; train the run again")


def _label_names(labels: Any) -> bool:
    # A multi-label run has two or more targets (config refuses a list of one); each names an output column.
    return (
        isinstance(labels, list)
        and len(labels) >= 2
        and all(isinstance(x, str) and x.strip() for x in labels)
        and len(set(labels)) == len(labels)
    )


def _check_against_config(info: dict[str, Any], config: Config, path: Path) -> None:
    """run.json's fields that config.yaml decides, as it decides them: run.json is not hashed (it holds the sha256s
    of the others), so a calibration or labels added, removed or renamed there would change the output silently."""
    wanted = config.eval.calibrate
    stored = info.get("calibration")
    if wanted == "none" and stored is not None:
        raise HfaError(
            f"{path}: 'calibration' holds {shorten(stored)}, but config.yaml's eval.calibrate is none (the run fitted "
            "no map); train the run again"
        )
    if wanted != "none":
        method = stored.get("method") if isinstance(stored, dict) else stored
        if method != wanted:
            raise HfaError(
                f"{path}: 'calibration' holds {shorten(stored)}, but config.yaml's eval.calibrate is {wanted} (the run "
                f"fitted a {wanted} map); train the run again"
            )
        Calibration.from_dict(stored, str(path))  # the map itself, held to what fit_calibration makes
    labels = (info.get("data") or {}).get("labels")
    target = config.data.target
    if not config.data.multilabel and labels is not None:
        raise HfaError(
            f"{path}: 'data.labels' holds {shorten(labels)}, but config.yaml's run is single-label (one target, one "
            "model output; it lists no labels); train the run again"
        )
    if config.data.multilabel and (labels is None or (isinstance(target, list) and labels != list(target))):
        expected = f"its targets {shorten(target)}" if isinstance(target, list) else "its targets"
        raise HfaError(
            f"{path}: 'data.labels' holds {shorten(labels)}, but config.yaml's run is multi-label: expected "
            f"{expected}, in order; train the run again"
        )


def _unit_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1


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
        """Probability of the positive class per row (float32), as the run's own evaluation computed it; ``(n, L)``
        for a multi-label run.

        Rows are checked as training checks them (no infinite or huge numbers) and scored in batches of at most
        ``BATCH_CELLS`` model inputs, so memory stays bounded whatever the table's size; a probability that is
        not finite is an ``HfaError``, never a blank in the output."""
        _check_rows(rows)
        _check_cells(rows, source)
        _check_numbers(rows, self.preprocessing, source)
        width = max(1, self.preprocessing.n_features)
        step = max(1, min(EVAL_BATCH, BATCH_CELLS // width))
        parts = [
            self._probabilities(self._inputs(rows.iloc[i : i + step], source, i), source, i)
            for i in range(0, len(rows), step)
        ]
        shape = (0, len(self.labels)) if self.labels else (0,)
        probability = np.concatenate(parts) if parts else np.empty(shape, dtype=np.float32)
        calibration = self.calibration  # read from run.json once
        return probability if calibration is None else calibration.apply(probability)

    def _probabilities(self, x: np.ndarray, source: str, first: int) -> np.ndarray:
        """``hfa.training.predict_proba`` on one batch (at most ``EVAL_BATCH`` rows: one chunk of its, the same
        numbers), with its float32 logits checked first: one that overflows (weights that no training writes, e.g.
        scaled by 1e37) would come out as a probability of exactly 0 or 1, never as an error."""
        import torch

        from hfa.losses.binned import logistic

        self.model.eval()
        with torch.no_grad():
            logits = self.model(torch.from_numpy(x)).float()
        finite = torch.isfinite(logits)
        if not finite.all():
            row = int(torch.nonzero(~finite)[0, 0])
            raise HfaError(
                f"{self.run_dir / 'model.pt'} gives row {first + row + 1} of {source} a logit beyond float32 (NaN or "
                "infinite); its weights were changed after training: train the run again"
            )
        return logistic(logits).numpy()

    def _inputs(self, rows: pd.DataFrame, source: str, first: int = 0) -> np.ndarray:
        """The model's float32 inputs; one that is not finite (a mean or scale of preprocessing.json that no
        training writes: rows within training's bounds stay finite) is an ``HfaError``, never a saturated score."""
        x = self.preprocessing.transform(rows, source)
        finite = np.isfinite(x)
        if not finite.all():
            row, j = (int(i[0]) for i in np.nonzero(~finite))
            raise HfaError(
                f"{self.run_dir / 'preprocessing.json'} turns row {first + row + 1} of {source} into a model input "
                f"that is not a finite float32 ({clip(self.preprocessing.feature_names[j])!r}); its numbers were "
                "changed after training: train the run again"
            )
        return x

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
        _check_rows(rows)
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
            if id_column in scored.columns:
                raise HfaError(
                    f"the id column {id_column!r} has the name of an output column ({', '.join(scored.columns)}); "
                    "rename it in the rows, or score without --id"
                )
            scored.insert(0, id_column, rows[id_column].to_numpy())
        return scored


def _check_rows(rows: Any) -> None:
    if not isinstance(rows, pd.DataFrame):
        raise HfaError(
            f"rows={type(rows).__name__} is not allowed; pass the rows to score as a pandas DataFrame with the run's "
            "feature columns (e.g. pandas.read_csv(FILE))"
        )
    # Columns are found by name (as text); a name twice makes rows[name] a table, not a column.
    names = [str(column) for column in rows.columns]
    twice = next((name for name in names if names.count(name) > 1), None) if len(set(names)) < len(names) else None
    if twice is not None:
        raise HfaError(
            f"the rows to score hold the column {clip(twice)!r} {names.count(twice)} times; give each column once"
        )


def _check_cells(rows: pd.DataFrame, source: str) -> None:
    """One value per cell, as training checks its table (``hfa.data.files.check_cells``): a Parquet column of
    lists would otherwise be scored as text."""
    from hfa.data.files import check_cells

    check_cells(rows, source)


def load_run(run_dir: str | Path) -> Predictor:
    """A finished run folder as a ``Predictor`` (on the CPU); a folder that is not one is a one-line HfaError."""
    import torch

    if not isinstance(run_dir, str | os.PathLike):
        raise HfaError(f"run_dir={run_dir!r:.80} is not allowed; give the path of a run folder")
    run_dir = Path(run_dir)
    info = check_finished(run_dir)
    # Every file the run wrote, byte for byte as written (run.json's sha256s); older runs: the checks below only.
    contents = verify_files(run_dir, info, needed=NEEDED[1:])
    labels = (info.get("data") or {}).get("labels")
    config = validate(read_yaml(run_dir / "config.yaml"), str(run_dir / "config.yaml"))
    _check_against_config(info, config, run_dir / "run.json")
    preprocessing_path = run_dir / "preprocessing.json"
    preprocessing = Preprocessing.from_dict(
        _check_preprocessing(_read_json(preprocessing_path), preprocessing_path), str(preprocessing_path)
    )
    model_path = run_dir / "model.pt"
    try:
        source = io.BytesIO(contents["model.pt"]) if "model.pt" in contents else model_path
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a corrupt file
        what = "it is empty or cut short" if isinstance(error, EOFError) else _one_line(error)
        raise HfaError(
            f"cannot load {model_path}: {what}; it is not a state dict hfa wrote: train the run again"
        ) from None
    _check_state(state, model_path)
    model = _build_model(config, preprocessing.n_features, labels, state, model_path)
    return Predictor(run_dir, config, preprocessing, model, info)


def _build_model(config: Config, n_features: int, labels: list[str] | None, state: dict[str, Any], path: Path) -> Any:
    """The scoring module from model.pt's tensors, and one forward pass on a row of zeros: whatever fails in
    building, loading or running it (a shape, a tree's structure, an output width other than the labels') is one
    line naming model.pt, never a traceback at scoring time."""
    import torch

    from hfa.baselines import load_model

    outputs = len(labels) if labels else 1
    try:
        # An MLP, or a baseline's tensors (logistic, gbdt), as config.yaml's model.name says.
        model = load_model(config.model, n_features, outputs, state)
        with torch.no_grad():
            shape = tuple(model(torch.zeros(1, n_features)).shape)
    except KeyError as error:  # a baseline's tensor the state lacks
        raise HfaError(
            f"cannot load {path}: it lacks the tensor {clip(str(error.args[0]))!r} that config.yaml's "
            f"model.name {config.model.name!r} needs; train the run again"
        ) from None
    except Exception as error:  # a mismatched file; HfaError included, so that each names model.pt
        raise HfaError(
            f"cannot load {path} as config.yaml's model.name {config.model.name!r}: "
            f"{_one_line(error).removesuffix('; train the run again')}; train the run again"
        ) from None
    if shape != ((1,) if outputs == 1 else (1, outputs)):
        raise HfaError(
            f"cannot load {path}: the model gives {shape[-1] if shape else 1} output(s) per row, where run.json's "
            f"labels need {outputs}; train the run again"
        )
    return model


def _check_preprocessing(data: Any, path: Path) -> dict[str, Any]:
    """preprocessing.json checked field by field, type by type, before anything is built from it."""
    from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

    from hfa.data.checks import MAX_ABS_FEATURE

    strict = ConfigDict(strict=True, allow_inf_nan=False)

    class Numeric(BaseModel):
        model_config = strict
        name: str
        kind: Literal["number", "bool"]
        dtype: str
        median: float
        mean: float
        scale: float = Field(gt=0)

        @model_validator(mode="after")
        def _scale_of_a_fit(self) -> Numeric:
            # Training's numbers are each of magnitude at most MAX_ABS_FEATURE: so are their median, mean and spread.
            for key in ("median", "mean", "scale"):
                if abs(getattr(self, key)) > MAX_ABS_FEATURE:
                    raise ValueError(
                        f"{key} {getattr(self, key)!r} exceeds {MAX_ABS_FEATURE:g}, the largest magnitude training "
                        "takes"
                    )
            # standard_scaler_fit writes 1 for a column whose variance is within rounding of 0, i.e. where
            # std <= rows * |mean| * eps; any other scale exceeds |mean| * eps. A smaller one blows inputs up.
            if self.scale != 1.0 and not self.scale > abs(self.mean) * float(np.finfo(np.float64).eps):
                raise ValueError(
                    f"scale {self.scale!r} is within rounding of 0 for a mean of {self.mean!r} (a fit writes 1 "
                    "for such a column)"
                )
            return self

    class Categorical(BaseModel):
        model_config = strict
        name: str
        dtype: str
        categories: list[str]

    class File(BaseModel):
        model_config = strict
        format: int
        numeric: list[Numeric]
        categorical: list[Categorical]
        ignored: list[str]
        feature_names: list[str]

        @model_validator(mode="after")
        def _one_name_per_output(self) -> File:
            from hfa.data.preprocess import CategoricalColumn, _names

            outputs = len(self.numeric) + sum(len(c.categories) for c in self.categorical)
            if len(self.feature_names) != outputs:
                raise ValueError(
                    f"feature_names lists {len(self.feature_names)} names for {outputs} model inputs (numeric "
                    "columns plus category levels)"
                )
            columns = [c.name for c in self.numeric] + [c.name for c in self.categorical] + self.ignored
            twice = next((name for name in columns if columns.count(name) > 1), None)
            if twice is not None:
                raise ValueError(f"column {clip(twice)!r} is listed twice; each input column once")
            for column in self.categorical:
                if len(set(column.categories)) != len(column.categories):
                    raise ValueError(f"column {clip(column.name)!r} lists a category level twice; each level once")
            levels = [CategoricalColumn(c.name, c.dtype, tuple(c.categories)) for c in self.categorical]
            if tuple(self.feature_names) != _names([c.name for c in self.numeric], levels):
                raise ValueError(
                    "feature_names are not the numeric columns then the category levels, in the order of "
                    "'numeric' and 'categorical'"
                )
            return self

    if not isinstance(data, dict):
        raise HfaError(f"{path} must hold a JSON object (got {type(data).__name__}); train the run again")
    try:
        File.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        shown = "" if isinstance(error.get("input"), dict) else f" holds {shorten(error.get('input'))};"
        message = error["msg"].removeprefix("Value error, ")
        where = f"{key!r}{shown} " if key else ""
        raise HfaError(f"{path}: {where}{message}; train the run again") from None
    return data


def _check_numbers(rows: pd.DataFrame, preprocessing: Preprocessing, source: str) -> None:
    """The numeric inputs as training checked its own: finite and of magnitude at most ``MAX_ABS_FEATURE``."""
    from hfa.data.checks import check_magnitudes

    columns = {str(c): c for c in rows.columns}
    for column in preprocessing.numeric:
        values = rows[columns[column.name]] if column.name in columns else None
        if values is None or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue  # a missing or non-numeric column is named by transform
        check_magnitudes(values.to_numpy(dtype=np.float64, na_value=np.nan), source, [column.name], rows="row")


def _check_state(state: Any, path: Path) -> None:
    """model.pt: a mapping of names to dense tensors of real numbers, finite in float32 (the scores' precision: a
    weight beyond it, or a NaN, scores rows as NaN, 0 or 1); whole numbers and booleans only as a gbdt's tree
    structure (checked by ``hfa.baselines.load_model``)."""
    import torch

    if not isinstance(state, dict):
        raise HfaError(f"cannot load {path}: it holds a {type(state).__name__}, not a state dict; train the run again")
    largest = torch.finfo(torch.float32).max
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor) or not (
            tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.bool)
        ):
            what = f"a {tensor.dtype} tensor" if isinstance(tensor, torch.Tensor) else f"a {type(tensor).__name__}"
            raise HfaError(
                f"cannot load {path}: {clip(str(name))!r} is {what}, not a tensor of weights (real numbers); "
                "train the run again"
            )
        if tensor.layout != torch.strided:  # hfa saves dense tensors; a sparse one breaks loading and scoring
            raise HfaError(
                f"cannot load {path}: {clip(str(name))!r} is a {tensor.layout} tensor, not a dense one "
                "hfa writes; train the run again"
            )
        if tensor.is_floating_point() and not (tensor.abs() <= largest).all():
            raise HfaError(
                f"cannot load {path}: {clip(str(name))!r} holds values that are not finite in float32 (NaN, "
                f"infinite or beyond {largest:.4g}); train the run again"
            )


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
        from hfa.io import missing_file

        raise HfaError(f"cannot score {path}: it {missing_file(path)}")
    from hfa.data.files import check_header

    check_header(path, str(path))  # as training reads its table: a column named twice is not renamed a.1
    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except ImportError as error:
        raise HfaError(f"reading {path} needs a parquet engine: pip install 'hfa[parquet]' ({error})") from None
    except Exception as error:  # parser errors come in many library-specific types
        raise HfaError(f"could not read {path}: {_one_line(error)}") from None


def check_out(path: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Where ``write_rows`` may write (``hfa predict --out``): a .csv or .parquet name that replaces nothing hfa
    did not make and is none of ``inputs`` (see ``hfa.outfile``); one-line ``HfaError`` otherwise."""
    from hfa.outfile import check_out_file

    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise HfaError(f"--out {path}: unsupported file type {path.suffix!r}; allowed: .csv, .parquet")
    return check_out_file(path, "--out", inputs=inputs)


def write_rows(frame: pd.DataFrame, path: str | Path) -> Path:
    """Scored rows to CSV or Parquet (by suffix), written atomically."""
    from hfa.io import atomic_write

    path = check_out(path)
    if path.suffix.lower() == ".csv":
        return atomic_write(path, lambda p: frame.to_csv(p, index=False))
    return atomic_write(path, lambda p: frame.to_parquet(p, index=False))
