"""Losses on rows: ``loss(logits (M, N), targets (M, N))[m]`` is the loss of row ``m`` alone, value and gradient."""

from __future__ import annotations

import pytest
import torch

from hfa.losses import LOSSES, BCELoss, F1Loss, FBetaLoss, MetricLoss, WeightedBCELoss, build_loss, group_losses
from hfa.losses.binned import BinnedTable, binned_counts
from hfa.losses.confusion import _counts
from hfa.losses.heaviside import _heaviside_apply, _heaviside_table
from hfa.losses.metrics import accuracy

NAMES = sorted(LOSSES)
M, N = 5, 40


def _rows(dtype: torch.dtype = torch.float64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(M, N, generator=generator, dtype=dtype)
    targets = (torch.rand(M, N, generator=generator) < 0.3).to(dtype)
    targets[1] = 0  # a row without positives
    targets[2, :3] = 1  # and one with at least a few
    return logits, targets


def _each_row(loss, logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Values and gradients of every row computed alone."""
    values, grads = [], []
    for z, y in zip(logits, targets, strict=True):
        z = z.clone().requires_grad_()
        value = loss(z, y)
        value.backward()
        values.append(value.detach())
        grads.append(z.grad)
    return torch.stack(values), torch.stack(grads)


def _batched(loss, logits: torch.Tensor, targets: torch.Tensor, method: str = "forward"):
    z = logits.clone().requires_grad_()
    values = getattr(loss, method)(z, targets) if method != "forward" else loss(z, targets)
    values.sum().backward()  # rows are independent, so the sum's gradient is each row's own
    return values.detach(), z.grad


@pytest.mark.parametrize("approx", ["heaviside", "sigmoid"])
@pytest.mark.parametrize("name", NAMES)
def test_each_row_is_its_own_batch(name, approx):
    loss = build_loss(name, pos_weight=3.0, approx=approx)
    logits, targets = _rows()
    values, grads = _batched(loss, logits, targets)
    assert values.shape == (M,)
    expected_values, expected_grads = _each_row(loss, logits, targets)
    torch.testing.assert_close(values, expected_values, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads, expected_grads, rtol=1e-10, atol=1e-12)
    assert torch.isfinite(values).all() and torch.isfinite(grads).all()


@pytest.mark.parametrize("name", NAMES)
def test_rows_in_float32_match_rows_alone(name):
    loss = build_loss(name, pos_weight=3.0)
    logits, targets = _rows(torch.float32, seed=1)
    values, grads = _batched(loss, logits, targets)
    expected_values, expected_grads = _each_row(loss, logits, targets)
    assert values.dtype == torch.float32
    torch.testing.assert_close(values, expected_values, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grads, expected_grads, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_per_row_reads_single_sample_rows(name):
    """``(M, 1)`` is ``(N, 1)`` to ``forward`` (as before rows existed) but ``M`` rows of one sample to per_row."""
    loss = build_loss(name, pos_weight=2.0)
    logits, targets = _rows()
    logits, targets = logits[:, :1], targets[:, :1]
    values, grads = _batched(loss, logits, targets, "per_row")
    assert values.shape == (M,)
    expected_values, expected_grads = _each_row(loss, logits, targets)
    torch.testing.assert_close(values, expected_values)
    torch.testing.assert_close(grads, expected_grads)
    assert loss(logits, targets).dim() == 0


@pytest.mark.parametrize("name", ["bce", "wbce", "focal"])
def test_per_sample_reductions_and_weights_on_rows(name):
    logits, targets = _rows()
    weights = torch.rand(M, N, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for reduction in ("mean", "sum", "none"):
        loss = LOSSES[name].factory(reduction=reduction, **({"pos_weight": 2.5} if name == "wbce" else {}))
        batched = loss(logits, targets, weights)
        expected = torch.stack([loss(logits[m], targets[m], weights[m]) for m in range(M)])
        assert batched.shape == ((M, N) if reduction == "none" else (M,))
        torch.testing.assert_close(batched, expected)


@pytest.mark.parametrize("name", ["f1", "mcc", "auroc"])
def test_metric_losses_take_weights_on_rows(name):
    logits, targets = _rows()
    weights = torch.rand(M, N, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    loss = build_loss(name)
    expected = torch.stack([loss(logits[m], targets[m], weights[m]) for m in range(M)])
    torch.testing.assert_close(loss(logits, targets, weights), expected)
    # Weights that need a gradient take the dense path, rows included.
    trainable = weights.clone().requires_grad_()
    torch.testing.assert_close(loss(logits, targets, trainable), expected)


def test_wbce_with_one_weight_per_row_equals_each_row_with_its_weight():
    logits, targets = _rows()
    weights = [0.5, 1.0, 4.0, 10.0, 2.5]
    batched = WeightedBCELoss(torch.tensor(weights))
    assert batched.pos_weight == tuple(weights)
    values, grads = _batched(batched, logits, targets)
    expected = [_each_row(WeightedBCELoss(w), logits[m : m + 1], targets[m : m + 1]) for m, w in enumerate(weights)]
    torch.testing.assert_close(values, torch.cat([v for v, _ in expected]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads, torch.cat([g for _, g in expected]), rtol=1e-12, atol=1e-12)
    assert "pos_weight=[0.5, 1, 4, 10, 2.5]" in repr(batched)
    with pytest.raises(ValueError, match="5 row weights"):
        batched(logits[0], targets[0])
    with pytest.raises(ValueError, match="5 row weights"):
        batched(logits[:3], targets[:3])
    for bad in ([], [1.0, -1.0], [1.0, float("nan")]):
        with pytest.raises(ValueError, match="pos_weight"):
            WeightedBCELoss(bad)


def test_rows_need_targets_of_their_shape():
    logits, targets = _rows()
    for loss in (BCELoss(), F1Loss()):
        with pytest.raises(ValueError, match="same shape"):
            loss(logits, targets[0])
        with pytest.raises(ValueError, match="shape of the logits"):
            loss.per_row(logits, targets[:, :3])
        with pytest.raises(ValueError, match=r"per_row needs logits of shape \(M, N\)"):
            loss.per_row(logits[0], targets[0])


def test_group_losses_groups_equal_configurations():
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0])
    wbce = [WeightedBCELoss().fit(y), WeightedBCELoss(7.0), WeightedBCELoss(reduction="sum").fit(y)]
    foreign = torch.nn.BCEWithLogitsLoss()
    losses = [F1Loss(), wbce[0], BCELoss(), F1Loss((0.5,)), wbce[1], F1Loss(), foreign, wbce[2], FBetaLoss(1.0)]
    losses.append(F1Loss(delta=0.2))  # a row parameter: one table per row
    groups = group_losses(losses)
    assert [positions for positions, _ in groups] == [[0, 5, 9], [1, 4], [2], [3], [6], [7], [8]]
    assert isinstance(groups[0][1], F1Loss) and groups[0][1].delta == (0.1, 0.1, 0.2)
    assert isinstance(groups[1][1], WeightedBCELoss) and groups[1][1].pos_weight == (1.5, 7.0)
    assert groups[3][1] is losses[3]
    assert group_losses([losses[0], losses[5]])[0][1] is losses[0]  # one delta: the loss as it is
    # A mixed group's rows follow their own losses; a module from elsewhere is called once per row.
    logits, targets = _rows()
    for positions, loss in groups:
        rows = logits[: len(positions)], targets[: len(positions)]
        expected = torch.stack([losses[i](z, t) for i, z, t in zip(positions, *rows, strict=True)])
        torch.testing.assert_close(loss.per_row(*rows), expected)

    same_metric = [MetricLoss(accuracy), MetricLoss(accuracy), MetricLoss(lambda *c: accuracy(*c))]
    assert [positions for positions, _ in group_losses(same_metric)] == [[0, 1], [2]]
    assert [positions for positions, _ in group_losses([FBetaLoss(2.0), FBetaLoss(1.0), FBetaLoss(2.0)])] == [
        [0, 2],
        [1],
    ]

    class Overriding(BCELoss):
        def forward(self, logits, targets, weights=None):
            return 2 * super().forward(logits, targets, weights)

    unresolved = WeightedBCELoss()
    assert Overriding().group_key() is None and unresolved.group_key() is None
    assert [positions for positions, _ in group_losses([Overriding(), Overriding()])] == [[0], [1]]


def test_batched_binned_kernel_gradcheck():
    table = BinnedTable(_heaviside_table(torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64), 0.1))
    generator = torch.Generator().manual_seed(5)
    # Keep samples off the breakpoints, where the piecewise-linear H has kinks.
    p = (0.02 + 0.96 * torch.rand(3, 12, generator=generator, dtype=torch.float64)).requires_grad_()
    y = (torch.rand(3, 12, generator=generator) < 0.4).double()
    y[0] = 0
    w = torch.rand(3, 12, generator=generator, dtype=torch.float64) + 0.5
    for weights in (None, w):
        assert torch.autograd.gradcheck(lambda q, weights=weights: binned_counts(q, y, weights, table), (p,))
        counts = binned_counts(p, y, weights, table)
        dense = _counts(_heaviside_apply(p, table.dense), y, weights)
        for got, want in zip(counts, dense, strict=True):
            assert got.shape == (3, 5)
            torch.testing.assert_close(got, want)
        for m in range(3):
            alone = binned_counts(p[m], y[m], None if weights is None else weights[m], table)
            for got, want in zip(counts, alone, strict=True):
                torch.testing.assert_close(got[m], want, rtol=1e-13, atol=1e-13)
