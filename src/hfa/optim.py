"""Adam over a stack's parameters: PyTorch's Adam algorithm as a few operations on one flat buffer, with member
removal.

Why not ``torch.optim.Adam``: its constructor imports ``torch._dynamo`` (about 2 s of a run's start-up), and a stack
that drops finished members needs its optimiser state cut along the member axis, which ``torch.optim`` makes a
``state_dict`` round trip. Every operation here is elementwise, so a member's update never depends on which members
share its stack. The update is Adam's (Kingma & Ba), with L2 weight decay added to the gradient as in
``torch.optim.Adam`` (tests hold it to ``torch.optim.Adam``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from hfa.operands import EXACT_DTYPES, operand


class StackedAdam:
    """Adam for parameters whose first axis is the member axis; :meth:`keep` drops members.

    The parameters are moved into one flat buffer (each ``Parameter`` keeps its identity and becomes a view of
    it), so a step is seven operations on one tensor. A caller that computes the gradients itself writes them into
    :attr:`grads` (views of the flat :attr:`grad`) and calls ``step(optimizer.grad)``; otherwise ``step()``
    gathers each parameter's ``.grad``. Where torch's foreach ops would run
    tensor by tensor on CPU, with a scalar cast for each, that is 20 µs a step instead of 60 for an MLP's six
    tensors. The per-element arithmetic is the foreach path's, so the result is too, bit for bit. (PyTorch's fused
    Adam kernel is faster still, but its vector lanes round differently from its scalar tail: a member's update
    would then depend on where its elements fall, i.e. on the stack size.)
    """

    def __init__(
        self,
        params: Sequence[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.steps = 0
        self._seat(list(params))
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)

    def _seat(self, params: list[torch.nn.Parameter]) -> None:
        """Copy ``params`` into one flat buffer and make each a view of its part."""
        self.params = params
        first = params[0] if params else torch.empty(0)
        if any(p.dtype != first.dtype or p.device != first.device for p in params):
            raise ValueError("a stack's parameters must share one dtype and device")
        with torch.no_grad():
            self.flat = torch.cat([p.detach().reshape(-1) for p in params]) if params else first.new_empty(0)
            offset = 0
            for p in params:
                p.data = self.flat[offset : offset + p.numel()].view_as(p)
                offset += p.numel()
        self.grad = torch.zeros_like(self.flat)
        """The gradient buffer, one flat tensor in the order of the parameters."""
        # The second moment's bias correction as a 0-d tensor refilled each step (see hfa.operands: a number where
        # the parameters are half precision).
        self._correction2 = self.flat.new_zeros(()) if self.flat.dtype in EXACT_DTYPES else None
        self.grads = self._parts(self.grad)
        """:attr:`grad` as one view per parameter, shaped like it: where a caller writes gradients."""

    def _parts(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """``flat`` (a state buffer) as one tensor per parameter, shaped like it."""
        sizes = [p.numel() for p in self.params]
        return [part.view_as(p) for part, p in zip(flat.split(sizes), self.params, strict=True)]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self, grad: torch.Tensor | None = None) -> None:
        """One Adam update from ``grad`` (flat, in the order of the parameters; normally :attr:`grad`), or by
        default from the parameters' ``.grad``. (Every tensor here is the optimiser's own, none records autograd
        history, so the step needs no ``torch.no_grad``.)"""
        beta1, beta2 = self.betas
        self.steps += 1
        if grad is None:
            with torch.no_grad():
                grad = torch.cat([p.grad.reshape(-1) for p in self.params])
        if self.weight_decay:
            grad = grad.add(self.flat, alpha=self.weight_decay)
        self.exp_avg.lerp_(grad, 1 - beta1)
        # 0-d tensors, not Python numbers (hfa.operands): the same arithmetic without a copy per call.
        self.exp_avg_sq.mul_(operand(beta2, self.flat)).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1**self.steps)
        correction2: torch.Tensor | float = math.sqrt(1 - beta2**self.steps)
        if self._correction2 is not None:
            correction2 = self._correction2.fill_(correction2)
        denom = self.exp_avg_sq.sqrt().div_(correction2).add_(operand(self.eps, self.flat))
        self.flat.addcdiv_(self.exp_avg, denom, value=-step_size)

    def keep(self, params: Sequence[torch.nn.Parameter], index: torch.Tensor) -> None:
        """Follow a stack that kept only the members at ``index``; ``params`` are its new parameters."""
        states = [
            [part.index_select(0, index) for part in self._parts(state)] for state in (self.exp_avg, self.exp_avg_sq)
        ]
        self._seat(list(params))
        self.exp_avg, self.exp_avg_sq = (torch.cat([part.reshape(-1) for part in parts]) for parts in states)
