"""The CPU training step's hand-written backward (``StackedMLP.forward_tape`` / ``backward_tape``) gives autograd's
gradients bit for bit, for every activation, with and without dropout, one or several outputs and members."""

from __future__ import annotations

import pytest
import torch

from hfa.model import MLP, StackedMLP


def stack(
    members: int, hidden: list[int], dropout: float, activation: str, out: int, dtype: torch.dtype = torch.float32
) -> StackedMLP:
    torch.manual_seed(0)
    models = [MLP(5, hidden, dropout, activation, out) for _ in range(members)]
    generators = [torch.Generator().manual_seed(100 + m) for m in range(members)]
    return StackedMLP(models, generators).to(dtype).train()


def loss_of(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none").flatten(1).mean(1).sum()


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "silu"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize(("members", "hidden", "out"), [(1, [8, 4], 1), (3, [16], 3), (2, [], 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_taped_gradients_are_autograds(activation, dropout, members, hidden, out, dtype) -> None:
    x = torch.randn(members, 64, 5, generator=torch.Generator().manual_seed(1), dtype=dtype)
    y = torch.rand(members, 64, *([out] if out > 1 else []), generator=torch.Generator().manual_seed(2)) < 0.3
    y = y.to(dtype)

    auto = stack(members, hidden, dropout, activation, out, dtype)
    logits = auto(x)
    loss_of(logits, y).backward()

    taped = stack(members, hidden, dropout, activation, out, dtype)
    tape_logits, tape = taped.forward_tape(x)
    loss_of(tape_logits.requires_grad_(), y).backward()
    taped.backward_tape(tape, tape_logits.grad)

    assert torch.equal(logits.detach(), tape_logits.detach())
    for a, b in zip(auto.parameters(), taped.parameters(), strict=True):
        assert b.grad is not None and torch.equal(a.grad, b.grad)


def test_taped_gradients_into_an_optimisers_buffer() -> None:
    from hfa.optim import StackedAdam

    x = torch.randn(2, 64, 5, generator=torch.Generator().manual_seed(4))
    y = (torch.rand(2, 64, generator=torch.Generator().manual_seed(5)) < 0.3).float()
    reference = stack(2, [8, 4], 0.3, "relu", 1)
    logits, tape = reference.forward_tape(x)
    loss_of(logits.requires_grad_(), y).backward()
    reference.backward_tape(tape, logits.grad)

    taped = stack(2, [8, 4], 0.3, "relu", 1)
    optimizer = StackedAdam(list(taped.parameters()))  # moves the parameters into its buffer
    logits, tape = taped.forward_tape(x)
    loss_of(logits.requires_grad_(), y).backward()
    taped.backward_tape(tape, logits.grad, optimizer.grads)
    expected = torch.cat([p.grad.reshape(-1) for p in reference.parameters()])
    assert torch.equal(optimizer.grad, expected)


def test_taped_forward_follows_the_parameters_an_optimiser_moved_and_stepped() -> None:
    from hfa.optim import StackedAdam

    x = torch.randn(2, 64, 5, generator=torch.Generator().manual_seed(4))
    taped = stack(2, [8, 4], 0.0, "relu", 1)
    before = taped.forward_tape(x)[0].clone()  # the logits live in the workspace until the next call
    optimizer = StackedAdam(list(taped.parameters()), lr=0.1)
    optimizer.grad.fill_(1.0)
    optimizer.step(optimizer.grad)
    after, _ = taped.forward_tape(x)
    assert not torch.equal(before, after)
    assert torch.equal(after, taped(x).detach())


def test_taped_steps_in_a_row_and_a_short_batch_between() -> None:
    # The logits a step returns are the stack's buffer: two steps in a row, marking each step's logits as
    # requiring grad as a caller might, give each step autograd's gradient (not a sum over steps), and a short
    # batch between two full ones uses the same buffers without disturbing what the full plan computes.
    taped, auto = stack(2, [8, 4], 0.0, "gelu", 1), stack(2, [8, 4], 0.0, "gelu", 1)
    generator = torch.Generator().manual_seed(6)
    for rows in (64, 32, 64):
        x = torch.randn(2, rows, 5, generator=generator)
        y = (torch.rand(2, rows, generator=generator) < 0.3).float()
        for p in auto.parameters():
            p.grad = None
        loss_of(auto(x), y).backward()
        logits, tape = taped.forward_tape(x)
        loss_of(logits.requires_grad_(), y).backward()
        taped.backward_tape(tape, logits.grad)
        for a, b in zip(auto.parameters(), taped.parameters(), strict=True):
            assert torch.equal(a.grad, b.grad)


def test_a_plan_first_made_under_inference_mode_serves_outside_it() -> None:
    taped = stack(1, [8], 0.0, "relu", 1)
    x = torch.randn(1, 32, 5, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        inside = taped.forward_tape(x)[0].clone()
    assert torch.equal(taped.forward_tape(x)[0], inside)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "silu"])
@pytest.mark.parametrize(("members", "hidden", "out", "rows"), [(1, [8, 4], 1, 4096), (3, [16], 3, 96), (2, [], 1, 33)])
def test_planned_eval_forward_is_forwards(activation, members, hidden, out, rows) -> None:
    """Validation's planned forward (buffers kept between epochs) gives the eval forward's bits, also after the
    parameters changed in place and after the stack dropped a member (new parameter storage: a new plan)."""
    x = torch.randn(members, rows, 5, generator=torch.Generator().manual_seed(3))
    model = stack(members, hidden, 0.3, activation, out).eval()
    with torch.no_grad():
        assert torch.equal(model.forward_planned(x), model(x))
        for p in model.parameters():
            p.mul_(0.5)
        assert torch.equal(model.forward_planned(x), model(x))
        if members > 1:
            model.keep([members - 1])
            assert torch.equal(model.forward_planned(x[-1:]), model(x[-1:]))
