"""BCE, weighted BCE and focal loss against torch's BCE and hand formulas."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hfa.errors import HfaError
from hfa.losses import BCELoss, FocalLoss, WeightedBCELoss

F64 = torch.float64


def batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g, dtype=F64) * 3, (torch.rand(n, generator=g) < 0.3).to(torch.int64)


def np_log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def ref_wbce(z, y, w_pos):
    """-(w y log s(z) + (1 - y) log(1 - s(z))) per sample, in numpy."""
    return -(w_pos * y * np_log_sigmoid(z) + (1 - y) * np_log_sigmoid(-z))


def ref_focal(z, y, alpha, gamma):
    """Lin et al. written with p = s(z): -a_t (1 - p_t)^gamma log p_t, in numpy."""
    p = 1 / (1 + np.exp(-z))
    p_t = np.where(y == 1, p, 1 - p)
    a_t = np.where(y == 1, alpha, 1 - alpha)
    return -a_t * (1 - p_t) ** gamma * np.log(p_t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_and_unit_weight_wbce_equal_torch_bce(reduction):
    z, y = batch()
    expected = F.binary_cross_entropy_with_logits(z, y.to(F64), reduction=reduction)
    for loss in (BCELoss(reduction), WeightedBCELoss(pos_weight=1, reduction=reduction)):
        np.testing.assert_allclose(loss(z, y).numpy(), expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("pos_weight", [0.5, 3.0, 19])
def test_wbce_matches_the_formula(pos_weight):
    z, y = batch(seed=1)
    expected = ref_wbce(z.numpy(), y.numpy(), pos_weight)
    loss = WeightedBCELoss(pos_weight=pos_weight, reduction="none")
    np.testing.assert_allclose(loss(z, y).numpy(), expected, rtol=1e-9)
    assert WeightedBCELoss(pos_weight).pos_weight == pos_weight
    assert WeightedBCELoss(pos_weight)(z, y).item() == pytest.approx(expected.mean(), rel=1e-12)


@pytest.mark.parametrize(
    "labels",
    [
        torch.tensor([1] * 5 + [0] * 95),
        torch.tensor([True] * 5 + [False] * 95),
        np.array([1.0] * 5 + [0.0] * 95),
        [1] * 5 + [0] * 95,
    ],
    ids=["int tensor", "bool tensor", "numpy", "list"],
)
def test_auto_pos_weight_is_negatives_over_positives(labels):
    loss = WeightedBCELoss("auto")
    assert loss.pos_weight is None
    assert loss.fit(labels) is loss
    assert loss.pos_weight == pytest.approx(95 / 5)
    z, y = batch(seed=2)
    np.testing.assert_allclose(loss(z, y).item(), ref_wbce(z.numpy(), y.numpy(), 19.0).mean(), rtol=1e-12)


def test_unresolved_auto_raises_with_a_hint():
    z, y = batch()
    with pytest.raises(RuntimeError, match=r"call \.fit\(train_targets\) first, or pass pos_weight as a number"):
        WeightedBCELoss()(z, y)


def test_fit_keeps_a_given_number():
    assert WeightedBCELoss(pos_weight=2.5).fit([0, 0, 0, 1]).pos_weight == 2.5


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1]])
def test_auto_needs_both_classes(labels):
    with pytest.raises(HfaError, match="needs both classes"):
        WeightedBCELoss().fit(labels)


@pytest.mark.parametrize("pos_weight", [0, -1.0, "heavy", float("inf"), True, None])
def test_bad_pos_weight(pos_weight):
    with pytest.raises(HfaError, match=r"pos_weight must be 'auto' or a number > 0"):
        WeightedBCELoss(pos_weight)


def test_focal_with_gamma_zero_and_half_alpha_is_half_bce():
    z, y = batch(seed=3)
    expected = 0.5 * F.binary_cross_entropy_with_logits(z, y.to(F64))
    assert FocalLoss(alpha=0.5, gamma=0.0)(z, y).item() == pytest.approx(expected.item(), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.9])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_focal_matches_the_formula(alpha, gamma):
    z, y = batch(seed=4)
    z = z.clamp(-15, 15)  # the naive reference loses precision in log(p_t) beyond this
    loss = FocalLoss(alpha=alpha, gamma=gamma, reduction="none")
    np.testing.assert_allclose(loss(z, y).numpy(), ref_focal(z.numpy(), y.numpy(), alpha, gamma), rtol=1e-9)


@pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
def test_focal_is_finite_for_extreme_logits(gamma):
    z = torch.tensor([-1e4, -50.0, 50.0, 1e4, 1e4, -1e4], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 0, 1])
    values = FocalLoss(gamma=gamma, reduction="none")(z, y)
    values.sum().backward()
    assert bool(torch.isfinite(values).all())
    assert bool(torch.isfinite(z.grad).all())
    # Confidently wrong samples cost about |z| (times the class weight): the loss is linear, not saturated.
    assert values[4].item() == pytest.approx(0.75 * 1e4, rel=1e-6)
    assert values[5].item() == pytest.approx(0.25 * 1e4, rel=1e-6)


@pytest.mark.parametrize("loss", [BCELoss(), WeightedBCELoss(4.0), FocalLoss()], ids=["bce", "wbce", "focal"])
def test_weights_multiply_the_per_sample_losses(loss):
    z, y = batch(seed=5)
    w = torch.rand(len(z), dtype=F64)
    per_sample = type(loss)(**({"pos_weight": 4.0} if isinstance(loss, WeightedBCELoss) else {}), reduction="none")
    assert loss(z, y, w).item() == pytest.approx((per_sample(z, y) * w).mean().item(), rel=1e-12)


@pytest.mark.parametrize("cls", [BCELoss, WeightedBCELoss, FocalLoss])
def test_reductions(cls):
    z, y = batch(seed=6)
    make = (lambda r: cls(2.0, reduction=r)) if cls is WeightedBCELoss else (lambda r: cls(reduction=r))
    none = make("none")(z[:, None], y)
    assert none.shape == (len(z),)
    assert make("sum")(z, y).item() == pytest.approx(none.sum().item(), rel=1e-12)
    assert make("mean")(z, y).item() == pytest.approx(none.mean().item(), rel=1e-12)
    with pytest.raises(HfaError, match="reduction must be one of mean, sum, none"):
        make("max")


@pytest.mark.parametrize(
    ("kwargs", "fragment"), [({"alpha": 1.5}, "alpha"), ({"gamma": -0.1}, "gamma must be a number >= 0")]
)
def test_focal_rejects_bad_parameters(kwargs, fragment):
    with pytest.raises(HfaError, match=fragment):
        FocalLoss(**kwargs)


@pytest.mark.parametrize("loss", [BCELoss(), WeightedBCELoss(3.0), FocalLoss(alpha=0.3, gamma=1.5)])
def test_gradcheck(loss):
    z, y = batch(n=16, seed=7)
    w = torch.linspace(0.5, 1.5, 16, dtype=F64)
    z = z.requires_grad_()
    assert torch.autograd.gradcheck(lambda logits: loss(logits, y, w), (z,), eps=1e-6, atol=1e-7)
