"""The one-node metric loss (``binned_metric_loss``): closed-form partials, gradcheck, and agreement with the
counts path through autograd."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from hfa.losses import AccuracyLoss, BalancedAccuracyLoss, F1Loss, FBetaLoss, MetricLoss
from hfa.losses import binned as binned_module
from hfa.losses.binned import BinnedTable, binned_counts, binned_metric_loss
from hfa.losses.heaviside import _heaviside_table
from hfa.losses.metrics import (
    accuracy,
    accuracy_partials,
    balanced_accuracy,
    balanced_accuracy_partials,
    fbeta,
    fbeta_partials,
)

PAIRS = [
    (partial(fbeta, beta=1.0), partial(fbeta_partials, beta=1.0)),
    (partial(fbeta, beta=2.0), partial(fbeta_partials, beta=2.0)),
    (partial(fbeta, beta=0.5), partial(fbeta_partials, beta=0.5)),
    (accuracy, accuracy_partials),
    (balanced_accuracy, balanced_accuracy_partials),
]


def _counts(seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tp, fn, fp, tn = (10 * torch.rand(3, 7, generator=generator, dtype=torch.float64) for _ in range(4))
    fn[0, 0] = tp[1, 1] = 0.0  # edge cases: no false negatives, no true positives
    return [tp, fp, fn, tn]


@pytest.mark.parametrize(("metric", "partials"), PAIRS)
def test_partials_are_the_metric_and_its_autograd_derivatives(metric, partials):
    counts = [c.requires_grad_() for c in _counts()]
    value, d_pos, d_neg = partials(*counts)
    expected = metric(*counts)
    torch.testing.assert_close(value, expected, rtol=1e-15, atol=0)
    grads = torch.autograd.grad(expected.sum(), counts, allow_unused=True)
    tp, fp, fn, tn = (torch.zeros_like(c) if g is None else g for g, c in zip(grads, counts, strict=True))
    torch.testing.assert_close(d_pos, tp - fn, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(d_neg, fp - tn, rtol=1e-12, atol=1e-15)


def _batch(n: int, rows: int | None, seed: int):
    generator = torch.Generator().manual_seed(seed)
    shape = (n,) if rows is None else (rows, n)
    y = (torch.rand(shape, generator=generator) < 0.35).double()
    z = (2 * torch.randn(shape, generator=generator, dtype=torch.float64) + y - 0.5).requires_grad_()
    w = torch.rand(shape, generator=generator, dtype=torch.float64) + 0.5
    return z, y, w


TABLE = BinnedTable(_heaviside_table(torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64), 0.1))


@pytest.mark.parametrize("rows", [None, 1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("metric", "partials"), PAIRS)
def test_one_node_loss_gradcheck_and_equals_the_counts_path(metric, partials, weighted, rows):
    z, y, w = _batch(25, rows, seed=3 * (rows or 0) + weighted)
    w = w if weighted else None
    # gradcheck perturbs logits by 1e-6; a sample within that of a breakpoint would see the kink, so none is.
    assert torch.autograd.gradcheck(lambda q: binned_metric_loss(q, y, w, TABLE, partials), (z,))
    fused = binned_metric_loss(z, y, w, TABLE, partials)
    (grad_fused,) = torch.autograd.grad(fused.sum(), z)
    reference = 1 - metric(*binned_counts(z, y, w, TABLE, logits=True)).mean(-1)
    (grad_reference,) = torch.autograd.grad(reference.sum(), z)
    assert fused.shape == reference.shape == (() if rows is None else (rows,))
    torch.testing.assert_close(fused, reference, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(grad_fused, grad_reference, rtol=1e-10, atol=1e-15)


def test_counts_from_logits_gradcheck():
    z, y, w = _batch(30, 2, seed=7)
    for weights in (None, w):
        assert torch.autograd.gradcheck(lambda q, weights=weights: binned_counts(q, y, weights, TABLE, True), (z,))


@pytest.mark.parametrize("loss_class", [F1Loss, FBetaLoss, AccuracyLoss, BalancedAccuracyLoss])
def test_modules_with_partials_equal_a_metric_loss_without(loss_class):
    loss = loss_class()
    assert loss.partials is not None
    plain = MetricLoss(loss.metric)  # the same metric through autograd
    z, y, w = _batch(200, 4, seed=11)
    for weights in (None, w):
        values = loss(z, y, weights)
        expected = plain(z, y, weights)
        torch.testing.assert_close(values, expected, rtol=1e-13, atol=1e-15)
        torch.testing.assert_close(
            torch.autograd.grad(values.sum(), z)[0], torch.autograd.grad(expected.sum(), z)[0], rtol=1e-10, atol=1e-15
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binary_search_and_lookup_table_give_the_same_bins(dtype, monkeypatch):
    grids = ([0.1 * i for i in range(1, 10)], [0.5, 0.5001, 0.5002, 0.5003, 0.3], [0.001, 0.999, 0.02])
    generator = torch.Generator().manual_seed(0)
    for grid in grids:
        table = BinnedTable(_heaviside_table(torch.tensor(grid, dtype=torch.float64), 0.1))
        edges = table.edges.to(dtype)
        # Uniform values, the breakpoints themselves and their float neighbours, and values outside [0, 1].
        p = torch.cat(
            (
                torch.rand(5000, generator=generator, dtype=dtype),
                edges,
                torch.nextafter(edges, torch.zeros_like(edges)),
                torch.nextafter(edges, torch.ones_like(edges)),
                torch.tensor([-0.5, 0.0, 1.0, 1.5], dtype=dtype),
            )
        )
        searched = table.bins(p)
        monkeypatch.setattr(binned_module, "_SEARCH_BELOW", 0)
        looked_up = table.bins(p)
        monkeypatch.undo()
        assert torch.equal(searched, looked_up)
        assert torch.equal(searched, (p[:, None] >= edges).sum(1))
