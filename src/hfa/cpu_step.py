"""The CPU training step of a stack of MLPs as a fixed plan: buffers made once, and the bound operations that fill
them, run in order at every batch.

Why: at the batch sizes these runs use (256 rows, layers 16-64 wide) a step's arithmetic is tens of microseconds
and its time was the calls around it: building an autograd graph, allocating every activation, splitting tensors
into members, Python looping over them. Here the forward and backward of a batch of ``rows`` rows are two lists of
``functools.partial`` calls bound to preallocated buffers and to each member's views of the parameters and of the
gradient buffer, so a step is those calls and nothing else (a CPU analogue of replaying a CUDA graph).

The operations are the ones autograd runs for :meth:`hfa.model.StackedMLP.forward` in training mode and its
backward, per member where a product is concerned (``addmm``/``mm``/``sum``: a member's bits do not depend on the
stack) and on the whole stack where the operation is elementwise, on contiguous ``(M, rows, width)`` tensors laid
out as freshly allocated ones would be (PyTorch picks an elementwise kernel by layout, and kernels round
differently: GELU's strided kernel is not oneDNN's), so the results are autograd's bit for bit
(``tests/test_model_tape.py``). The buffers are shared by every plan of a stack: the logits and the tape hold
until the stack's next forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

# For each activation of hfa.model.ACTIVATIONS, two makers of bound calls, as autograd computes them:
# forward(z, out) writes act(z) into out; backward(grad, z, a, out) writes the gradient at z, from the gradient at
# a = act(z), into out. Both are elementwise, so out may be the input itself. ReLU's and tanh's backward read only
# the output a, so their activation overwrites z; GELU's and SiLU's read z, which then needs a buffer of its own.
_ACTIVATIONS: dict[type[nn.Module], tuple[Callable, Callable]] = {
    nn.ReLU: (
        lambda z, out: partial(torch.clamp_min, z, 0, out=out),  # relu is clamp_min(z, 0)
        lambda grad, z, a, out: partial(torch.ops.aten.threshold_backward.grad_input, grad, a, 0, grad_input=out),
    ),
    nn.Tanh: (
        lambda z, out: partial(torch.tanh, z, out=out),
        lambda grad, z, a, out: partial(torch.ops.aten.tanh_backward.grad_input, grad, a, grad_input=out),
    ),
    nn.GELU: (
        lambda z, out: partial(torch.ops.aten.gelu.out, z, approximate="none", out=out),
        lambda grad, z, a, out: partial(
            torch.ops.aten.gelu_backward.grad_input, grad, z, approximate="none", grad_input=out
        ),
    ),
    nn.SiLU: (
        lambda z, out: partial(torch.ops.aten.silu.out, z, out=out),
        lambda grad, z, a, out: partial(torch.ops.aten.silu_backward.grad_input, grad, z, grad_input=out),
    ),
}
_READS_OUTPUT = (nn.ReLU, nn.Tanh)


class Buffers:
    """A stack's step buffers for batches of up to ``rows`` rows, shared where lifetimes allow: per hidden layer
    the pre-activation ``z``, the activation ``a`` (``z`` itself for ReLU and tanh, whose backward reads only the
    output), with dropout the ``mask`` and what the next layer reads ``h`` (which first holds the uniform draws:
    they are dead once the mask is known), and the gradient at ``a`` (then at ``z``, in place);
    then the logits ``out``. Without dropout the next layer reads ``a`` and those lists are empty.

    Each is one flat block; :meth:`view` gives its first ``M * rows * width`` elements as a contiguous
    ``(M, rows, width)`` tensor, so an epoch's short last batch costs no second set and is laid out as a freshly
    allocated tensor of its size would be.
    """

    def __init__(
        self, widths: Sequence[int], members: int, rows: int, dropout: bool, activation: nn.Module, like: torch.Tensor
    ):
        hidden, masked = widths[1:-1], (widths[1:-1] if dropout else [])
        self.members, self.rows, self.dtype, self.device = members, rows, like.dtype, like.device

        def new(width: int, dtype: torch.dtype = like.dtype) -> tuple[torch.Tensor, int]:
            return torch.empty(members * rows * width, dtype=dtype, device=like.device), width

        z = [new(w) for w in hidden]
        self._blocks: dict[str, list[tuple[torch.Tensor, int]]] = {
            "z": z,
            "a": z if isinstance(activation, _READS_OUTPUT) else [new(w) for w in hidden],
            "mask": [new(w) for w in masked],
            "h": [new(w) for w in masked],
            "grad": [new(w) for w in hidden],
            "out": [new(widths[-1])],
        }

    def view(self, name: str, depth: int, rows: int) -> torch.Tensor:
        """Buffer ``name`` of hidden layer ``depth`` (``out``: depth 0) for a batch of ``rows`` rows."""
        if rows > self.rows:
            raise ValueError(f"buffers for {self.rows} rows cannot hold a batch of {rows}")
        flat, width = self._blocks[name][depth]
        return flat[: self.members * rows * width].view(self.members, rows, width)


class StepPlan:
    """The forward and backward of one batch shape of a stack, as bound operations (see the module docstring).

    ``layers``: the stack's ``(weight (M, in, out), bias (M, 1, out))`` pairs; ``generators``: one per member when
    ``dropout > 0``; ``buffers``: the stack's, for at least ``rows`` rows; ``rows``: the batch's rows per member.
    :meth:`forward` copies each batch into the plan's own input :attr:`x`, which the bound calls read.
    """

    def __init__(
        self,
        layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
        activation: nn.Module,
        dropout: float,
        generators: Sequence[torch.Generator],
        buffers: Buffers,
        rows: int,
    ):
        # Detached views of the parameters (the same storage): the plan's calls then record no autograd history,
        # so it runs without switching autograd off around every call.
        layers = [(weight.detach(), bias.detach()) for weight, bias in layers]
        members, width_in = layers[0][0].shape[0], layers[0][0].shape[1]
        self.layers, self.rows = layers, rows
        self.x = torch.empty(members, rows, width_in, dtype=buffers.dtype, device=buffers.device)
        self.grad_out = torch.empty(members, rows, layers[-1][0].shape[2], dtype=buffers.dtype, device=buffers.device)
        self.logits = buffers.view("out", 0, rows).squeeze(-1)
        forward_of, backward_of = _ACTIVATIONS[type(activation)]
        ops: list[Callable[[], object]] = []
        inputs = [self.x]  # what layer d reads
        keep = 1.0 - dropout
        for depth, (weight, bias) in enumerate(layers):
            last = depth == len(layers) - 1
            z = buffers.view("out", 0, rows) if last else buffers.view("z", depth, rows)
            ops += _per_member(torch.addmm, bias, inputs[-1], weight, out=z)
            if last:
                break
            a = buffers.view("a", depth, rows)
            ops.append(forward_of(z, a))
            if dropout > 0:
                mask, h = (buffers.view(name, depth, rows) for name in ("mask", "h"))
                draw = h  # the draws are dead once the mask is known, before h is written
                # The values of StackedMLP._masks: each member's uniform draws from its own generator (what
                # torch.rand draws), kept below 1 - p, scaled by 1 / (1 - p).
                ops += [partial(d.uniform_, 0, 1, generator=g) for d, g in zip(draw.unbind(0), generators, strict=True)]
                ops += [
                    # The flags written straight in the activations' dtype (1 or 0, as a bool copy gives), then
                    # scaled in it: two passes, where a bool buffer and its copy took three, each slower.
                    partial(torch.lt, draw, keep, out=mask),
                    partial(mask.div_, keep),
                    partial(torch.mul, a, mask, out=h),
                ]
                inputs.append(h)
            else:
                inputs.append(a)
        self.forward_ops = ops
        self._inputs = inputs
        self._backward_of, self._buffers, self._dropout = backward_of, buffers, dropout > 0
        self._backward: tuple[object, list[Callable[[], object]]] = (None, [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits ``(M, rows)`` (``(M, rows, L)`` for several outputs) of a batch ``x`` of ``(M, rows, F)``."""
        if x is not self.x:
            self.x.copy_(x.detach())
        for op in self.forward_ops:
            op()
        return self.logits

    def backward(self, grad_logits: torch.Tensor, out: Sequence[torch.Tensor]) -> None:
        """Write the gradients of the loss (``grad_logits``, at :meth:`forward`'s logits) into ``out``: tensors
        shaped like the stack's parameters, weights then biases (an optimiser's buffers, kept between calls)."""
        self.grad_out.view_as(grad_logits).copy_(grad_logits.detach())
        for op in self._backward_ops(out):
            op()

    def _backward_ops(self, out: Sequence[torch.Tensor]) -> list[Callable[[], object]]:
        known, ops = self._backward
        if known is out:  # the calls are bound to the views of this very ``out``
            return ops
        n_layers, rows, buffers = len(self.layers), self.rows, self._buffers
        ops, grad = [], self.grad_out
        for depth in range(n_layers - 1, -1, -1):
            weight, _ = self.layers[depth]
            grad_w, grad_b = out[depth], out[n_layers + depth]
            ops += _per_member(torch.sum, grad, 0, keepdim=True, out=grad_b)
            ops += _per_member(torch.mm, self._inputs[depth].transpose(1, 2), grad, out=grad_w)
            if depth == 0:
                break
            grad_a = buffers.view("grad", depth - 1, rows)  # at the activation, then (in place) at z
            ops += _per_member(torch.mm, grad, weight.transpose(1, 2), out=grad_a)
            if self._dropout:
                ops.append(partial(grad_a.mul_, buffers.view("mask", depth - 1, rows)))
            z, a = buffers.view("z", depth - 1, rows), buffers.view("a", depth - 1, rows)
            ops.append(self._backward_of(grad_a, z, a, grad_a))
            grad = grad_a
        # Held, ``out`` cannot be freed and its id() given to another sequence, so the identity test above is sound.
        self._backward = (out, ops)
        return ops


def _per_member(op: Callable, *args: object, out: torch.Tensor, **kwargs: object) -> list[Callable[[], object]]:
    """``op`` bound once per member: tensor arguments and ``out`` taken member by member (their first axis)."""
    split = [arg.unbind(0) if isinstance(arg, torch.Tensor) else None for arg in args]
    calls = []
    for m, target in enumerate(out.unbind(0)):
        bound = [arg if parts is None else parts[m] for arg, parts in zip(args, split, strict=True)]
        calls.append(partial(op, *bound, out=target, **kwargs))
    return calls
