"""``per_row`` gives every row exactly (bit for bit) what that row gives alone, whatever the stack's size.

A stacked training run evaluates one loss for a group of members with ``per_row``; a member must train exactly as
it would alone (a stack of one), so each row's value and gradient may not depend on how many rows come with it.
"""

from __future__ import annotations

import pytest
import torch

from hfa.losses import LOSSES, build_loss

STACKS = (1, 2, 3, 17)
# 256: a whole batch; 1000 and 37: sizes that are no multiple of the CPU's vector width (a last, partial batch).
SIZES = (256, 1000, 37)
CASES = [(name, "heaviside") for name in sorted(LOSSES)] + [(name, "sigmoid") for name in ("f1", "accuracy", "auroc")]


def _stack(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed + n)
    targets = (torch.rand(max(STACKS), n, generator=generator) < 0.2).float()
    logits = 2 * torch.randn(max(STACKS), n, generator=generator) + 2 * targets - 1
    return logits, targets


def _value_and_grad(loss, logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z = logits.clone().requires_grad_()
    values = loss.per_row(z, targets)
    values.sum().backward()
    return values.detach(), z.grad


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(("name", "approx"), CASES)
def test_each_row_of_a_stack_is_exactly_the_row_alone(name, approx, n):
    loss = build_loss(name, pos_weight=3.0, approx=approx)
    logits, targets = _stack(n)
    alone = [_value_and_grad(loss, logits[m : m + 1], targets[m : m + 1]) for m in range(max(STACKS))]
    for size in STACKS:
        values, grads = _value_and_grad(loss, logits[:size], targets[:size])
        for m in range(size):
            assert torch.equal(values[m], alone[m][0][0]), (size, m, values[m] - alone[m][0][0])
            assert torch.equal(grads[m], alone[m][1][0]), (size, m, (grads[m] - alone[m][1][0]).abs().max())


@pytest.mark.parametrize(("name", "approx"), CASES)
def test_rows_sharing_one_target_row_are_exact_too(name, approx):
    """Validation scores every member on the same labels, passed as one row expanded over the stack."""
    loss = build_loss(name, pos_weight=3.0, approx=approx)
    logits, targets = _stack(1000, seed=1)
    shared = targets[:1]
    with torch.no_grad():
        alone = [loss.per_row(logits[m : m + 1], shared) for m in range(max(STACKS))]
        for size in STACKS:
            values = loss.per_row(logits[:size], shared.expand(size, -1))
            for m in range(size):
                assert torch.equal(values[m], alone[m][0]), (size, m)
