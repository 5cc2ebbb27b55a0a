"""Runs end to end: config -> data -> model -> loss -> training (one stack) -> metrics -> files.

A run folder is written whole or not at all (see ``hfa.rundir``), so a killed run leaves no half-written tables.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hfa import __version__
from hfa.cautions import run_warnings
from hfa.config import Config, run_id
from hfa.data import Splits, prepare_data
from hfa.devices import resolve_device
from hfa.errors import HfaError
from hfa.losses import LOSSES, build_loss, loss_label
from hfa.metrics import curve_points, evaluate, tuned_rules
from hfa.model import build_model
from hfa.rundir import RUN_FILES, claim, completed, run_config, run_dir_for, write_run  # noqa: F401  (re-exported)
from hfa.training import EpochLog, Member, MemberData, Streams, TrainingError, TrainResult, predict_proba, train


@dataclass
class RunOutcome:
    run_dir: Path
    metrics: pd.DataFrame
    info: dict[str, Any]


def versions() -> dict[str, str]:
    return dict(_versions())  # a copy: the caller's run.json may be changed


@cache
def _versions() -> dict[str, str]:
    # Fixed for the process; platform.platform() alone costs a millisecond, a sweep asks once a run.
    return {
        "hfa": __version__,
        "torch": torch.__version__,
        # The installed version without importing scikit-learn (~1 s, scipy.stats), which a run may not need.
        "scikit-learn": importlib.metadata.version("scikit-learn"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_run_loss(cfg: Config, y_train: torch.Tensor, labels: list[str] | None = None) -> torch.nn.Module:
    """The run's loss, fitted to its training labels; ``(n, L)`` labels make it a loss of ``L`` labels."""
    params = cfg.loss.model_dump(exclude={"name"})
    if isinstance(cfg.loss.pos_weight, list) and y_train.dim() == 1 and "pos_weight" in LOSSES[cfg.loss.name].params:
        raise HfaError(
            f"loss.pos_weight={cfg.loss.pos_weight} lists one weight per label, for multi-label runs; "
            "this run has one label: give a number or 'auto'"
        )
    loss_fn = build_loss(cfg.loss.name, **params)
    if y_train.dim() == 2:
        from hfa.losses.multilabel import MultiLabelLoss

        loss_fn = MultiLabelLoss(loss_fn, y_train.shape[1], cfg.loss.average, labels)
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


def load_splits(cfg: Config) -> Splits:
    """The run's data: its data section with the data seed resolved (``data.seed: null`` follows ``seed``)."""
    return prepare_data(cfg.resolved_data())


def _member_data(splits: Splits, device: torch.device) -> MemberData:
    arrays = (splits.x_train, splits.y_train, splits.x_val, splits.y_val)
    return MemberData(*(torch.as_tensor(a, device=device) for a in arrays))


def execute_runs(
    cfgs: Sequence[Config],
    out: str | Path,
    on_epoch: Callable[[int, EpochLog], None] | None = None,
    splits: Sequence[Splits] | None = None,
) -> list[RunOutcome | HfaError | TrainingError]:
    """Train runs (one, or many sharing model shape and training settings) as stacks, then finish each alone.

    The one way hfa trains: ``hfa train`` is a stack of one, a sweep hands each of its stacks here. A run's folder
    does not depend on which runs shared its stack (``"stacked"`` in run.json counts them). The result for a run is
    its ``RunOutcome`` or the error that stopped it; one run's failure does not stop the others. Runs whose data
    have different shapes train in separate stacks. ``on_epoch(i, log)`` reports epochs of ``cfgs[i]``; ``splits``
    (one per config) skips loading the data.
    """
    with one_thread():
        return _execute_runs(list(cfgs), out, on_epoch, splits)


@contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread while runs train and evaluate, whoever runs them (``hfa train``, a sweep, a worker).

    PyTorch splits large elementwise ops and reductions between threads, and a split can fall inside a vector
    iteration, changing the rounding; a run's numbers must not depend on the machine's core count. (The MLPs hfa
    trains gain little from intra-op threads; parallel sweeps use processes.)
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _execute_runs(
    cfgs: list[Config],
    out: str | Path,
    on_epoch: Callable[[int, EpochLog], None] | None,
    splits: Sequence[Splits] | None,
) -> list[RunOutcome | HfaError | TrainingError]:
    started, t0 = _now(), time.perf_counter()
    # Every check has passed: the experiment folders are made and marked as hfa's before the first epoch.
    for folder in dict.fromkeys(run_dir_for(cfg, out).parent for cfg in cfgs):
        claim(folder)
    results: dict[int, RunOutcome | HfaError | TrainingError] = {}
    loaded: dict[int, tuple[Splits, float]] = {}
    shared: dict[str, tuple[Splits, float]] = {}  # runs with one data config share one Splits (and its tensors)
    for place, cfg in enumerate(cfgs):
        key = cfg.resolved_data().model_dump_json()
        try:
            if splits is not None:
                # The caller's time preparing them, not ~0 s for handing them over (hfa train prepares first).
                loaded[place] = (splits[place], splits[place].prepare_s)
                continue
            if key not in shared:
                clock = time.perf_counter()
                shared[key] = (load_splits(cfg), time.perf_counter() - clock)
            loaded[place] = shared[key]
        except HfaError as error:  # e.g. a ratio this run's data cannot reach: that run fails, not the stack
            results[place] = error

    by_shape: dict[tuple, list[int]] = {}
    for place, (split, _) in loaded.items():
        if cfgs[place].model.name != "mlp":  # a baseline fits alone, then is finished as a stack member is
            results[place] = _fit_baseline(cfgs[place], out, loaded[place], started, t0, on_epoch, place)
            continue
        shape = (split.x_train.shape, split.x_val.shape, split.y_train.shape[1:])  # labels: the output width
        by_shape.setdefault(shape, []).append(place)
    for places in by_shape.values():
        results.update(_train_stack(cfgs, places, loaded, out, started, t0, on_epoch))
    return [results[place] for place in range(len(cfgs))]


def _train_stack(
    cfgs: list[Config],
    places: list[int],
    loaded: dict[int, tuple[Splits, float]],
    out: str | Path,
    started: str,
    t0: float,
    on_epoch: Callable[[int, EpochLog], None] | None,
) -> dict[int, RunOutcome | HfaError | TrainingError]:
    device = resolve_device(cfgs[places[0]].train.device)
    results: dict[int, RunOutcome | HfaError | TrainingError] = {}
    data: list[MemberData] = []
    data_index: dict[int, int] = {}  # id of a Splits -> its position in ``data``: runs sharing splits share tensors
    members: list[Member] = []
    kept: list[int] = []
    for place in places:
        cfg, split = cfgs[place], loaded[place][0]
        if id(split) not in data_index:
            data_index[id(split)] = len(data)
            data.append(_member_data(split, device))
        member_data = data[data_index[id(split)]]
        try:
            labels = split.info.get("labels")
            outputs = len(labels) if labels else 1
            model = build_model(split.n_features, cfg.model, Streams.from_seed(cfg.seed).init, outputs).to(device)
            loss_fn = build_run_loss(cfg, member_data.y_train, labels).to(device)
        except HfaError as error:  # e.g. a loss that cannot fit these labels: that run fails, not the stack
            results[place] = error
            continue
        members.append(Member(model, loss_fn, data_index[id(split)], cfg.seed))
        kept.append(place)
    report = None if on_epoch is None else (lambda member, log: on_epoch(kept[member], log))
    trained = train(members, data, cfgs[kept[0]].train, report) if members else []
    for member, place, result in zip(members, kept, trained, strict=True):
        if isinstance(result, TrainingError):
            results[place] = result
            continue
        split, data_s = loaded[place]
        run = TrainedRun(member.model, member.loss_fn, result, started, t0, data_s, stacked=len(members))
        try:
            results[place] = finish_run(cfgs[place], out, split, device, run)
        except HfaError as error:
            results[place] = error
    return results


def _fit_baseline(
    cfg: Config,
    out: str | Path,
    loaded: tuple[Splits, float],
    started: str,
    t0: float,
    on_epoch: Callable[[int, EpochLog], None] | None,
    place: int,
) -> RunOutcome | HfaError:
    from hfa.baselines import fit_baseline

    split, data_s = loaded
    try:
        fitted = fit_baseline(cfg, split.x_train, split.y_train, split.x_val, split.y_val)
        if on_epoch is not None:  # one step of progress (Config.progress_epochs); history.csv keeps the iterations
            on_epoch(place, dataclasses.replace(fitted.result.history[-1], epoch=1))
        run = TrainedRun(fitted.model, fitted.loss_fn, fitted.result, started, t0, data_s)
        return finish_run(cfg, out, split, torch.device("cpu"), run)
    except HfaError as error:
        return error


def execute_run(
    cfg: Config,
    out: str | Path,
    on_epoch: Callable[[EpochLog], None] | None = None,
    splits: Splits | None = None,
) -> RunOutcome:
    """Train and evaluate one config (a stack of one) and write its folder; raises ``HfaError``/``TrainingError``."""
    report = None if on_epoch is None else (lambda _, log: on_epoch(log))
    (outcome,) = execute_runs([cfg], out, report, None if splits is None else [splits])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def finish_run(cfg: Config, out: str | Path, splits: Splits, device: torch.device, run: TrainedRun) -> RunOutcome:
    """Evaluate a trained run on validation and test, and write its folder (the same for single and stacked)."""
    model, loss_fn, result = run.model, run.loss_fn, run.result
    clock = time.perf_counter()
    scores = {
        "val": (splits.y_val, predict_proba(model, torch.as_tensor(splits.x_val, device=device))),
        "test": (splits.y_test, predict_proba(model, torch.as_tensor(splits.x_test, device=device))),
    }
    calibration = None
    if cfg.eval.calibrate != "none":  # thresholds are tuned, and metrics taken, on the calibrated scores
        from hfa.calibration import calibrate_run, with_raw_scores

        scores, calibration, raw = calibrate_run(cfg.eval.calibrate, scores)
    curves = None
    if splits.info.get("labels"):
        from hfa.metrics_multilabel import evaluate_multilabel

        metrics = evaluate_multilabel(
            scores,
            splits.info["labels"],
            cfg.eval.threshold,
            cfg.eval.tune_metric,
            beta=cfg.loss.beta,
            tune_betas=cfg.eval.tune_betas,
            betas=trained_betas(cfg),
        )
    else:
        metrics = evaluate(
            scores,
            threshold=cfg.eval.threshold,
            tune_metric=cfg.eval.tune_metric,
            beta=cfg.loss.beta,
            betas=trained_betas(cfg),
            tune_betas=cfg.eval.tune_betas,
        )
        curves = curve_points(scores)
    if calibration is not None:
        metrics = with_raw_scores(metrics, raw)
    eval_s = time.perf_counter() - clock
    # What the tuned thresholds were chosen on (per label for a multi-label run).
    positives = splits.y_val.sum(axis=0)
    val_positives = [int(p) for p in positives] if positives.ndim else int(positives)

    info = {
        "run_id": run_id(cfg),
        "name": cfg.name,
        "status": "ok",
        "error": None,
        "model": cfg.model.name,
        "loss_label": loss_label(cfg.loss.name, cfg.loss.model_dump(), whole_lists=True),
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
        "thresholds": decision_thresholds(cfg, metrics),
        **({} if calibration is None else {"calibration": calibration.to_dict()}),
        "val_positives": val_positives,
        "warnings": run_warnings(splits.info, val_positives, splits.info.get("labels")),
        "versions": versions(),
    }
    run_dir = run_dir_for(cfg, out)
    fitted = splits.preprocessing.to_dict() if splits.preprocessing is not None else None
    write_run(
        run_dir,
        cfg,
        info,
        metrics=metrics,
        history=_history_frame(result),
        model=model,
        preprocessing=fitted,
        curves=curves,
    )
    return RunOutcome(run_dir, metrics, info)


def trained_betas(cfg: Config) -> tuple[float, ...]:
    """The betas whose F-beta a run records: 1 always, and the loss's own beta when it trains for F-beta."""
    return (1.0, cfg.loss.beta) if cfg.loss.name == "fbeta" else (1.0,)


def decision_thresholds(cfg: Config, metrics: pd.DataFrame) -> dict[str, Any]:
    """The fixed threshold and those tuned on validation (``tuned``, and ``tuned_f<beta>`` of ``eval.tune_betas``),
    as ``hfa predict --threshold fixed|tuned|tuned_f<beta>`` reads them.

    Multi-label runs: ``tuned`` lists one threshold per label, in the order of ``labels``.
    """
    val = metrics[metrics["split"] == "val"]
    tuned: dict[str, float | list[float]] = {}
    labels: dict[str, list[str]] = {}
    for rule in ["tuned", *tuned_rules(cfg.eval.tune_betas)]:
        rows = val[val["rule"] == rule]
        if "label" in metrics.columns:
            per_label = rows[~rows["label"].isin(("macro", "micro"))]
            tuned[rule] = [float(t) for t in per_label["threshold"]]
            labels = {"labels": per_label["label"].tolist()}
        else:
            tuned[rule] = float(rows["threshold"].iloc[0])
    return {"fixed": cfg.eval.threshold, **tuned, "tune_metric": cfg.eval.tune_metric, **labels}


def _resolved_pos_weight(loss_fn: torch.nn.Module) -> float | list[float] | None:
    weight = getattr(loss_fn, "pos_weight", None)
    if isinstance(weight, tuple):
        return list(weight)  # one per label
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
        "loss_label": loss_label(cfg.loss.name, cfg.loss.model_dump(), whole_lists=True),
        "finished": _now(),
        "versions": versions(),
    }
    run_dir = run_dir_for(cfg, out)
    write_run(run_dir, cfg, info)
    return run_dir
