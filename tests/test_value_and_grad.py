"""``value_and_grad``: a loss's per-row values and the gradient of their sum at the logits, as the CPU training
step takes them. The closed forms (BCE, weighted BCE, the Heaviside metric losses) must be autograd's bit for
bit, so a run trains to the same numbers whichever path computed its step."""

from __future__ import annotations

import pytest
import torch

from hfa import losses as L
from hfa.losses import BCELoss, F1Loss, MultiLabelLoss, WeightedBCELoss
from hfa.losses.modules import value_and_grad

LOSSES = {
    "bce": lambda: L.BCELoss(),
    "bce-sum": lambda: L.BCELoss(reduction="sum"),
    "wbce": lambda: L.WeightedBCELoss(7.5),
    "wbce-rows": lambda: L.WeightedBCELoss([1.5, 20.0, 3.25]),
    "wbce-sum": lambda: L.WeightedBCELoss(2.0, reduction="sum"),
    "f1": lambda: L.F1Loss(),
    "fbeta": lambda: L.FBetaLoss(beta=2.0, thresholds=[0.25, 0.5]),
    "accuracy": lambda: L.AccuracyLoss(),
    "balanced": lambda: L.BalancedAccuracyLoss(),
    "mcc": lambda: L.MCCLoss(),  # no closed form: autograd
    "auroc": lambda: L.AUROCLoss(),
    "focal": lambda: L.FocalLoss(),
    "sigmoid-f1": lambda: L.F1Loss(approx="sigmoid"),
}


def rows(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(3, n, generator=generator) * 4  # some logits far out in the tails
    y = (torch.rand(3, n, generator=generator) < 0.2).float()
    w = torch.rand(3, n, generator=generator) * 2
    w[:, -5:] = 0  # padding rows, as the trainer masks them
    return z, y, w


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("n", [1, 37, 256, 1000])
@pytest.mark.parametrize("weighted", [False, True])
def test_value_and_grad_is_autograds(name, n, weighted) -> None:
    z, y, w = rows(n, seed=n)
    w = w if weighted and n > 5 else None
    loss = LOSSES[name]()

    leaf = z.clone().requires_grad_()
    expected = loss.per_row(leaf, y, w)
    expected.sum().backward()

    values, grad = loss.value_and_grad(z, y, w)
    assert not values.requires_grad and not grad.requires_grad
    assert torch.equal(values, expected.detach())
    assert torch.equal(grad, leaf.grad)


def test_value_and_grad_checks_as_per_row() -> None:
    z, y, _ = rows(8, seed=0)
    with pytest.raises(ValueError, match="row weights needs logits of shape"):
        WeightedBCELoss([1.0, 2.0]).value_and_grad(z, y)
    with pytest.raises(RuntimeError, match="unresolved"):
        WeightedBCELoss("auto").value_and_grad(z, y)
    with pytest.raises(ValueError, match="targets must have the shape"):
        BCELoss().value_and_grad(z, y[:, :4])


def test_multilabel_and_foreign_modules_take_autograd() -> None:
    generator = torch.Generator().manual_seed(3)
    z = torch.randn(2, 16, 4, generator=generator)
    y = (torch.rand(2, 16, 4, generator=generator) < 0.3).float()
    loss = MultiLabelLoss(F1Loss(), 4)
    leaf = z.clone().requires_grad_()
    loss.per_row(leaf, y).sum().backward()
    values, grad = loss.value_and_grad(z, y)
    assert torch.equal(grad, leaf.grad) and values.shape == (2,)

    # Any module with a per_row: the module-level function (autograd).
    class Squared(torch.nn.Module):
        def per_row(self, logits, targets):
            return ((logits - targets) ** 2).mean(-1)

    values, grad = value_and_grad(Squared().per_row, z[:, :, 0], y[:, :, 0])
    assert torch.allclose(grad, 2 * (z[:, :, 0] - y[:, :, 0]) / 16)
    assert torch.allclose(values, ((z[:, :, 0] - y[:, :, 0]) ** 2).mean(-1))


def test_a_subclass_computing_something_else_is_not_taken_for_bce() -> None:
    class Doubled(BCELoss):
        def _compute(self, z, targets, weights):
            return 2 * super()._compute(z, targets, weights)

    z, y, _ = rows(32, seed=1)
    values, grad = Doubled().value_and_grad(z, y)
    plain, plain_grad = BCELoss().value_and_grad(z, y)
    assert torch.allclose(values, 2 * plain) and torch.allclose(grad, 2 * plain_grad)


CLOSED = ["bce", "bce-sum", "wbce", "wbce-rows", "wbce-sum", "f1", "fbeta", "accuracy", "balanced"]


@pytest.mark.parametrize("name", CLOSED)
def test_closed_forms_build_no_graph(name, monkeypatch) -> None:
    from hfa.losses import modules

    def no_autograd(*args, **kwargs):
        raise AssertionError("took autograd")

    monkeypatch.setattr(modules, "value_and_grad", no_autograd)
    z, y, w = rows(64, seed=2)
    values, grad = LOSSES[name]().value_and_grad(z, y, w)
    assert values.shape == (3,) and grad.shape == z.shape
