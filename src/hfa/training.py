"""The trainer. One loop trains a stack of runs; a single run is a stack of one.

Reads top to bottom: seeds -> data on the device -> per-member streams -> the stacked model and optimiser -> for
each epoch (every member's batch order, batches by index, one loss call per group of members sharing a loss,
backward, Adam; then validation) -> early stopping per member -> each member's best weights.

What makes a member its own run, whoever shares its stack: its initial weights, batch order and dropout masks come
from its own seed (:class:`Streams`), its data from its own splits, its loss and early stopping are its own, and
every operation the stack applies is either elementwise or a per-member product whose bits do not depend on the
stack size (see ``hfa.model`` and ``hfa.cpu_step``). So a run's numbers are the same trained alone or in any
stack (tested bit for bit on CPU). Nothing here prints; ``on_epoch`` lets the caller show progress.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from hfa.config import TrainConfig
from hfa.losses import group_losses
from hfa.losses.binned import logistic
from hfa.losses.modules import value_and_grad
from hfa.model import MLP, StackedMLP
from hfa.optim import StackedAdam

STACK_LIMIT = 64
"""Most members in one stack: bounds the memory of a stack's parameters, optimiser state and activations."""

_VALIDATION_ELEMENTS = 1 << 24  # floats per activation tensor while validating (64 MiB in float32)

ROW_BLOCK = 32
"""Every member's batch is padded to a multiple of this many rows, the padding masked out of the loss.

Why: PyTorch's CPU kernels run an elementwise function (exp, log, sigmoid, tanh) in vector lanes and finish a
tensor's last few elements with scalar code, which may round differently. A member's rows must fall in the same
lanes whatever stack they sit in, so each member's block of a stacked tensor is a whole number of vector
iterations (two 16-float vectors, the widest PyTorch unrolls).
"""


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


@dataclass(frozen=True)
class Streams:
    """The seeds of a run's independent random streams, all derived from its one ``seed``."""

    init: int
    order: int
    dropout: int

    @classmethod
    def from_seed(cls, seed: int) -> Streams:
        # SeedSequence gives statistically independent streams, so a run's batch order does not change when
        # dropout is switched on, and neighbouring seeds do not share streams.
        return cls(*(int(s) for s in np.random.SeedSequence(seed).generate_state(3)))


@dataclass(frozen=True)
class MemberData:
    """A member's training and validation split, as tensors on the training device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


@dataclass
class Member:
    """One run in a stack: its freshly built model (trained in place), its loss, its data (an index into the
    stack's data list) and its seed (batch order and dropout masks)."""

    model: MLP
    loss_fn: nn.Module
    data: int
    seed: int


def hard_f1(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """F1 at probability 0.5 (logit 0), on the device, for progress display and history; per row of ``(M, N)``.

    Multi-label rows ``(M, N, L)`` give the micro F1 (counts summed over the labels)."""
    predicted = (logits >= 0).flatten(1)
    positive = (targets > 0.5).flatten(1)
    tp = (predicted & positive).sum(dim=-1)
    return 2 * tp / (predicted.sum(dim=-1) + positive.sum(dim=-1)).clamp_min(1)


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _taped(device: torch.device) -> bool:
    """Whether a step runs without autograd: on CPU the step plan (``hfa.cpu_step``) and the losses' closed-form
    gradients, the very operations autograd would run; a GPU takes batched products and autograd."""
    return device.type == "cpu"


def _diverged(epoch: int, train_loss: float, val_loss: float, cfg: TrainConfig) -> TrainingError:
    bad = train_loss if not math.isfinite(train_loss) else val_loss
    return TrainingError(f"the loss became {bad} at epoch {epoch}; lower train.lr (now {cfg.lr:g}) or check the data")


def _mask(members: int, rows: int, pad: int, device: torch.device) -> torch.Tensor | None:
    """Sample weights for ``rows`` real rows and ``pad`` padding rows: the real ones scaled so that a mean over the
    padded batch is the mean over the real rows (metric losses are ratios of counts, unchanged by the scale)."""
    if not pad:
        return None
    weights = torch.zeros(members, rows + pad, device=device)
    weights[:, :rows] = (rows + pad) / rows
    return weights


def _groups(
    loss_fns: Sequence[nn.Module],
    sizes: list[int],
    logits: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor | None,
) -> list[tuple]:
    """``(loss, logits, targets, weights)`` of each group of members sharing a loss configuration (consecutive
    rows, ``sizes`` of them), so a group's loss is one call."""
    if len(loss_fns) == 1:  # a split and a cat cost more than the loss at small batches
        return [(loss_fns[0], logits, targets, weights)]
    row_weights = [None] * len(sizes) if weights is None else weights.split(sizes)
    return list(zip(loss_fns, logits.split(sizes), targets.split(sizes), row_weights, strict=True))


def _cat(parts: Sequence[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _losses(groups: list[tuple]) -> torch.Tensor:
    """Every member's loss, one call per group (see :func:`_groups`)."""
    return _cat([loss_fn.per_row(z, y, w) for loss_fn, z, y, w in groups])


def _losses_and_grads(groups: list[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_losses` and the gradient of their sum at the logits: each group's closed form where it has one."""
    pairs = [_value_and_grad(*group) for group in groups]
    return _cat([losses for losses, _ in pairs]), _cat([grad for _, grad in pairs])


def _value_and_grad(loss_fn: nn.Module, z: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None):
    if hasattr(loss_fn, "value_and_grad"):  # hfa's losses: a closed form where they have one
        return loss_fn.value_and_grad(z, y, w)
    return value_and_grad(loss_fn.per_row, z, y, w)  # any module with a per_row: autograd


def train(
    members: Sequence[Member],
    data: Sequence[MemberData],
    cfg: TrainConfig,
    on_epoch: Callable[[int, EpochLog], None] | None = None,
) -> list[TrainResult | TrainingError]:
    """Train ``members`` together; each ends holding its best epoch's weights.

    The result for member ``m`` is its ``TrainResult``, or the ``TrainingError`` that stopped it (its loss became NaN
    or infinite); a failed member leaves the stack and the others go on. ``on_epoch(m, log)`` reports each member's
    epochs. Every member's data must have the same shapes. ``seconds`` is the wall time until that member finished.
    """
    if not members:
        return []
    shapes = {tuple(tuple(t.shape) for t in (d.x_train, d.y_train, d.x_val, d.y_val)) for d in data}
    if len(shapes) != 1:
        raise ValueError(f"every member's data must have the same shapes to share a stack (got {sorted(shapes)})")
    start = time.perf_counter()
    device = data[0].x_train.device

    # Data on the device. Training rows of every data set end to end: member m's row i is row data[m] * n + i,
    # so a batch of every member is one index_select.
    if len(data) == 1:  # a single run: its tensors as they are (a cat would copy them)
        x_train, y_train = data[0].x_train, data[0].y_train
    else:
        x_train, y_train = torch.cat([d.x_train for d in data]), torch.cat([d.y_train for d in data])
    n, n_val = data[0].x_train.shape[0], data[0].x_val.shape[0]
    n_features = x_train.shape[1]
    val_pad = -n_val % ROW_BLOCK
    x_val = torch.stack([nn.functional.pad(d.x_val, (0, 0, 0, val_pad)) for d in data])
    # Rows are the first axis of y_val, (n,) or (n, L); pad pairs run from the last axis.
    y_val = torch.stack([nn.functional.pad(d.y_val, (0, 0) * (d.y_val.dim() - 1) + (0, val_pad)) for d in data])
    val_weights = _mask(len(members), n_val, val_pad, device)

    # The stack's rows: members grouped by loss configuration, so a group's rows are one slice of the logits and
    # its loss is one call. A member's numbers do not depend on its row.
    active = [m for positions, _ in group_losses([member.loss_fn for member in members]) for m in positions]
    streams = [Streams.from_seed(member.seed) for member in members]
    order_gen = {m: torch.Generator(device=device).manual_seed(streams[m].order) for m in active}
    dropout_gen = [torch.Generator(device=device).manual_seed(streams[m].dropout) for m in active]
    stack = StackedMLP([members[m].model for m in active], dropout_gen).to(device)
    step_stack = torch.compile(stack) if cfg.compile and device.type == "cuda" else stack
    taped = _taped(device)
    optimizer = StackedAdam(list(stack.parameters()), lr=cfg.lr, weight_decay=cfg.weight_decay)

    outcomes: list[TrainResult | TrainingError] = [TrainResult() for _ in members]
    best_val = [math.inf] * len(members)
    since_best = [0] * len(members)
    best_state = {m: stack.member_state(row) for row, m in enumerate(active)}

    def finish(m: int) -> None:
        members[m].model.load_state_dict(best_state[m])
        if isinstance(outcomes[m], TrainResult):
            outcomes[m].seconds = time.perf_counter() - start

    for epoch in range(1, cfg.epochs + 1):
        groups = group_losses([members[m].loss_fn for m in active])
        sizes = [len(positions) for positions, _ in groups]
        loss_fns = [loss_fn for _, loss_fn in groups]
        data_of = [members[m].data for m in active]
        which = torch.as_tensor(data_of, device=device)[:, None]
        # Each member draws its epoch's order from its own generator; together an (M, n) index matrix into the
        # stacked training rows (member m's row i is row data[m] * n + i), so a batch of every member is one gather.
        order = torch.stack([torch.randperm(n, generator=order_gen[m], device=device) for m in active])
        order += which * n
        total = torch.zeros(len(active), device=device)

        stack.train()
        for begin in range(0, n, cfg.batch_size):
            index = order[:, begin : begin + cfg.batch_size]
            rows, pad = index.shape[1], -index.shape[1] % ROW_BLOCK
            weights = _mask(len(active), rows, pad, device)
            if pad:
                index = torch.cat((index, (which * n).expand(-1, pad)), 1)  # the member's row 0 again, weighted 0
            rows_at = index.reshape(-1)
            x_batch = x_train.index_select(0, rows_at).view(*index.shape, n_features)
            y_batch = y_train.index_select(0, rows_at).view(*index.shape, *y_train.shape[1:])  # labels: (M, B, L)
            if taped:
                # No autograd graph: the losses' closed-form gradient at the logits, then the step plan's backward
                # (hfa.cpu_step), written into the optimiser's gradient buffer.
                logits, tape = stack.forward_tape(x_batch)
                losses, grad_logits = _losses_and_grads(_groups(loss_fns, sizes, logits, y_batch, weights))
                stack.backward_tape(tape, grad_logits, optimizer.grads)
                optimizer.step(optimizer.grad)
            else:
                optimizer.zero_grad()
                with _autocast(device, cfg.amp):
                    logits = step_stack(x_batch).float()
                    losses = _losses(_groups(loss_fns, sizes, logits, y_batch, weights))
                # The members' parameters are disjoint, so the gradient of the sum is each member's own gradient.
                losses.sum().backward()
                optimizer.step()
            total += losses.detach() * rows

        # Validation: the whole split at once, a few members at a time so activations stay bounded (the step's
        # buffers go first, so the two never hold memory together).
        stack.release_step_buffers()
        stack.eval()
        with torch.no_grad(), _autocast(device, cfg.amp):
            step = max(1, _VALIDATION_ELEMENTS // max(1, x_val.shape[1] * stack.widest()))
            chunks = [slice(i, i + step) for i in range(0, len(active), step)]
            # Each member's validation split (no copy where member m holds data set m, as a single run does).
            as_is = data_of == list(range(len(data)))
            x_of, val_targets = (x_val, y_val) if as_is else (x_val[which[:, 0]], y_val[which[:, 0]])
            if taped and len(chunks) == 1:  # buffers kept from epoch to epoch (a plan's): no fresh activations
                val_logits = stack.forward_planned(x_of)
            else:
                val_logits = _cat([step_stack(x_of[rows], rows).float() for rows in chunks])
            weights = None if val_weights is None else val_weights[: len(active)]
            val_losses = _losses(_groups(loss_fns, sizes, val_logits, val_targets, weights))
            # One host sync per quantity per epoch for the whole stack.
            train_values, val_values = (total / n).tolist(), val_losses.tolist()
            f1_values = hard_f1(val_logits[:, :n_val], val_targets[:, :n_val]).tolist()

        # Early stopping, member by member; stopped and failed members leave the stack.
        keep: list[int] = []
        for row, m in enumerate(active):
            result = outcomes[m]
            assert isinstance(result, TrainResult)
            train_loss, val_loss = train_values[row], val_values[row]
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                outcomes[m] = _diverged(epoch, train_loss, val_loss, cfg)
                finish(m)
                continue
            improved = val_loss < best_val[m]
            if improved:
                best_val[m], best_state[m], since_best[m] = val_loss, stack.member_state(row), 0
                result.best_epoch = epoch
            else:
                since_best[m] += 1
            log = EpochLog(epoch, train_loss, val_loss, f1_values[row], improved)
            result.history.append(log)
            result.epochs_run = epoch
            if on_epoch is not None:
                on_epoch(m, log)
            if cfg.patience and since_best[m] >= cfg.patience:
                result.stopped = "early_stopping"
                finish(m)
            else:
                keep.append(row)
        if len(keep) < len(active):
            if keep:
                index = torch.as_tensor(keep, dtype=torch.long, device=device)
                stack.keep(keep)
                optimizer.keep(list(stack.parameters()), index)
            active = [active[row] for row in keep]
        if not active:
            break

    for m in active:
        finish(m)
    return outcomes


def fit(
    model: MLP,
    loss_fn: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    cfg: TrainConfig,
    seed: int,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> TrainResult:
    """Train one model in place on tensors on its device: :func:`train` with a stack of one.

    Raises ``TrainingError`` where the loss became NaN or infinite.
    """
    report = None if on_epoch is None else (lambda _, log: on_epoch(log))
    (result,) = train([Member(model, loss_fn, 0, seed)], [MemberData(x_train, y_train, x_val, y_val)], cfg, report)
    if isinstance(result, TrainingError):
        raise result
    return result


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 262_144) -> np.ndarray:
    """Probabilities of the positive class, in large chunks so a big split does not hold every activation.

    ``logistic``, not ``torch.sigmoid``: sigmoid finishes the last ``N mod`` (vector width) elements with scalar
    code that rounds differently, so a CPU with AVX-512 and one with AVX2 would score those rows differently.
    """
    model.eval()
    chunks = [logistic(model(x[i : i + batch_size]).float()) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(chunks).cpu().numpy() if chunks else np.empty(0, dtype=np.float32)
