"""The training loop: data on the device, batches by index permutation, Adam, early stopping.

Reads top to bottom: seed -> optimiser -> for each epoch (shuffle, step through batches, validate, keep the best)
-> restore the best weights. Nothing here prints; ``on_epoch`` lets the caller show progress.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from hfa.config import TrainConfig


class TrainingError(RuntimeError):
    """Training could not go on (the loss became NaN or infinite); the message says when and what to try."""


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    val_loss: float
    val_f1: float
    best: bool


@dataclass
class TrainResult:
    history: list[EpochLog] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    stopped: str = "max_epochs"
    seconds: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def hard_f1(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """F1 at probability 0.5 (logit 0), on the device, for progress display and history.

    ``(N,)`` logits give a scalar; ``(M, N)`` logits (a stack of runs) one value per row against shared targets.
    """
    predicted = logits >= 0
    positive = targets > 0.5
    tp = (predicted & positive).sum(dim=-1)
    return 2 * tp / (predicted.sum(dim=-1) + positive.sum()).clamp_min(1)


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def fit(
    model: nn.Module,
    loss_fn: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    cfg: TrainConfig,
    seed: int,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place on tensors already on its device; leaves it holding the best epoch's weights."""
    device = x_train.device
    start = time.perf_counter()
    generator = torch.Generator(device=device).manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step_model = torch.compile(model) if cfg.compile and device.type == "cuda" else model
    n = x_train.shape[0]
    result = TrainResult()
    best_val, best_state, since_best = math.inf, copy.deepcopy(model.state_dict()), 0

    for epoch in range(1, cfg.epochs + 1):
        # One pass over the training split in a fresh random order; the loss is summed on the device so the
        # epoch needs a single host sync at the end.
        model.train()
        order = torch.randperm(n, generator=generator, device=device)
        total = torch.zeros((), device=device)
        for begin in range(0, n, cfg.batch_size):
            index = order[begin : begin + cfg.batch_size]
            with _autocast(device, cfg.amp):
                loss = loss_fn(step_model(x_train[index]), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * index.numel()

        # Validation: the same loss on the whole split at once, plus F1 at 0.5 to watch.
        model.eval()
        with torch.no_grad(), _autocast(device, cfg.amp):
            val_logits = step_model(x_val).float()
            val_loss = loss_fn(val_logits, y_val)
        train_loss, val_loss_value, val_f1 = (float(v) for v in (total / n, val_loss, hard_f1(val_logits, y_val)))
        if not (math.isfinite(train_loss) and math.isfinite(val_loss_value)):
            bad = train_loss if not math.isfinite(train_loss) else val_loss_value
            raise TrainingError(
                f"the loss became {bad} at epoch {epoch}; lower train.lr (now {cfg.lr:g}) or check the data"
            )

        improved = val_loss_value < best_val
        if improved:
            best_val, best_state, since_best = val_loss_value, copy.deepcopy(model.state_dict()), 0
            result.best_epoch = epoch
        else:
            since_best += 1
        log = EpochLog(epoch, train_loss, val_loss_value, val_f1, improved)
        result.history.append(log)
        result.epochs_run = epoch
        if on_epoch is not None:
            on_epoch(log)
        if cfg.patience and since_best >= cfg.patience:
            result.stopped = "early_stopping"
            break

    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - start
    return result


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 262_144) -> np.ndarray:
    """Probabilities of the positive class, in large chunks so a big split does not hold every activation."""
    model.eval()
    chunks = [torch.sigmoid(model(x[i : i + batch_size]).float()) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(chunks).cpu().numpy() if chunks else np.empty(0, dtype=np.float32)
