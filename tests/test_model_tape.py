"""The CPU training step's hand-written backward (``StackedMLP.forward_tape`` / ``backward_tape``) gives autograd's
gradients bit for bit, for every activation, with and without dropout, one or several outputs and members."""

from __future__ import annotations

import pytest
import torch

from hfa.model import MLP, StackedMLP


def stack(members: int, hidden: list[int], dropout: float, activation: str, out: int) -> StackedMLP:
    torch.manual_seed(0)
    models = [MLP(5, hidden, dropout, activation, out) for _ in range(members)]
    generators = [torch.Generator().manual_seed(100 + m) for m in range(members)]
    return StackedMLP(models, generators).train()


def loss_of(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none").flatten(1).mean(1).sum()


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "silu"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize(("members", "hidden", "out"), [(1, [8, 4], 1), (3, [16], 3), (2, [], 1)])
def test_taped_gradients_are_autograds(activation, dropout, members, hidden, out) -> None:
    x = torch.randn(members, 64, 5, generator=torch.Generator().manual_seed(1))
    y = torch.rand(members, 64, *([out] if out > 1 else []), generator=torch.Generator().manual_seed(2)) < 0.3
    y = y.float()

    auto = stack(members, hidden, dropout, activation, out)
    logits = auto(x)
    loss_of(logits, y).backward()

    taped = stack(members, hidden, dropout, activation, out)
    tape_logits, tape = taped.forward_tape(x)
    loss_of(tape_logits.requires_grad_(), y).backward()
    taped.backward_tape(tape, tape_logits.grad)

    assert torch.equal(logits.detach(), tape_logits.detach())
    for a, b in zip(auto.parameters(), taped.parameters(), strict=True):
        assert b.grad is not None and torch.equal(a.grad, b.grad)
