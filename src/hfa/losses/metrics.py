r"""Confusion-matrix metrics as differentiable functions of (soft) counts.

Each function takes ``tp, fp, fn, tn`` of shape ``(T,)`` (one entry per threshold, as returned by
:func:`~hfa.losses.soft_confusion`) and returns a metric in [0, 1], higher is better: shape ``(T,)``, except
:func:`auroc`, which integrates over the thresholds and returns shape ``(1,)``. A metric loss is ``1 - mean``.
Leading axes broadcast: counts of shape ``(M, T)`` (one row per independent batch) give ``(M, T)``, or ``(M, 1)``
for :func:`auroc`.

The ``*_partials`` functions return ``(value, d_pos, d_neg)``: the metric and its derivatives along the two ways
one sample moves the counts. Raising a positive's score moves soft weight from FN to TP, so
``d_pos = dV/dTP - dV/dFN``; raising a negative's moves it from TN to FP, so ``d_neg = dV/dFP - dV/dTN``. With them
a metric loss needs no autograd graph of its own (:func:`hfa.losses.binned.binned_metric_loss`).

Every denominator has :data:`EPS` added, so a batch without positives or without predicted positives gives a finite
value and finite gradients (a ratio whose numerator and denominator are both 0 then reads 0). Counts are in units of
samples (or of the per-sample weights), so :data:`EPS` is negligible unless the weights themselves are tiny.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hfa.losses._checks import check_positive
from hfa.operands import operand

__all__ = [
    "EPS",
    "accuracy",
    "accuracy_partials",
    "auroc",
    "balanced_accuracy",
    "balanced_accuracy_partials",
    "fbeta",
    "fbeta_partials",
    "mcc",
]

EPS = 1e-7


def fbeta(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float = 1.0) -> Tensor:
    r"""F-beta: :math:`(1+\beta^2) TP / ((1+\beta^2) TP + \beta^2 FN + FP)`; ``beta > 1`` favours recall."""
    del tn  # F-beta ignores true negatives; kept in the signature so every metric is called alike.
    b2 = check_positive("beta", beta) ** 2
    return (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + EPS)


def fbeta_partials(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    r""":func:`fbeta` and its derivatives along a positive's and a negative's move (see the module docstring).

    With :math:`a = 1 + \beta^2` and :math:`D = a TP + \beta^2 FN + FP + \epsilon`:
    :math:`\partial F/\partial TP - \partial F/\partial FN = a (D - TP) / D^2` and
    :math:`\partial F/\partial FP - \partial F/\partial TN = -a TP / D^2`.
    """
    del tn
    b2 = check_positive("beta", beta) ** 2
    a = operand(1 + b2, tp)  # 0-d tensors, not numbers: the same arithmetic without a copy per call (hfa.operands)
    numerator = a * tp
    denominator = (numerator + (fn if b2 == 1 else b2 * fn)) + fp + operand(EPS, tp)
    scale = (denominator * denominator).reciprocal_().mul_(a)
    return numerator / denominator, (denominator - tp).mul_(scale), (tp * scale).neg_()


def accuracy(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    r"""Accuracy: :math:`(TP + TN) / (TP + FP + FN + TN)`."""
    return (tp + tn) / (tp + fp + fn + tn + EPS)


def accuracy_partials(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`accuracy` and its derivatives along a positive's and a negative's move: ``+1/D`` and ``-1/D``."""
    denominator = tp + fp + fn + tn + EPS
    inverse = 1 / denominator
    return (tp + tn) / denominator, inverse, -inverse


def balanced_accuracy(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    r"""Balanced accuracy: :math:`\tfrac12 (TP / (TP + FN) + TN / (TN + FP))`.

    A class absent from the batch contributes 0 to the mean, so such a batch scores at most 1/2.
    """
    return 0.5 * (tp / (tp + fn + EPS) + tn / (tn + fp + EPS))


def balanced_accuracy_partials(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`balanced_accuracy` and its derivatives along a positive's and a negative's move.

    They are ``0.5 / (TP + FN + EPS)`` and ``-0.5 / (TN + FP + EPS)``: a sample moves only its own class's rate.
    """
    positives, negatives = tp + fn + EPS, tn + fp + EPS
    return 0.5 * (tp / positives + tn / negatives), 0.5 / positives, -0.5 / negatives


def mcc(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, rescale: bool = True) -> Tensor:
    r"""Matthews correlation, by default rescaled to [0, 1] as :math:`(MCC + 1) / 2`.

    .. math::

        MCC = \frac{TP \cdot TN - FP \cdot FN}{\sqrt{(TP + FP)(TP + FN)(TN + FP)(TN + FN)}}

    Args:
        rescale: return :math:`(MCC + 1)/2` in [0, 1] (what the loss uses); ``False`` gives MCC in [-1, 1].
    """
    # Two square roots of pair products instead of one of the four-fold product: no overflow before counts
    # reach ~1e19 in float32. clamp_min(0) absorbs the -1e-7-sized rounding that FN/TN, obtained by subtraction
    # in soft_confusion, can carry; a negative under the root would be NaN.
    left = torch.sqrt(((tp + fp) * (tn + fn)).clamp_min(0) + EPS)
    right = torch.sqrt(((tp + fn) * (tn + fp)).clamp_min(0) + EPS)
    value = (tp * tn - fp * fn) / (left * right)
    return (value + 1) / 2 if rescale else value


def auroc(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor) -> Tensor:
    r"""Area under the ROC curve traced by the thresholds, shape ``(1,)`` (``(M, 1)`` for ``(M, T)`` counts).

    The ROC points are :math:`(FPR_t, TPR_t) = (FP/(FP+TN), TP/(TP+FN))` at each threshold, plus the end points
    (0, 0) and (1, 1); they are sorted by FPR and integrated with the trapezoid rule, as Tsoi et al. do.

    With hard counts at thresholds between all distinct scores this is exactly
    :func:`sklearn.metrics.roc_auc_score`. With soft counts the threshold grid sets the resolution and the step
    approximation the smoothing: the sigmoid step with a large ``k`` on a fine grid approaches the exact AUROC,
    while the Heaviside approximation keeps a linear ramp of width ``min(tau, 1 - tau)`` around each threshold
    whatever ``delta``, so for overlapping classes it stays below the exact AUROC even as ``delta -> 0``.
    """
    tpr = tp / (tp + fn + EPS)
    fpr = fp / (fp + tn + EPS)
    zero, one = tpr.new_zeros(*tpr.shape[:-1], 1), tpr.new_ones(*tpr.shape[:-1], 1)
    fpr = torch.cat((zero, fpr, one), -1)
    tpr = torch.cat((zero, tpr, one), -1)
    # Stable sort keeps (0, 0) first and (1, 1) last among points tied on FPR.
    order = torch.argsort(fpr.detach(), dim=-1, stable=True)
    return torch.trapezoid(tpr.gather(-1, order), fpr.gather(-1, order), dim=-1).unsqueeze(-1)
