"""Many small runs trained as one: the MLPs of a sweep's runs stacked along a leading member axis.

Runs that share a data set, a model shape and their training settings (they differ in seed and loss) step
together: one batched forward (``baddbmm``), one backward and one Adam step over stacked parameters, instead of
one Python-dispatched forward/backward/step per run. Each member keeps what makes it its own run: its initial
weights (built exactly as a single run builds them), its batch order (its own generator, drawn as ``fit`` draws
it), its loss, its early stopping and its best weights. Adam is elementwise and the members' gradients do not
mix (each member's loss depends only on its own slice), so a member trains as it would alone: up to the rounding
of batched instead of plain matmuls in general, and bit for bit where the two use the same kernels (they did on
the CPU builds this was tested on). A member's numbers never depend on which other runs share its stack.
Members whose losses share a configuration (``hfa.losses.group_losses``) sit next to each other in the stack and
their losses are one call on their rows, instead of one call per member.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hfa.config import Config, TrainConfig
from hfa.losses import group_losses
from hfa.model import MLP
from hfa.training import EpochLog, TrainingError, TrainResult, hard_f1

__all__ = ["STACK_LIMIT", "StackedMLP", "fit_stacked", "keep_members", "stack_groups", "stack_key"]

STACK_LIMIT = 64
"""Most members in one stack: bounds the memory of a stack's parameters, optimiser state and activations."""

_VALIDATION_ELEMENTS = 1 << 24  # floats per activation tensor while validating (64 MiB in float32)


def stack_key(cfg: Config) -> str | None:
    """Runs with equal keys can train as one stack; ``None``: this run trains alone.

    Stacking must give what the run gives alone, so it is refused where a stack cannot replay a single run:
    dropout (its masks come from the global RNG, which members cannot each own), bf16 autocast and
    ``torch.compile`` (other kernels than the single run's), and ``train.stack=false``.
    """
    if not cfg.train.stack or cfg.model.dropout > 0 or cfg.train.amp or cfg.train.compile:
        return None
    shared = {
        "data": cfg.data.model_dump(mode="json"),
        "model": cfg.model.model_dump(mode="json"),
        "train": cfg.train.model_dump(mode="json", exclude={"stack"}),
    }
    return json.dumps(shared, sort_keys=True)


def stack_groups(configs: Sequence[Config], limit: int = STACK_LIMIT) -> list[list[Config]]:
    """``configs`` cut into stacks of at most ``limit`` runs; a run that cannot stack is a group of its own."""
    keyed: dict[str, list[Config]] = {}
    groups: list[list[Config]] = []
    for cfg in configs:
        key = stack_key(cfg)
        if key is None:
            groups.append([cfg])
        else:
            keyed.setdefault(key, []).append(cfg)
    for members in keyed.values():
        groups.extend(members[i : i + limit] for i in range(0, len(members), limit))
    return groups


class _OutputLayer(torch.autograd.Function):
    """The width-1 output layer of every member: ``(M, B, K)`` activations -> ``(M, B)`` logits.

    Forward runs each member's own ``F.linear``, the very kernel its single run uses (a matrix-vector product):
    a batched product sums in another order, and such last-bit differences grow over training with losses that
    are not smooth (AUROC's sort). Backward is batched in the forms autograd gives a single run's ``nn.Linear``
    (an outer product, ``h^T g`` and a sum over the batch), which matched it bit for bit on CPU, as the batched
    hidden layers do. One autograd node for the stack, where a per-member ``F.linear`` would add several each.
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(h, weight)
        rows = zip(h, weight.transpose(1, 2), bias.squeeze(1), strict=True)
        return torch.stack([F.linear(*row) for row in rows]).squeeze(-1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        h, weight = ctx.saved_tensors
        grad_h = grad.unsqueeze(-1) * weight.transpose(1, 2) if ctx.needs_input_grad[0] else None
        grad_weight = torch.bmm(h.transpose(1, 2), grad.unsqueeze(-1)) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(1).reshape(-1, 1, 1) if ctx.needs_input_grad[2] else None
        return grad_h, grad_weight, grad_bias


def _architecture(model: MLP) -> list:
    return [(type(module), [tuple(p.shape) for p in module.parameters()]) for module in model.net.children()]


class StackedMLP(nn.Module):
    """``M`` MLPs of one shape as one module: weights ``(M, in, out)``, biases ``(M, 1, out)``, logits ``(M, B)``.

    Built from ordinary :class:`~hfa.model.MLP` instances, whose parameters it copies, so every member starts
    from exactly the weights its single run would; :meth:`load_member` writes a member back into an ``MLP``.
    """

    def __init__(self, members: Sequence[MLP]):
        super().__init__()
        if not members:
            raise ValueError("a stack needs at least one member")
        first = members[0]
        layers = [(name, module) for name, module in first.net.named_children() if isinstance(module, nn.Linear)]
        others = [module for module in first.net.children() if not isinstance(module, nn.Linear)]
        if any(isinstance(module, nn.Dropout) for module in others):
            raise ValueError("members with dropout cannot be stacked: their masks come from the global RNG")
        if any(_architecture(member) != _architecture(first) for member in members[1:]):
            raise ValueError("every member of a stack must have the same layers, widths and activation")
        self.names = [name for name, _ in layers]
        self.activation = copy.deepcopy(others[0]) if others else nn.Identity()
        nets = [dict(member.net.named_children()) for member in members]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([net[name].weight.detach().T for net in nets]).contiguous()) for name in self.names
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([net[name].bias.detach() for net in nets]).unsqueeze(1).contiguous())
            for name in self.names
        )
        self._refresh()

    def _refresh(self) -> None:
        # Indexing a ParameterList costs microseconds per access, which adds up over thousands of batches.
        self._layers = list(zip(self.weights, self.biases, strict=True))

    def _apply(self, fn, recurse: bool = True):
        applied = super()._apply(fn, recurse)
        self._refresh()  # a conversion may replace the parameter objects
        return applied

    @property
    def size(self) -> int:
        return self._layers[0][0].shape[0]

    def forward(self, x: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """Logits ``(M, B)`` for member inputs ``(M, B, F)``, or for one input ``(B, F)`` shared by all members.

        ``rows`` picks a contiguous part of the stack (for a shared input), so a large input can be run a few
        members at a time; each member's numbers do not depend on which others run with it.
        """
        layers = [(weight[rows], bias[rows]) for weight, bias in self._layers] if rows != slice(None) else self._layers
        *hidden, (weight, bias) = layers
        h = x.expand(weight.shape[0], *x.shape) if x.dim() == 2 else x
        for hidden_weight, hidden_bias in hidden:
            h = self.activation(torch.baddbmm(hidden_bias, h, hidden_weight))
        return _OutputLayer.apply(h, weight, bias)

    def widest(self) -> int:
        """The largest layer width (input included): what one row of one member holds at most in a forward."""
        return max(max(weight.shape[1], weight.shape[2]) for weight, _ in self._layers)

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Member ``m``'s parameters as an ``MLP`` state dict (copies, so later steps do not change them)."""
        state: dict[str, torch.Tensor] = {}
        for name, (weight, bias) in zip(self.names, self._layers, strict=True):
            state[f"net.{name}.weight"] = weight[m].detach().T.clone()
            state[f"net.{name}.bias"] = bias[m, 0].detach().clone()
        return state

    def load_member(self, m: int, model: MLP) -> MLP:
        """Write member ``m`` into ``model`` (an ``MLP`` of the same shape); returns ``model``."""
        model.load_state_dict(self.member_state(m))
        return model

    def keep(self, rows: Sequence[int]) -> None:
        """Drop every member not at a position in ``rows``.

        The parameters are replaced by new ones (an optimiser must be rebuilt, see :func:`keep_members`):
        autograd caches a leaf's shape, so shrinking a parameter in place breaks the next backward.
        """
        index = torch.as_tensor(list(rows), dtype=torch.long, device=self._layers[0][0].device)
        for params in (self.weights, self.biases):
            for i, param in enumerate(params):
                params[i] = nn.Parameter(param.detach().index_select(0, index))
        self._refresh()


def keep_members(stack: StackedMLP, optimizer: torch.optim.Optimizer, rows: Sequence[int]) -> torch.optim.Optimizer:
    """Shrink ``stack`` to the members at ``rows``; returns an optimiser of the same kind holding their state."""
    state = optimizer.state_dict()
    size = stack.size
    index = torch.as_tensor(list(rows), dtype=torch.long)
    # state_dict() shares its per-parameter dicts with the optimiser; copy them rather than edit its state.
    state["state"] = {key: dict(value) for key, value in state["state"].items()}
    for param_state in state["state"].values():
        for key, value in param_state.items():
            # Per-element state (Adam's moments) has the member axis first; step counts are scalars.
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == size:
                param_state[key] = value.index_select(0, index.to(value.device))
    stack.keep(rows)
    rebuilt = type(optimizer)(stack.parameters(), **optimizer.defaults)
    rebuilt.load_state_dict(state)
    return rebuilt


def fit_stacked(
    members: Sequence[MLP],
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    cfg: TrainConfig,
    seeds: Sequence[int],
    loss_fns: Sequence[nn.Module],
    on_epoch: Callable[[int, EpochLog], None] | None = None,
) -> list[TrainResult | TrainingError]:
    """Train ``members`` together, each as ``hfa.training.fit`` would train it alone with its seed and loss.

    Every member ends holding its best epoch's weights, as ``fit`` leaves its model. The result for member ``m``
    is its ``TrainResult``, or the ``TrainingError`` its single run would raise (its loss became NaN or infinite);
    a failed member leaves the stack and the others go on. ``on_epoch(m, log)`` reports each member's epochs.
    ``seconds`` of a member is the stack's wall time until that member finished.
    """
    if not len(members) == len(seeds) == len(loss_fns):
        raise ValueError("fit_stacked needs one seed and one loss per member")
    if cfg.amp or cfg.compile:
        raise ValueError("stacked training runs without train.amp and train.compile; train such runs alone")
    device = x_train.device
    start = time.perf_counter()
    # Member ids in the order of the stack's rows: each loss group's members next to each other, so a group's rows
    # are one slice (a view) of the stacked logits. A member's numbers do not depend on its row.
    active = [m for positions, _ in group_losses(loss_fns) for m in positions]
    stack = StackedMLP([members[m] for m in active]).to(device)
    # Adam as the single run builds it (not the fused kernel, whose rounding depends on where a member sits in the
    # stacked tensors): elementwise, so each member's update is its own.
    optimizer = torch.optim.Adam(stack.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
    n = x_train.shape[0]
    outcomes: list[TrainResult | TrainingError] = [TrainResult() for _ in members]
    best_val = [math.inf] * len(members)
    since_best = [0] * len(members)
    best_state = [{} for _ in members]
    for row, m in enumerate(active):
        best_state[m] = stack.member_state(row)

    def finish(m: int) -> None:
        members[m].load_state_dict(best_state[m])
        result = outcomes[m]
        if isinstance(result, TrainResult):
            result.seconds = time.perf_counter() - start

    for epoch in range(1, cfg.epochs + 1):
        # Each member draws its epoch's permutation from its own generator, as its single run would; together
        # they form one (M, n) index matrix, so a batch of every member is one gather. (Gathering the whole epoch
        # at once would hold M copies of the training split.)
        order = torch.stack([torch.randperm(n, generator=generators[m], device=device) for m in active])
        groups = group_losses([loss_fns[m] for m in active])
        sizes = [len(positions) for positions, _ in groups]
        # Groups are contiguous because the rows were ordered by group and leaving members keep that order.
        assert [j for positions, _ in groups for j in positions] == list(range(len(active)))
        group_fns = [loss_fn for _, loss_fn in groups]
        total = torch.zeros(len(active), device=device)
        stack.train()
        for begin in range(0, n, cfg.batch_size):
            index = order[:, begin : begin + cfg.batch_size]
            x_batch, y_batch = x_train[index], y_train[index]
            logits = stack(x_batch)
            # split: one autograd node hands each group its rows; one loss call per group, not per member.
            pairs = zip(group_fns, logits.split(sizes), y_batch.split(sizes), strict=True)
            losses = torch.cat([loss_fn.per_row(z, y) for loss_fn, z, y in pairs])
            optimizer.zero_grad(set_to_none=True)
            # The members' parameters are disjoint, so the gradient of the sum is each member's own gradient.
            losses.sum().backward()
            optimizer.step()
            total += losses.detach() * x_batch.shape[1]

        stack.eval()
        with torch.no_grad():
            # The whole validation split at once, as a single run does, but a few members at a time, so the stack
            # holds no more activations than about _VALIDATION_ELEMENTS.
            step = max(1, _VALIDATION_ELEMENTS // max(1, x_val.shape[0] * stack.widest()))
            val_logits = torch.cat([stack(x_val, slice(i, i + step)).float() for i in range(0, len(active), step)])
            pairs = zip(group_fns, val_logits.split(sizes), sizes, strict=True)
            val_losses = torch.cat([loss_fn.per_row(z, y_val.expand(size, -1)) for loss_fn, z, size in pairs])
            # One host sync per quantity per epoch for the whole stack.
            train_values = (total / n).tolist()
            val_values = val_losses.tolist()
            f1_values = hard_f1(val_logits, y_val).tolist()

        keep: list[int] = []
        for row, m in enumerate(active):
            result = outcomes[m]
            assert isinstance(result, TrainResult)
            train_loss, val_loss, val_f1 = train_values[row], val_values[row], f1_values[row]
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                bad = train_loss if not math.isfinite(train_loss) else val_loss
                outcomes[m] = TrainingError(
                    f"the loss became {bad} at epoch {epoch}; lower train.lr (now {cfg.lr:g}) or check the data"
                )
                continue
            improved = val_loss < best_val[m]
            if improved:
                best_val[m], best_state[m], since_best[m] = val_loss, stack.member_state(row), 0
                result.best_epoch = epoch
            else:
                since_best[m] += 1
            log = EpochLog(epoch, train_loss, val_loss, val_f1, improved)
            result.history.append(log)
            result.epochs_run = epoch
            if on_epoch is not None:
                on_epoch(m, log)
            if cfg.patience and since_best[m] >= cfg.patience:
                result.stopped = "early_stopping"
                finish(m)
            else:
                keep.append(row)
        if not keep:
            active = []
            break
        if len(keep) < len(active):
            # Stopped and failed members leave the stack, so later epochs cost only what is still training.
            optimizer = keep_members(stack, optimizer, keep)
            active = [active[row] for row in keep]

    for m in active:
        finish(m)
    return outcomes
