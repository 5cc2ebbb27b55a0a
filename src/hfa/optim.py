"""Adam over a stack's parameters: PyTorch's Adam algorithm as a few foreach operations, with member removal.

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


class StackedAdam:
    """Adam for parameters whose first axis is the member axis; :meth:`keep` drops members."""

    def __init__(
        self,
        params: Sequence[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        grads = [p.grad for p in self.params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1 - beta2)
        step_size = self.lr / (1 - beta1**self.steps)
        correction2_sqrt = math.sqrt(1 - beta2**self.steps)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, correction2_sqrt)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, value=-step_size)

    def keep(self, params: Sequence[torch.nn.Parameter], index: torch.Tensor) -> None:
        """Follow a stack that kept only the members at ``index``; ``params`` are its new parameters."""
        self.params = list(params)
        self.exp_avg = [state.index_select(0, index) for state in self.exp_avg]
        self.exp_avg_sq = [state.index_select(0, index) for state in self.exp_avg_sq]
