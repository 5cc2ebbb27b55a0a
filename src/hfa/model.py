"""The classifier, an MLP, and the stack of MLPs the trainer steps together (one run is a stack of one).

``MLP`` is what a finished run is: what its folder's ``model.pt`` holds and what predictions use. ``StackedMLP``
holds the parameters of ``M`` MLPs of one shape along a leading member axis, so one batched forward, backward
and optimiser step serve every member. A member's numbers never depend on which members share its stack: every
operation is either elementwise or a per-member product whose kernel gives each member the same bits whatever
``M`` is (on CPU, one product per member: :class:`_MemberLinear`; on a GPU the batched product, where bit-identity
is not promised). Dropout masks come from each member's own generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hfa.config import ModelConfig, check_weights
from hfa.cpu_step import Buffers, StepPlan
from hfa.errors import HfaError

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MLP(nn.Module):
    """``in_features -> hidden[0] -> ... -> hidden[-1] -> out_features``; with ``hidden=[]`` it is logistic regression.

    One output gives logits ``(N,)``; ``out_features = L`` (a multi-label run, one output per label) gives ``(N, L)``.
    """

    def __init__(
        self,
        in_features: int,
        hidden: list[int],
        dropout: float = 0.0,
        activation: str = "relu",
        out_features: int = 1,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for out in hidden:
            layers += [nn.Linear(width, out), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = out
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)
        self.dropout = dropout
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        return logits.squeeze(-1) if logits.shape[-1] == 1 else logits

    def linears(self) -> list[nn.Linear]:
        return [module for module in self.net if isinstance(module, nn.Linear)]


def build_model(in_features: int, cfg: ModelConfig, seed: int | None = None, out_features: int = 1) -> MLP:
    """A freshly initialised MLP; with ``seed``, its weights depend on that seed alone (the global RNG is left as
    it was). ``out_features``: the number of labels."""
    try:
        check_weights(in_features, cfg.hidden)
    except ValueError as error:  # a table wider than the config could know
        raise HfaError(str(error)) from None
    if seed is None:
        return MLP(in_features, list(cfg.hidden), cfg.dropout, cfg.activation, out_features)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(in_features, list(cfg.hidden), cfg.dropout, cfg.activation, out_features)


def _batched_linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.baddbmm(bias, h, weight)


class _MemberLinear(torch.autograd.Function):
    """``h[m] @ weight[m] + bias[m]`` for every member ``m``, forward and backward, one matrix product per member.

    Each member's products are the very calls (shapes, layouts) a stack of one makes, so a member's bits do not
    depend on the stack's size. A batched product (``bmm``) does not promise that: on CPU its rounding for one
    member changed with the number of members at some batch sizes (measured: the weight gradient at batch 28 and
    180, not at 64). One autograd node per layer for the whole stack.
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        h = h.contiguous()
        ctx.save_for_backward(h, weight)
        return member_linear(h, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        h, weight = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad
        return member_linear_backward(h, weight, grad, need_h, need_w, need_b)


def member_linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``h[m] @ weight[m] + bias[m]`` for every member, one ``addmm`` per member (``h`` contiguous)."""
    out = h.new_empty(h.shape[0], h.shape[1], weight.shape[2])
    # unbind: one call for all members' views, where indexing costs a Python call per member.
    for row in zip(bias.unbind(0), h.unbind(0), weight.unbind(0), out.unbind(0), strict=True):
        torch.addmm(*row[:3], out=row[3])
    return out


def member_linear_backward(
    h: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor, need_h: bool, need_w: bool = True, need_b: bool = True
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The gradients of :func:`member_linear` for the input, weight and bias: per member ``sum`` and ``mm``."""
    grad = grad.contiguous()
    grad_h = torch.empty_like(h) if need_h else None
    grad_w = torch.empty_like(weight) if need_w else None
    grad_b = grad.new_empty(grad.shape[0], 1, grad.shape[2]) if need_b else None
    grads = grad.unbind(0)
    if grad_b is not None:
        for g, out in zip(grads, grad_b.unbind(0), strict=True):
            torch.sum(g, 0, keepdim=True, out=out)
    if grad_h is not None:
        for g, w, out in zip(grads, weight.transpose(1, 2).unbind(0), grad_h.unbind(0), strict=True):
            torch.mm(g, w, out=out)
    if grad_w is not None:
        for x, g, out in zip(h.transpose(1, 2).unbind(0), grads, grad_w.unbind(0), strict=True):
            torch.mm(x, g, out=out)
    return grad_h, grad_w, grad_b


class StackedMLP(nn.Module):
    """``M`` MLPs of one shape as one module: weights ``(M, in, out)``, biases ``(M, 1, out)``, logits ``(M, B)``
    (``(M, B, L)`` for members with ``L > 1`` outputs, one per label).

    Built from :class:`MLP` instances, whose parameters it copies; :meth:`member_state` gives a member back as an
    ``MLP`` state dict. ``generators`` (one per member) draw the dropout masks while training.
    """

    def __init__(self, members: Sequence[MLP], generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        if not members:
            raise ValueError("a stack needs at least one member")
        first = members[0]
        shapes = [[tuple(layer.weight.shape) for layer in member.linears()] for member in members]
        if any(shape != shapes[0] for shape in shapes) or any(
            (m.dropout, m.activation) != (first.dropout, first.activation) for m in members
        ):
            raise ValueError("every member of a stack must have the same layers, widths, activation and dropout")
        self.activation = ACTIVATIONS[first.activation]()
        self.dropout = first.dropout
        self.generators = list(generators) if generators is not None else []
        if self.dropout > 0 and len(self.generators) != len(members):
            raise ValueError("a stack with dropout needs one generator per member")
        layers = [member.linears() for member in members]
        depth = len(shapes[0])
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([m[i].weight.detach().T for m in layers]).contiguous()) for i in range(depth)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m[i].bias.detach() for m in layers]).unsqueeze(1).contiguous())
            for i in range(depth)
        )
        self._names = [name for name, module in first.net.named_children() if isinstance(module, nn.Linear)]
        self._refresh()

    def _refresh(self) -> None:
        # Indexing a ParameterList costs microseconds per access, which adds up over thousands of batches.
        self._layers = list(zip(self.weights, self.biases, strict=True))
        self._plans: dict[tuple[int, torch.dtype], StepPlan] = {}
        self._plans_of: tuple[int, ...] = ()
        self._step_buffers: Buffers | None = None
        self._eval_plan: tuple[tuple, StepPlan] | None = None

    def _plan(self, x: torch.Tensor) -> StepPlan:
        """The CPU step plan for batches shaped like ``x`` (``(M, B, F)``), made once per batch size and dtype.

        A plan is bound to the parameters' storage; an optimiser may move the parameters into a buffer of its own
        (``p.data = ...``), so the plans are remade whenever a parameter's storage moved.
        """
        where = tuple(p.data_ptr() for layer in self._layers for p in layer)
        if where != self._plans_of:
            self._plans, self._plans_of = {}, where
        rows = x.shape[1]
        plan = self._plans.get((rows, x.dtype))
        if plan is None:
            # Normal tensors even under torch.inference_mode, so the plan still serves outside it.
            with torch.inference_mode(False):
                plan = self._new_plan(rows, x)
        return plan

    def release_step_buffers(self) -> None:
        """Let go of the training step's buffers and plans (made again at the next :meth:`forward_tape`)."""
        self._plans, self._step_buffers = {}, None

    def _new_plan(self, rows: int, x: torch.Tensor) -> StepPlan:
        buffers = self._step_buffers
        if buffers is None or buffers.rows < rows or buffers.dtype != x.dtype:
            widths = [self._layers[0][0].shape[1], *(weight.shape[2] for weight, _ in self._layers)]
            buffers = self._step_buffers = Buffers(widths, self.size, rows, self.dropout > 0, self.activation, x)
            self._plans = {}
        plan = self._plans[rows, x.dtype] = StepPlan(
            self._layers, self.activation, self.dropout, self.generators, buffers, rows
        )
        return plan

    def _apply(self, fn, recurse: bool = True):
        applied = super()._apply(fn, recurse)
        self._refresh()  # a conversion may replace the parameter objects
        return applied

    @property
    def size(self) -> int:
        return self._layers[0][0].shape[0]

    def widest(self) -> int:
        """The largest layer width (input included): what one row of one member holds at most in a forward."""
        return max(max(weight.shape[1], weight.shape[2]) for weight, _ in self._layers)

    def forward(self, x: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """Logits ``(M, B)`` (or ``(M, B, L)``) for member inputs ``(M, B, F)``; ``rows`` runs part of the stack."""
        layers = self._layers if rows == slice(None) else [(w[rows], b[rows]) for w, b in self._layers]
        generators = self.generators[rows]
        *hidden, (weight, bias) = layers
        linear = _MemberLinear.apply if x.device.type == "cpu" else _batched_linear
        h = x
        for hidden_weight, hidden_bias in hidden:
            h = self.activation(linear(h, hidden_weight, hidden_bias))
            if self.training and self.dropout > 0:
                h = h * self._masks(h, generators)
        return linear(h, weight, bias).squeeze(-1)

    def forward_planned(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` of the whole stack in eval mode on CPU, as a plan whose buffers stay between calls.

        Validating a large split every epoch then allocates nothing (fresh activations of hundreds of MB each epoch
        cost more in page faults than in arithmetic). The same operations as :meth:`forward`, so the same bits;
        the logits are the plan's buffer, valid until the next call.
        """
        key = (x.shape[1], x.dtype, tuple(p.data_ptr() for layer in self._layers for p in layer))
        if self._eval_plan is None or self._eval_plan[0] != key:
            self._eval_plan = None  # the old buffers go before the new ones are made
            widths = [self._layers[0][0].shape[1], *(weight.shape[2] for weight, _ in self._layers)]
            with torch.inference_mode(False):
                buffers = Buffers(widths, self.size, x.shape[1], False, self.activation, x)
                self._eval_plan = (key, StepPlan(self._layers, self.activation, 0.0, [], buffers, x.shape[1]))
        return self._eval_plan[1].forward(x)

    def forward_tape(self, x: torch.Tensor) -> tuple[torch.Tensor, StepPlan]:
        """A training forward on CPU without autograd: the logits and the tape :meth:`backward_tape` takes.

        The same operations as :meth:`forward` in training mode, so the same bits, run as a plan of bound calls
        on buffers made once (:mod:`hfa.cpu_step`): the logits (a fresh alias of the plan's buffer, so marking it
        ``requires_grad`` leaves the buffer alone) and the tape hold until the next call.
        """
        plan = self._plan(x)
        return plan.forward(x).detach(), plan

    def backward_tape(
        self, tape: StepPlan, grad_logits: torch.Tensor, out: Sequence[torch.Tensor] | None = None
    ) -> None:
        """The gradient of the loss at the logits of :meth:`forward_tape`, taken back to every parameter.

        ``out``: tensors shaped like :meth:`parameters` (in that order), e.g. an optimiser's gradient buffers, to
        write the gradients into; without it each parameter's ``.grad`` is set. The operations are those autograd
        runs for :meth:`forward`, so the gradients are autograd's bit for bit.
        """
        if out is None:
            out = [torch.empty_like(p) for p in self.parameters()]
            for p, grad in zip(self.parameters(), out, strict=True):
                p.grad = grad
        tape.backward(grad_logits, out)

    def _masks(self, h: torch.Tensor, generators: Sequence[torch.Generator]) -> torch.Tensor:
        """Inverted-dropout masks ``(M, B, H)``, member ``m``'s drawn from its own generator alone."""
        shape = h.shape[1:]
        keep = 1.0 - self.dropout
        draws = [torch.rand(shape, generator=g, device=h.device, dtype=h.dtype) for g in generators]
        return (torch.stack(draws) < keep).to(h.dtype) / keep

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Member ``m``'s parameters as an ``MLP`` state dict (copies, so later steps do not change them)."""
        state: dict[str, torch.Tensor] = {}
        for name, (weight, bias) in zip(self._names, self._layers, strict=True):
            state[f"net.{name}.weight"] = weight[m].detach().T.clone()
            state[f"net.{name}.bias"] = bias[m, 0].detach().clone()
        return state

    def keep(self, rows: Sequence[int]) -> None:
        """Drop every member not at a position in ``rows`` (new parameter objects: rebuild the optimiser state)."""
        index = torch.as_tensor(list(rows), dtype=torch.long, device=self._layers[0][0].device)
        for params in (self.weights, self.biases):
            for i, param in enumerate(params):
                params[i] = nn.Parameter(param.detach().index_select(0, index))
        if self.generators:
            self.generators = [self.generators[row] for row in rows]
        self._refresh()
