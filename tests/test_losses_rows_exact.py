"""``per_row`` gives every row exactly (bit for bit) what that row gives alone, whatever the stack's size.

A stacked training run evaluates one loss for a group of members with ``per_row``; a member must train exactly as
it would alone (a stack of one), so each row's value and gradient may not depend on how many rows come with it.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hfa.losses import LOSSES, F1Loss, FocalLoss, build_loss, group_losses
from hfa.losses.binned import BinnedTable

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


ROW_PARAMS = {
    # Losses whose group holds a parameter per row (a tuning study's trials differ there); the strategy draws it.
    "f1": {"delta": st.floats(0.01, 0.49)},
    "mcc": {"delta": st.floats(0.01, 0.49)},
    "focal": {"alpha": st.floats(0.0, 1.0), "gamma": st.floats(0.0, 5.0)},
    "wbce": {"pos_weight": st.floats(0.1, 50.0)},
}


@pytest.mark.parametrize("name", sorted(ROW_PARAMS))
@settings(max_examples=12, deadline=None, derandomize=True)
@given(data=st.data())
def test_members_differing_in_a_parameter_form_one_group_exact_to_each_alone(name, data):
    """A group of losses that differ only in a row parameter is one call, and row ``m`` of it is exactly (value
    and gradient, by the trainer's ``value_and_grad`` and by autograd) what ``losses[m]`` gives that row alone."""
    size = data.draw(st.integers(2, 7), label="members")
    n = data.draw(st.sampled_from(SIZES), label="rows")
    params = [{key: data.draw(values, label=key) for key, values in ROW_PARAMS[name].items()} for _ in range(size)]
    losses = [build_loss(name, **p) for p in params]
    ((positions, group),) = group_losses(losses)
    assert positions == list(range(size))
    logits, targets = _stack(n, seed=size)
    logits, targets = logits[:size], targets[:size]
    weights = torch.ones_like(logits)
    weights[:, -5:] = 0  # the trainer's padding rows
    values, grads = group.value_and_grad(logits, targets, weights)
    taped = _value_and_grad(group, logits, targets)
    for m, loss in enumerate(losses):
        value, grad = loss.value_and_grad(logits[m : m + 1], targets[m : m + 1], weights[m : m + 1])
        assert torch.equal(values[m], value[0]) and torch.equal(grads[m], grad[0]), (m, params[m])
        value, grad = _value_and_grad(loss, logits[m : m + 1], targets[m : m + 1])
        assert torch.equal(taped[0][m], value[0]) and torch.equal(taped[1][m], grad[0]), (m, params[m])


def test_a_stacked_table_needs_one_grid():
    tables = [build_loss("f1", thresholds=grid)._binned for grid in ([0.5], [0.3, 0.7])]
    with pytest.raises(ValueError, match="same breakpoints"):
        BinnedTable.stack(tables)


def _mixed(name: str):
    params = {"f1": [{"delta": 0.1}, {"delta": 0.3}], "focal": [{"gamma": 0.3, "alpha": 0.1}, {"gamma": 1.7}]}[name]
    losses = [build_loss(name, **p) for p in params]
    ((_, group),) = group_losses(losses)
    return losses, group


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("name", ["f1", "focal"])
def test_a_group_is_exact_in_every_dtype_and_with_weights_that_need_a_gradient(name, dtype):
    """Half precision multiplies a number in float32 but a column from its half value, and weights that need a
    gradient take the dense tables: a group still gives each row exactly what its member gives it alone."""
    losses, group = _mixed(name)
    logits, targets = _stack(37)
    z, y = logits[:2].to(dtype), targets[:2].to(dtype)
    weights = torch.rand(2, 37, generator=torch.Generator().manual_seed(3)).to(dtype).requires_grad_()
    for w in (None, weights):
        values, grads = _value_and_grad(group, z, y) if w is None else _weighted(group, z, y, w)
        for m, loss in enumerate(losses):
            rows = (z[m : m + 1], y[m : m + 1])
            value, grad = _value_and_grad(loss, *rows) if w is None else _weighted(loss, *rows, w[m : m + 1])
            assert torch.equal(values[m], value[0]) and torch.equal(grads[m], grad[0]), (m, w is None)


def _weighted(loss, logits, targets, weights):
    z = logits.clone().requires_grad_()
    values = loss.per_row(z, targets, weights.detach().requires_grad_())
    values.sum().backward()
    return values.detach(), z.grad


@pytest.mark.parametrize("name", ["f1", "focal"])
def test_a_group_serves_its_own_rows_only_and_is_never_regrouped(name):
    losses, group = _mixed(name)
    logits, targets = _stack(40)
    with pytest.raises(ValueError, match=r"group of 2 .*shape \(2, N\)"):
        group.per_row(logits[:3], targets[:3])
    with pytest.raises(ValueError, match=r"group of 2 .*shape \(2, N\)"):
        group.value_and_grad(logits[:1], targets[:1])
    assert group.group_key() is None
    assert [positions for positions, _ in group_losses([group, losses[0]])] == [[0], [1]]


def test_a_subclass_reading_its_own_parameters_groups_only_with_equal_ones():
    """A subclass that overrides a method reading the parameters may read them as numbers: its losses share a
    group only where the parameters are equal (a group of them is then its first member)."""

    class MyFocal(FocalLoss):
        def _compute(self, z, targets, weights):
            return super()._compute(z, targets, weights) + 0.0 * self.gamma

    class MyF1(F1Loss):
        def _soft_counts(self, probs, targets, weights):
            assert isinstance(self.delta, float)
            return super()._soft_counts(probs, targets, weights)

    for cls, param in ((MyFocal, "gamma"), (MyF1, "delta")):
        losses = [cls(**{param: 0.2}), cls(**{param: 0.4}), cls(**{param: 0.2})]
        groups = group_losses(losses)
        assert [positions for positions, _ in groups] == [[0, 2], [1]]
        assert groups[0][1] is losses[0]
    # The package's own classes do share one group.
    assert len(group_losses([FocalLoss(gamma=0.2), FocalLoss(gamma=0.4), F1Loss(delta=0.2), F1Loss(delta=0.4)])) == 2
