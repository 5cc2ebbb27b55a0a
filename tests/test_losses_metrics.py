"""Metric losses: hand-worked values, independent reference formulas, scikit-learn limits, gradients."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    fbeta_score,
    matthews_corrcoef,
    roc_auc_score,
)

from hfa.losses import (
    AUTHORS_THRESHOLDS,
    AccuracyLoss,
    AUROCLoss,
    BalancedAccuracyLoss,
    F1Loss,
    FBetaLoss,
    MCCLoss,
    accuracy,
    auroc,
    balanced_accuracy,
    build_loss,
    fbeta,
    mcc,
    soft_confusion,
)

F64 = torch.float64


def assert_close(actual, expected, rtol=1e-10, atol=1e-12):
    """Same dtype and shape, values within tolerance (torch.testing's first call costs ~2 s of imports)."""
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)


def logit(p):
    p = torch.as_tensor(p, dtype=F64)
    return torch.log(p) - torch.log1p(-p)


# ------------------------------------------------------------------------------------------ hand-worked case
# p = [0.9, 0.6, 0.3, 0.05], y = [1, 0, 1, 0], tau = 0.5, delta = 0.1: tm = 0.5, breakpoints 0.25 and 0.75.
#   H(0.9)  = 0.9 + (0.9 - 0.75) * 0.1 / 0.25 = 0.96     (right piece)
#   H(0.6)  = 0.5 + 0.1 * 0.8 / 0.5           = 0.66     (middle)
#   H(0.3)  = 0.5 - 0.2 * 0.8 / 0.5           = 0.18     (middle)
#   H(0.05) = 0.05 * 0.1 / 0.25               = 0.02     (left)
# TP = 0.96 + 0.18 = 1.14, FN = 0.04 + 0.82 = 0.86, FP = 0.66 + 0.02 = 0.68, TN = 0.34 + 0.98 = 1.32.
# F1 = 2.28 / (2.28 + 0.86 + 0.68) = 2.28 / 3.82;  F2 = 5.7 / (5.7 + 3.44 + 0.68) = 5.7 / 9.82
# accuracy = 2.46 / 4 = 0.615;  balanced accuracy = (1.14 / 2 + 1.32 / 2) / 2 = 0.615
# MCC = (1.14 * 1.32 - 0.68 * 0.86) / sqrt(1.82 * 2 * 2 * 2.18) = 0.92 / sqrt(15.8704)
# AUROC: points (0, 0), (FPR, TPR) = (0.34, 0.57), (1, 1): 0.34 * 0.57 / 2 + 0.66 * 1.57 / 2 = 0.615
HAND_P = [0.9, 0.6, 0.3, 0.05]
HAND_Y = [1, 0, 1, 0]
HAND_LOSSES = {
    "f1": 1 - 2.28 / 3.82,
    "fbeta": 1 - 5.7 / 9.82,
    "accuracy": 1 - 0.615,
    "balanced_accuracy": 1 - 0.615,
    "mcc": 1 - (0.92 / math.sqrt(15.8704) + 1) / 2,
    "auroc": 1 - 0.615,
}


def test_hand_worked_counts():
    counts = soft_confusion(torch.tensor(HAND_P, dtype=F64), torch.tensor(HAND_Y), [0.5], delta=0.1)
    assert [c.item() for c in counts] == pytest.approx([1.14, 0.68, 0.86, 1.32], abs=1e-12)


@pytest.mark.parametrize("name", sorted(HAND_LOSSES))
def test_hand_worked_losses(name):
    loss = build_loss(name, beta=2.0, thresholds=[0.5], delta=0.1)
    value = loss(logit(HAND_P), torch.tensor(HAND_Y))
    assert value.item() == pytest.approx(HAND_LOSSES[name], abs=1e-7)


# ------------------------------------------------------------------------- independent reference formulas
def ref_fbeta(tp, fp, fn, tn, beta):
    return (1 + beta**2) * tp / ((1 + beta**2) * tp + beta**2 * fn + fp)


def ref_accuracy(tp, fp, fn, tn):
    return (tp + tn) / (tp + fp + fn + tn)


def ref_balanced(tp, fp, fn, tn):
    return (tp / (tp + fn) + tn / (tn + fp)) / 2


def ref_mcc01(tp, fp, fn, tn):
    return ((tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) + 1) / 2


def ref_auroc(tp, fp, fn, tn):
    fpr = np.concatenate(([0.0], fp / (fp + tn), [1.0]))
    tpr = np.concatenate(([0.0], tp / (tp + fn), [1.0]))
    order = np.argsort(fpr, kind="stable")
    x, y = fpr[order], tpr[order]
    return np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)


REFERENCES = {
    "f1": lambda *c: ref_fbeta(*c, beta=1.0),
    "fbeta": lambda *c: ref_fbeta(*c, beta=2.0),
    "accuracy": ref_accuracy,
    "balanced_accuracy": ref_balanced,
    "mcc": ref_mcc01,
    "auroc": ref_auroc,
}


def batch(n, seed, rate=0.15, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < rate).to(torch.int64)
    y[0], y[1] = 1, 0  # both classes present: the reference formulas have no eps
    z = torch.randn(n, generator=g, dtype=F64) * scale + 1.5 * y
    return z, y


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("thresholds", [(0.5,), AUTHORS_THRESHOLDS, (0.15, 0.35, 0.62)])
@pytest.mark.parametrize(("approx", "delta"), [("heaviside", 0.1), ("heaviside", 0.3), ("sigmoid", 0.1)])
def test_metric_loss_is_one_minus_metric_of_soft_counts(name, thresholds, approx, delta):
    z, y = batch(200, len(thresholds))
    params = {"beta": 2.0, "thresholds": thresholds, "delta": delta, "approx": approx, "k": 12.0}
    counts = soft_confusion(torch.sigmoid(z), y, thresholds, delta=delta, approx=approx, k=12.0)
    per_threshold = REFERENCES[name](*(c.numpy() for c in counts))
    expected = 1 - np.mean(per_threshold)
    assert build_loss(name, **params)(z, y).item() == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_fbeta_at_one_is_f1():
    z, y = batch(300, 5)
    assert_close(FBetaLoss(beta=1.0)(z, y), F1Loss()(z, y))
    counts = soft_confusion(torch.sigmoid(z), y, AUTHORS_THRESHOLDS)
    assert_close(fbeta(*counts, beta=1.0), fbeta(*counts))


def test_fbeta_weighs_recall_with_large_beta():
    # All positives caught with many false positives: recall 1, precision low, so F-beta grows with beta.
    tp, fp, fn, tn = (torch.tensor([v], dtype=F64) for v in (10.0, 40.0, 0.0, 50.0))
    values = [fbeta(tp, fp, fn, tn, beta=b).item() for b in (0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values)
    assert values[1] == pytest.approx(20 / 60)


def test_raw_mcc_and_rescaled_agree():
    tp, fp, fn, tn = (torch.tensor([v], dtype=F64) for v in (30.0, 5.0, 10.0, 55.0))
    raw = mcc(tp, fp, fn, tn, rescale=False).item()
    assert raw == pytest.approx((30 * 55 - 5 * 10) / math.sqrt(35 * 40 * 60 * 65))
    assert mcc(tp, fp, fn, tn).item() == pytest.approx((raw + 1) / 2)


def test_metrics_of_hard_counts_match_sklearn_definitions():
    g = torch.Generator().manual_seed(11)
    y = (torch.rand(400, generator=g) < 0.3).numpy().astype(int)
    pred = (torch.rand(400, generator=g) < 0.35).numpy().astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred).ravel()
    counts = [torch.tensor([float(v)], dtype=F64) for v in (tp, fp, fn, tn)]
    assert fbeta(*counts).item() == pytest.approx(f1_score(y, pred))
    assert fbeta(*counts, beta=3.0).item() == pytest.approx(fbeta_score(y, pred, beta=3.0))
    assert accuracy(*counts).item() == pytest.approx(accuracy_score(y, pred))
    assert balanced_accuracy(*counts).item() == pytest.approx(balanced_accuracy_score(y, pred))
    assert mcc(*counts, rescale=False).item() == pytest.approx(matthews_corrcoef(y, pred))


# ------------------------------------------------------------------------------------------------ AUROC
def test_auroc_of_exact_counts_is_sklearn_roc_auc():
    # Scores on a coarse lattice (with ties); one threshold between each pair of neighbouring values makes every
    # ROC vertex appear, and sklearn's AUC is the trapezoid through exactly those vertices.
    g = torch.Generator().manual_seed(3)
    y = (torch.rand(500, generator=g) < 0.25).numpy().astype(int)
    scores = np.clip(np.round((torch.randn(500, generator=g).numpy() + y) * 4) / 20 + 0.5, 0.0, 1.0)
    values = np.unique(scores)
    thresholds = (values[1:] + values[:-1]) / 2
    predicted = scores[None, :] >= thresholds[:, None]
    counts = [
        torch.tensor(c, dtype=F64)
        for c in (
            (predicted & (y == 1)).sum(1),
            (predicted & (y == 0)).sum(1),
            (~predicted & (y == 1)).sum(1),
            (~predicted & (y == 0)).sum(1),
        )
    ]
    result = auroc(*counts)
    assert result.shape == (1,)
    assert result.item() == pytest.approx(roc_auc_score(y, scores), abs=1e-8)  # EPS in TPR, FPR


@pytest.mark.parametrize("separation", [0.5, 1.0, 2.0])
def test_auroc_loss_with_a_sharp_step_and_a_fine_grid_approaches_sklearn(separation):
    z, y = batch(2000, 8, rate=0.3, scale=1.0)
    z = z - 1.5 * y + separation * (2 * y - 1)
    grid = torch.linspace(0, 1, 1001, dtype=F64)[1:-1]
    reference = roc_auc_score(y.numpy(), z.numpy())
    sharp = 1 - AUROCLoss(thresholds=grid, approx="sigmoid", k=1e4)(z, y).item()
    assert sharp == pytest.approx(reference, abs=2e-4)


def test_heaviside_auroc_loss_is_exact_when_no_score_falls_in_a_ramp():
    # The Heaviside ramp around each threshold is min(tau, 1 - tau) wide whatever delta; scores outside every
    # ramp of the authors' grid (all ramps lie in [0.05, 0.95]) see a step as delta -> 0.
    g = torch.Generator().manual_seed(4)
    y = (torch.rand(300, generator=g) < 0.4).to(torch.int64)
    p = torch.where(torch.rand(300, generator=g) < 0.2 + 0.6 * y, 0.98, 0.02).to(F64)
    reference = roc_auc_score(y.numpy(), p.numpy())
    for delta, tolerance in ((1e-2, 2e-2), (1e-4, 2e-4), (1e-6, 2e-6)):
        value = 1 - AUROCLoss(delta=delta)(logit(p), y).item()
        assert value == pytest.approx(reference, abs=tolerance)


def test_auroc_is_order_free_in_thresholds():
    z, y = batch(300, 9)
    shuffled = [0.7, 0.1, 0.9, 0.3, 0.5, 0.2, 0.8, 0.4, 0.6]
    assert_close(AUROCLoss(thresholds=shuffled)(z, y), AUROCLoss()(z, y))


# ------------------------------------------------------------------------------------------- gradients
# Probabilities at least 0.025 from every breakpoint of the authors' grid (0.05, 0.1, ..., 0.95), distinct, so the
# finite differences of gradcheck never straddle a kink and the AUROC's FPR order is stable.
SMOOTH_P = [0.02, 0.125, 0.175, 0.275, 0.35, 0.425, 0.5, 0.575, 0.65, 0.725, 0.825, 0.875, 0.925, 0.98]
SMOOTH_Y = [1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0]
METRIC_LOSSES = ["f1", "fbeta", "accuracy", "balanced_accuracy", "mcc", "auroc"]


@pytest.mark.parametrize("name", METRIC_LOSSES)
@pytest.mark.parametrize("approx", ["heaviside", "sigmoid"])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradcheck_metric_losses(name, approx, weighted):
    loss = build_loss(name, beta=2.0, approx=approx)
    z = logit(SMOOTH_P).requires_grad_()
    y = torch.tensor(SMOOTH_Y)
    w = torch.linspace(0.5, 2.0, len(SMOOTH_P), dtype=F64) if weighted else None
    assert torch.autograd.gradcheck(lambda logits: loss(logits, y, w), (z,), eps=1e-6, atol=1e-7)


def degenerate_batches():
    n = 12
    z = torch.linspace(-3, 3, n, dtype=F64)
    return {
        "no positives": (z, torch.zeros(n)),
        "all positives": (z, torch.ones(n)),
        "all at tau": (torch.zeros(n, dtype=F64), torch.tensor([1, 0] * (n // 2))),
        "all at tau, one class": (torch.zeros(n, dtype=F64), torch.zeros(n)),
        "saturated": (torch.tensor([-800.0, 800.0] * (n // 2), dtype=F64), torch.tensor([1, 0] * (n // 2))),
        "single sample": (torch.tensor([0.3], dtype=F64), torch.tensor([1])),
    }


@pytest.mark.parametrize("name", METRIC_LOSSES)
@pytest.mark.parametrize("case", list(degenerate_batches()))
def test_degenerate_batches_give_finite_losses_and_gradients(name, case):
    for dtype in (torch.float32, torch.float64):
        for thresholds in ((0.5,), AUTHORS_THRESHOLDS):
            z, y = degenerate_batches()[case]
            z = z.to(dtype).requires_grad_()
            value = build_loss(name, thresholds=thresholds)(z, y)
            value.backward()
            assert torch.isfinite(value), (dtype, thresholds)
            assert 0 <= value.item() <= 1, (dtype, thresholds)
            assert bool(torch.isfinite(z.grad).all()), (dtype, thresholds)


def test_degenerate_values_are_the_documented_ones():
    z = torch.linspace(-3, 3, 12, dtype=F64)
    no_pos = torch.zeros(12)
    assert F1Loss()(z, no_pos).item() == pytest.approx(1.0)  # TP = 0: F1 = 0
    assert MCCLoss()(z, no_pos).item() == pytest.approx(0.5)  # MCC = 0, rescaled 0.5
    assert BalancedAccuracyLoss()(z, no_pos).item() >= 0.5  # the missing class contributes 0
    assert AccuracyLoss()(z, torch.ones(12)).item() == pytest.approx(
        1 - soft_confusion(torch.sigmoid(z), torch.ones(12), AUTHORS_THRESHOLDS)[0].mean().item() / 12
    )
