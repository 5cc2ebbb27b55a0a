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
from typing import NamedTuple

import torch
from torch import nn

from hfa.config import ModelConfig

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
    return _member_linear(h, weight.unbind(0), bias.unbind(0), weight.shape[2])


def _member_linear(
    h: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor], width: int
) -> torch.Tensor:
    """:func:`member_linear` from the members' weights and biases, already apart (a stack keeps them so)."""
    out = h.new_empty(h.shape[0], h.shape[1], width)
    # unbind: one call for all members' views, where indexing costs a Python call per member.
    for row in zip(biases, h.unbind(0), weights, out.unbind(0), strict=True):
        torch.addmm(*row[:3], out=row[3])
    return out


def member_linear_backward(
    h: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor, need_h: bool, need_w: bool = True, need_b: bool = True
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The gradients of :func:`member_linear` for the input, weight and bias: per member ``sum`` and ``mm``."""
    grad_w = torch.empty_like(weight) if need_w else None
    grad_b = grad.new_empty(grad.shape[0], 1, grad.shape[2]) if need_b else None
    grad_h = _member_linear_backward(
        h,
        weight.transpose(1, 2).unbind(0),
        grad,
        need_h,
        None if grad_w is None else grad_w.unbind(0),
        None if grad_b is None else grad_b.unbind(0),
    )
    return grad_h, grad_w, grad_b


def _member_linear_backward(
    h: torch.Tensor,
    weights_t: Sequence[torch.Tensor],
    grad: torch.Tensor,
    need_h: bool,
    grad_w: Sequence[torch.Tensor] | None,
    grad_b: Sequence[torch.Tensor] | None,
) -> torch.Tensor | None:
    """:func:`member_linear_backward` from the members' transposed weights, writing each member's weight and bias
    gradient into the given views (``None``: not wanted); returns the input's gradient (or ``None``)."""
    grad = grad.contiguous()
    grads = grad.unbind(0)
    if grad_b is not None:
        for g, out in zip(grads, grad_b, strict=True):
            torch.sum(g, 0, keepdim=True, out=out)
    grad_h = None
    if need_h:
        grad_h = torch.empty_like(h)
        for g, w, out in zip(grads, weights_t, grad_h.unbind(0), strict=True):
            torch.mm(g, w, out=out)
    if grad_w is not None:
        for x, g, out in zip(h.transpose(1, 2).unbind(0), grads, grad_w, strict=True):
            torch.mm(x, g, out=out)
    return grad_h


class _Block(NamedTuple):
    """A stacked ``(M, B, H)`` tensor with each member's ``(B, H)`` rows and their transposes."""

    block: torch.Tensor
    rows: tuple[torch.Tensor, ...]
    rows_t: tuple[torch.Tensor, ...]

    @classmethod
    def of(cls, block: torch.Tensor) -> _Block:
        return cls(block, block.unbind(0), block.transpose(1, 2).unbind(0))


class _Workspace:
    """The buffers of a stack's training step, sized for its largest batch, with each member's views made once.

    :meth:`StackedMLP.forward_tape` writes every activation here and :meth:`StackedMLP.backward_tape` every
    gradient, so a step allocates little and splits no tensor into members (at small batches those calls, not
    the arithmetic, were much of a step). A smaller batch (an epoch's last) uses the first rows of each member's
    block, whose views are contiguous per member as a block of its own would be. A tape is therefore valid until
    the next ``forward_tape``.
    """

    def __init__(self, widths: Sequence[int], members: int, rows: int, dropout: bool, like: torch.Tensor):
        def new(width: int, dtype: torch.dtype = like.dtype) -> torch.Tensor:
            return torch.empty(members, rows, width, dtype=dtype, device=like.device)

        hidden, masked = widths[1:-1], widths[1:-1] if dropout else []
        self.rows, self.dtype = rows, like.dtype
        # Per hidden layer: pre-activation, activation, after dropout (draws, kept, mask), the gradients at the
        # activation and the pre-activation; then the logits.
        self.buffers = {
            "z": [new(w) for w in hidden],
            "a": [new(w) for w in hidden],
            "h": [new(w) for w in masked],
            "draw": [new(w) for w in masked],
            "kept": [new(w, torch.bool) for w in masked],
            "mask": [new(w) for w in masked],
            "grad_a": [new(w) for w in hidden],
            "grad_z": [new(w) for w in hidden],
            "out": [new(widths[-1])],
        }
        self._views: dict[int, dict[str, list[_Block]]] = {}

    def at(self, rows: int) -> dict[str, list[_Block]]:
        """Every buffer's first ``rows`` rows of each member, as :class:`_Block` views (made once per ``rows``)."""
        if rows not in self._views:
            self._views[rows] = {
                name: [_Block.of(buffer[:, :rows]) for buffer in buffers] for name, buffers in self.buffers.items()
            }
        return self._views[rows]


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
        self._views_of: tuple[int, ...] = ()
        self._grad_views: tuple[object, list] = (None, [])
        self._workspace: _Workspace | None = None

    def _step_buffers(self, x: torch.Tensor) -> dict[str, list[_Block]]:
        """The workspace's views for a batch ``x`` of ``(M, B, F)`` (a larger batch makes a new workspace)."""
        ws = self._workspace
        if ws is None or ws.rows < x.shape[1] or ws.dtype != x.dtype:
            widths = [self._layers[0][0].shape[1], *(weight.shape[2] for weight, _ in self._layers)]
            ws = self._workspace = _Workspace(widths, self.size, x.shape[1], self.dropout > 0, x)
        return ws.at(x.shape[1])

    def _member_views(self) -> list[tuple[tuple[torch.Tensor, ...], ...]]:
        """Per layer, each member's ``(weight, bias, weight.T)`` views, made once while the storage stays.

        An optimiser may move the parameters into a buffer of its own (``p.data = ...``), so the views are
        remade whenever a parameter's storage moved; otherwise they are the previous step's.
        """
        where = tuple(p.data_ptr() for layer in self._layers for p in layer)
        if where != self._views_of:
            self._views = [
                (weight.unbind(0), bias.unbind(0), weight.transpose(1, 2).unbind(0)) for weight, bias in self._layers
            ]
            self._views_of = where
        return self._views

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

    @torch.no_grad()
    def forward_tape(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        """A training forward on CPU without autograd: logits and what :meth:`backward_tape` needs.

        The same operations as :meth:`forward` in training mode, so the same bits; the backward is then the few
        per-member products it is, with no autograd graph to build and walk at every step (on small batches
        the graph, not the arithmetic, was most of a step's time). Activations live in the stack's workspace:
        the logits and the tape hold until the next call.
        """
        views, ws = self._member_views(), self._step_buffers(x)
        relu = isinstance(self.activation, nn.ReLU)
        inputs = _Block.of(x.contiguous())
        tape: list = [inputs]
        for depth, (weights, biases, _) in enumerate(views):
            z = ws["z"][depth] if depth < len(views) - 1 else ws["out"][0]
            for row in zip(biases, inputs.rows, weights, z.rows, strict=True):
                torch.addmm(*row[:3], out=row[3])
            if depth == len(views) - 1:
                return z.block.squeeze(-1), tape
            if relu:
                a = ws["a"][depth]
                torch.clamp_min(z.block, 0, out=a.block)  # what relu computes, into the buffer
            else:
                a = _Block.of(self.activation(z.block))
            mask = None
            if self.dropout > 0:
                mask = self._mask(ws, depth)
                inputs = ws["h"][depth]
                torch.mul(a.block, mask, out=inputs.block)
            else:
                inputs = a
            tape.append((z, a, inputs, mask))
        raise AssertionError("a stack has an output layer")

    @torch.no_grad()
    def backward_tape(self, tape: list, grad_logits: torch.Tensor, out: Sequence[torch.Tensor] | None = None) -> None:
        """The gradient of the loss at the logits of :meth:`forward_tape`, taken back to every parameter.

        ``out``: tensors shaped like :meth:`parameters` (in that order), e.g. an optimiser's gradient buffers, to
        write the gradients into; without it each parameter's ``.grad`` is set. Layer by layer the very
        operations autograd runs for :meth:`forward` (``_MemberLinear``'s backward, the mask product,
        ``threshold_backward`` for ReLU), so the gradients are bit for bit autograd's; other activations take
        their backward from autograd, one small graph per layer.
        """
        if out is None:
            out = [torch.empty_like(p) for p in self.parameters()]
            for p, grad in zip(self.parameters(), out, strict=True):
                p.grad = grad
        views, ws = self._member_views(), self._step_buffers(tape[0].block)
        relu = isinstance(self.activation, nn.ReLU)
        grad = grad_logits.reshape(*grad_logits.shape[:2], self._layers[-1][0].shape[2]).contiguous().unbind(0)
        for depth in range(len(self._layers) - 1, -1, -1):
            inputs = tape[0] if depth == 0 else tape[depth][2]
            grad_w, grad_b = self._unbound_grads(out, depth)
            for g, o in zip(grad, grad_b, strict=True):
                torch.sum(g, 0, keepdim=True, out=o)
            for x_t, g, o in zip(inputs.rows_t, grad, grad_w, strict=True):
                torch.mm(x_t, g, out=o)
            if depth == 0:
                return
            grad_a = ws["grad_a"][depth - 1]
            for g, w_t, o in zip(grad, views[depth][2], grad_a.rows, strict=True):
                torch.mm(g, w_t, out=o)
            z, a, _, mask = tape[depth]
            if mask is not None:
                grad_a.block.mul_(mask)
            if relu:
                grad_z = ws["grad_z"][depth - 1]
                torch.ops.aten.threshold_backward.grad_input(grad_a.block, a.block, 0, grad_input=grad_z.block)
                grad = grad_z.rows
            else:
                with torch.enable_grad():
                    leaf = z.block.detach().requires_grad_()
                    (grad_z,) = torch.autograd.grad(self.activation(leaf), leaf, grad_a.block)
                grad = grad_z.unbind(0)

    def _unbound_grads(self, out: Sequence[torch.Tensor], depth: int) -> tuple[tuple[torch.Tensor, ...], ...]:
        """Layer ``depth``'s weight and bias gradients in ``out``, member by member (kept while ``out`` is)."""
        known, views = self._grad_views
        if known is not out:
            depth_of = len(self._layers)  # parameters() gives the weights, then the biases
            views = [(w.unbind(0), b.unbind(0)) for w, b in zip(out[:depth_of], out[depth_of:], strict=True)]
            # Holding ``out`` keeps its identity from being reused by another sequence.
            self._grad_views = (out, views)
        return views[depth]

    def _mask(self, ws: dict[str, list[_Block]], depth: int) -> torch.Tensor:
        """Layer ``depth``'s inverted-dropout mask in the workspace, member ``m``'s drawn from its own generator:
        the values :meth:`_masks` gives."""
        draw, kept, mask = ws["draw"][depth], ws["kept"][depth], ws["mask"][depth]
        for rows, generator in zip(draw.rows, self.generators, strict=True):
            rows.uniform_(0, 1, generator=generator)  # what torch.rand draws
        keep = 1.0 - self.dropout
        torch.lt(draw.block, keep, out=kept.block)
        return torch.div(kept.block, keep, out=mask.block)

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
        self._workspace = None
