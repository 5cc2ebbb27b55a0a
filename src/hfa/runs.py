"""One run end to end: config -> data -> model -> loss -> training -> metrics -> files.

A run folder is written whole or not at all (see ``hfa.rundir``), so a killed run leaves no half-written tables.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
import torch

from hfa import __version__
from hfa.config import Config, run_id
from hfa.data import Splits, prepare_data
from hfa.devices import resolve_device
from hfa.errors import HfaError
from hfa.losses import build_loss, loss_label
from hfa.metrics import evaluate
from hfa.model import MLP, build_model
from hfa.rundir import RUN_FILES, completed, run_config, run_dir_for, write_run  # noqa: F401  (re-exported)
from hfa.stacked import fit_stacked, stack_key
from hfa.training import EpochLog, TrainingError, TrainResult, fit, predict_proba, seed_everything


@dataclass
class RunOutcome:
    run_dir: Path
    metrics: pd.DataFrame
    info: dict[str, Any]


def versions() -> dict[str, str]:
    return {
        "hfa": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_run_loss(cfg: Config, y_train: torch.Tensor) -> torch.nn.Module:
    params = cfg.loss.model_dump(exclude={"name"})
    loss_fn = build_loss(cfg.loss.name, **params)
    if hasattr(loss_fn, "fit"):
        loss_fn.fit(y_train)  # resolves pos_weight='auto' from the training labels
    return loss_fn


@dataclass
class TrainedRun:
    """What training leaves for evaluation: the model at its best epoch, its loss and how training went."""

    model: torch.nn.Module
    loss_fn: torch.nn.Module
    result: TrainResult
    started: str
    t0: float
    data_s: float
    stacked: int = 1  # how many runs trained together (1: alone)


def _device_tensors(splits: Splits, device: torch.device) -> dict[str, torch.Tensor]:
    names = ("x_train", "y_train", "x_val", "y_val")
    return {name: torch.as_tensor(getattr(splits, name), device=device) for name in names}


def build_run(cfg: Config, n_features: int, y_train: torch.Tensor, device: torch.device) -> tuple[MLP, torch.nn.Module]:
    """A run's freshly initialised model and its loss; the model's weights depend only on ``cfg.seed``."""
    seed_everything(cfg.seed)
    model = build_model(n_features, cfg.model).to(device)
    loss_fn = build_run_loss(cfg, y_train).to(device)
    return model, loss_fn


def execute_run(
    cfg: Config,
    out: str | Path,
    on_epoch: Callable[[EpochLog], None] | None = None,
    splits: Splits | None = None,
) -> RunOutcome:
    """Train and evaluate one config and write its folder; raises ``HfaError``/``TrainingError`` on failure."""
    started, t0 = _now(), time.perf_counter()
    device = resolve_device(cfg.train.device)
    splits = splits if splits is not None else prepare_data(cfg.data)
    data_s = splits.prepare_s  # also when the caller prepared them: the time really spent on the data
    t = _device_tensors(splits, device)
    model, loss_fn = build_run(cfg, t["x_train"].shape[1], t["y_train"], device)
    result = fit(model, loss_fn, t["x_train"], t["y_train"], t["x_val"], t["y_val"], cfg.train, cfg.seed, on_epoch)
    return finish_run(cfg, out, splits, device, TrainedRun(model, loss_fn, result, started, t0, data_s))


def execute_stack(
    cfgs: Sequence[Config],
    out: str | Path,
    splits: Splits | None = None,
    on_epoch: Callable[[int, EpochLog], None] | None = None,
) -> list[RunOutcome | HfaError | TrainingError]:
    """Train runs that share data, model shape and training settings as one stack, then finish each alone.

    Each run's folder is what ``execute_run`` writes for it (``"stacked"`` in run.json counts the runs trained
    together). The result for a run is its ``RunOutcome`` or the error its single run would raise; a run's failure
    does not stop the others. ``on_epoch(i, log)`` reports epochs of ``cfgs[i]``.
    Raises ``HfaError`` for what fails them all (the data) and ``ValueError`` for configs that cannot stack.
    """
    cfgs = list(cfgs)
    keys = {stack_key(cfg) for cfg in cfgs}
    if not cfgs or None in keys or len(keys) > 1:
        raise ValueError("execute_stack needs stackable configs that share data, model and training settings")
    started, t0 = _now(), time.perf_counter()
    first = cfgs[0]
    device = resolve_device(first.train.device)
    splits = splits if splits is not None else prepare_data(first.data)
    data_s = splits.prepare_s  # also when the caller prepared them: the time really spent on the data
    t = _device_tensors(splits, device)

    results: dict[int, RunOutcome | HfaError | TrainingError] = {}
    members, losses, seeds, places = [], [], [], []
    for place, cfg in enumerate(cfgs):
        try:
            model, loss_fn = build_run(cfg, t["x_train"].shape[1], t["y_train"], device)
        except HfaError as error:  # e.g. a loss that cannot fit these labels: that run fails, not the stack
            results[place] = error
            continue
        members.append(model)
        losses.append(loss_fn)
        seeds.append(cfg.seed)
        places.append(place)
    if members:
        # fit_stacked numbers the members it was given; the caller numbers the configs.
        report = None if on_epoch is None else (lambda member, log: on_epoch(places[member], log))
        trained = fit_stacked(
            members, t["x_train"], t["y_train"], t["x_val"], t["y_val"], first.train, seeds, losses, report
        )
        for model, loss_fn, place, result in zip(members, losses, places, trained, strict=True):
            if isinstance(result, TrainingError):
                results[place] = result
                continue
            run = TrainedRun(model, loss_fn, result, started, t0, data_s, stacked=len(members))
            try:
                results[place] = finish_run(cfgs[place], out, splits, device, run)
            except HfaError as error:
                results[place] = error
    return [results[place] for place in range(len(cfgs))]


def finish_run(cfg: Config, out: str | Path, splits: Splits, device: torch.device, run: TrainedRun) -> RunOutcome:
    """Evaluate a trained run on validation and test, and write its folder (the same for single and stacked)."""
    model, loss_fn, result = run.model, run.loss_fn, run.result
    clock = time.perf_counter()
    scores = {
        "val": (splits.y_val, predict_proba(model, torch.as_tensor(splits.x_val, device=device))),
        "test": (splits.y_test, predict_proba(model, torch.as_tensor(splits.x_test, device=device))),
    }
    metrics = evaluate(scores, threshold=cfg.eval.threshold, tune_metric=cfg.eval.tune_metric, beta=cfg.loss.beta)
    eval_s = time.perf_counter() - clock

    info = {
        "run_id": run_id(cfg),
        "name": cfg.name,
        "status": "ok",
        "error": None,
        "loss_label": loss_label(cfg.loss.name, cfg.loss.model_dump()),
        "pos_weight": _resolved_pos_weight(loss_fn),
        "started": run.started,
        "finished": _now(),
        "device": str(device),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped": result.stopped,
        "stacked": run.stacked,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "timings": {
            "data_s": run.data_s,
            "train_s": result.seconds,
            "eval_s": eval_s,
            "total_s": time.perf_counter() - run.t0,
        },
        "data": splits.info,
        "versions": versions(),
    }
    run_dir = run_dir_for(cfg, out)
    write_run(run_dir, cfg, info, metrics=metrics, history=_history_frame(result), model=model)
    return RunOutcome(run_dir, metrics, info)


def _resolved_pos_weight(loss_fn: torch.nn.Module) -> float | None:
    weight = getattr(loss_fn, "pos_weight", None)
    return float(weight) if isinstance(weight, (int, float, torch.Tensor)) else None


def _history_frame(result: TrainResult) -> pd.DataFrame:
    return pd.DataFrame([vars(log) for log in result.history])


def record_failure(cfg: Config, out: str | Path, error: BaseException) -> Path:
    """Write a run folder that says the run failed and why, so a sweep's tables show it."""
    info = {
        "run_id": run_id(cfg),
        "name": cfg.name,
        "status": "failed",
        "error": str(error),
        "loss_label": loss_label(cfg.loss.name, cfg.loss.model_dump()),
        "finished": _now(),
        "versions": versions(),
    }
    run_dir = run_dir_for(cfg, out)
    write_run(run_dir, cfg, info)
    return run_dir
