r"""Loss modules: ``loss(logits, targets, weights=None)``, like ``torch.nn`` losses.

Inputs are logits of shape ``(N,)`` or ``(N, 1)`` and targets in {0, 1} (``N`` values, any float/int/bool dtype);
the result follows the logits' dtype and device. Every loss has ``fit(train_targets)`` returning ``self``, so a
training loop can call it unconditionally: only :class:`WeightedBCELoss` with ``pos_weight="auto"`` uses it.

Metric losses (:class:`MetricLoss` and its subclasses) are ``1 - mean_t M(TP_t, FP_t, FN_t, TN_t)`` over a threshold
grid, computed from the soft confusion matrix of the whole batch: they are batch-level by nature and take no
``reduction``. The per-sample losses (:class:`BCELoss`, :class:`WeightedBCELoss`, :class:`FocalLoss`) take
``reduction`` in ``'mean' | 'sum' | 'none'``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hfa.errors import HfaError
from hfa.losses._checks import (
    APPROXIMATIONS,
    REDUCTIONS,
    check_choice,
    check_closed,
    check_delta,
    check_non_negative,
    check_pos_weight,
    check_positive,
    check_thresholds,
    per_sample,
)
from hfa.losses.binned import BinnedTable
from hfa.losses.confusion import _counts, heaviside_counts
from hfa.losses.heaviside import _heaviside_table, _sigmoid_step
from hfa.losses.metrics import accuracy, auroc, balanced_accuracy, fbeta, mcc

__all__ = [
    "AUTHORS_THRESHOLDS",
    "AUROCLoss",
    "AccuracyLoss",
    "BCELoss",
    "BalancedAccuracyLoss",
    "F1Loss",
    "FBetaLoss",
    "FocalLoss",
    "MCCLoss",
    "MetricLoss",
    "WeightedBCELoss",
]

AUTHORS_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""The threshold grid Tsoi et al. average their metric losses over."""

Metric = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def _logit_vector(logits: Tensor) -> Tensor:
    if logits.dim() == 1:
        return logits
    if logits.dim() == 2 and logits.shape[1] == 1:
        return logits.reshape(-1)
    raise ValueError(f"logits must have shape (N,) or (N, 1), got {tuple(logits.shape)}")


def _targets_like(targets: Tensor, z: Tensor) -> Tensor:
    return per_sample("targets", targets, z.numel()).to(z.dtype)


class _Loss(nn.Module):
    def fit(self, train_targets: object) -> _Loss:
        """Adapt to the training labels (a no-op here); returns ``self``."""
        del train_targets  # the uniform interface: only WeightedBCELoss("auto") needs the labels
        return self


class _PerSampleLoss(_Loss):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)

    def _reduce(self, losses: Tensor, weights: Tensor | None) -> Tensor:
        if weights is not None:
            losses = losses * per_sample("weights", weights, losses.numel()).to(losses.dtype)
        if self.reduction == "mean":
            return losses.mean()
        if self.reduction == "sum":
            return losses.sum()
        return losses

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MetricLoss(_Loss):
    r"""``1 - mean_t metric(TP_t, FP_t, FN_t, TN_t)`` on the soft confusion matrix of the batch.

    ``probs = sigmoid(logits)``; the counts come from :func:`~hfa.losses.soft_confusion` at every threshold of the
    grid; ``metric`` maps ``(tp, fp, fn, tn)`` (each ``(T,)``) to values in [0, 1] of shape ``(T,)`` (averaged) or
    ``(1,)`` (a curve summary such as AUROC). The loss is a scalar for the whole batch (no ``reduction``).

    Args:
        metric: function of the counts, higher is better, e.g. :func:`~hfa.losses.accuracy`.
        thresholds: non-empty sequence (or 1-D tensor) of thresholds in (0, 1); default the authors' 0.1..0.9.
        delta: slope parameter of the Heaviside approximation, in (0, 0.5).
        approx: ``"heaviside"`` (piecewise linear, Tsoi et al.) or ``"sigmoid"``.
        k: slope of the sigmoid approximation (``approx="sigmoid"`` only), > 0.
    """

    def __init__(
        self,
        metric: Metric,
        thresholds: Sequence[float] | Tensor = AUTHORS_THRESHOLDS,
        delta: float = 0.1,
        approx: str = "heaviside",
        k: float = 10.0,
    ) -> None:
        super().__init__()
        self.metric = metric
        checked = check_thresholds(thresholds)
        # float64 keeps the grid exact until forward casts it to the logits' dtype; non-persistent so a loss
        # never adds keys to a state dict.
        tau = torch.as_tensor(checked, dtype=torch.float64).detach().reshape(-1).clone()
        self.register_buffer("thresholds", tau, persistent=False)
        self.delta = check_delta(delta)
        self.approx = check_choice("approx", approx, APPROXIMATIONS)
        self.k = check_positive("k", k)
        # The Heaviside constants depend only on the grid and delta: computed once, not per batch.
        self._binned = BinnedTable(_heaviside_table(tau, self.delta))

    def counts(
        self, logits: Tensor, targets: Tensor, weights: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The soft ``(tp, fp, fn, tn)`` this loss is computed from, each of shape ``(T,)``."""
        probs = torch.sigmoid(_logit_vector(logits))
        if self.approx == "heaviside":
            return heaviside_counts(probs, targets, weights, self._binned)
        return _counts(_sigmoid_step(probs, self.thresholds, self.k), targets, weights)

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        return 1 - self.metric(*self.counts(logits, targets, weights)).mean()

    def extra_repr(self) -> str:
        grid = ", ".join(f"{t:g}" for t in self.thresholds.tolist())
        step = f"delta={self.delta:g}" if self.approx == "heaviside" else f"k={self.k:g}"
        return f"thresholds=[{grid}], approx={self.approx!r}, {step}"


class FBetaLoss(MetricLoss):
    r"""``1 - mean_t F_beta``, :math:`F_\beta = (1+\beta^2) TP / ((1+\beta^2) TP + \beta^2 FN + FP)`.

    ``beta > 1`` weighs recall more than precision. Other arguments as :class:`MetricLoss`.
    """

    def __init__(
        self,
        beta: float = 1.0,
        thresholds: Sequence[float] | Tensor = AUTHORS_THRESHOLDS,
        delta: float = 0.1,
        approx: str = "heaviside",
        k: float = 10.0,
    ) -> None:
        beta = check_positive("beta", beta)
        super().__init__(partial(fbeta, beta=beta), thresholds, delta, approx, k)
        self.beta = beta

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}, {super().extra_repr()}"


class _GridMetricLoss(MetricLoss):
    """A :class:`MetricLoss` whose metric is fixed by the subclass (``_metric_fn``); the rest as MetricLoss."""

    _metric_fn: Metric

    def __init__(
        self,
        thresholds: Sequence[float] | Tensor = AUTHORS_THRESHOLDS,
        delta: float = 0.1,
        approx: str = "heaviside",
        k: float = 10.0,
    ) -> None:
        super().__init__(type(self)._metric_fn, thresholds, delta, approx, k)


class F1Loss(_GridMetricLoss):
    r"""``1 - mean_t F1``, :math:`F_1 = 2 TP / (2 TP + FN + FP)`: :class:`FBetaLoss` with ``beta = 1``."""

    _metric_fn = staticmethod(fbeta)  # beta defaults to 1
    beta = 1.0


class AccuracyLoss(_GridMetricLoss):
    r"""``1 - mean_t (TP + TN) / (TP + FP + FN + TN)``. Arguments as :class:`MetricLoss`."""

    _metric_fn = staticmethod(accuracy)


class BalancedAccuracyLoss(_GridMetricLoss):
    r"""``1 - mean_t (TP/(TP+FN) + TN/(TN+FP)) / 2``. Arguments as :class:`MetricLoss`."""

    _metric_fn = staticmethod(balanced_accuracy)


class MCCLoss(_GridMetricLoss):
    r"""``1 - mean_t (MCC + 1) / 2`` (Matthews correlation rescaled to [0, 1]). Arguments as :class:`MetricLoss`."""

    _metric_fn = staticmethod(mcc)


class AUROCLoss(_GridMetricLoss):
    r"""``1 - AUROC``, the trapezoid area under the soft ROC points of the threshold grid plus (0, 0), (1, 1).

    See :func:`~hfa.losses.auroc`; a finer grid gives a finer curve. Arguments as :class:`MetricLoss`.
    """

    _metric_fn = staticmethod(auroc)


class BCELoss(_PerSampleLoss):
    r"""Binary cross-entropy on logits: :math:`\ell_i = -(y_i \log s(z_i) + (1 - y_i) \log(1 - s(z_i)))`.

    Computed stably by :func:`torch.nn.functional.binary_cross_entropy_with_logits`; optional per-sample weights
    multiply :math:`\ell_i` before the reduction.
    """

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        z = _logit_vector(logits)
        losses = F.binary_cross_entropy_with_logits(z, _targets_like(targets, z), reduction="none")
        return self._reduce(losses, weights)


class WeightedBCELoss(_PerSampleLoss):
    r"""BCE with positives weighted (Rezaei-Dastjerdehei et al.).

    .. math::

        \ell_i = -(w_{pos}\, y_i \log s(z_i) + (1 - y_i) \log(1 - s(z_i)))

    Args:
        pos_weight: a number > 0 taken as given, or ``"auto"``: :math:`w_{pos} = \#neg / \#pos` of the training
            labels, resolved by :meth:`fit` (forward raises until then).
        reduction: ``'mean' | 'sum' | 'none'``.
    """

    pos_weight: float | None
    """The resolved weight of positives; ``None`` while ``"auto"`` awaits :meth:`fit`."""

    def __init__(self, pos_weight: float | str = "auto", reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.auto = pos_weight == "auto" if isinstance(pos_weight, str) else False
        self.pos_weight = None if self.auto else check_pos_weight(pos_weight)

    def fit(self, train_targets: object) -> WeightedBCELoss:
        """Resolve ``pos_weight="auto"`` to ``#negatives / #positives`` of ``train_targets``; returns ``self``.

        ``train_targets`` is anything array-like of labels in {0, 1}. A number given at construction is kept.

        Raises:
            HfaError: if ``"auto"`` and the labels lack positives or negatives (the ratio would be infinite or 0).
        """
        if not self.auto:
            return self
        labels = train_targets if isinstance(train_targets, Tensor) else torch.as_tensor(np.asarray(train_targets))
        positives = int((labels.reshape(-1) != 0).sum())
        negatives = labels.numel() - positives
        if positives == 0 or negatives == 0:
            raise HfaError(
                f"pos_weight='auto' needs both classes in the training labels "
                f"(got {positives} positives, {negatives} negatives); give pos_weight as a number"
            )
        self.pos_weight = negatives / positives
        return self

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        if self.pos_weight is None:
            raise RuntimeError(
                "WeightedBCELoss(pos_weight='auto') is unresolved: call .fit(train_targets) first, "
                "or pass pos_weight as a number"
            )
        z = _logit_vector(logits)
        losses = F.binary_cross_entropy_with_logits(
            z,
            _targets_like(targets, z),
            pos_weight=torch.tensor(self.pos_weight, dtype=z.dtype, device=z.device),
            reduction="none",
        )
        return self._reduce(losses, weights)

    def extra_repr(self) -> str:
        weight = "unfitted" if self.pos_weight is None else f"{self.pos_weight:g}"
        return f"pos_weight={weight}{' (auto)' if self.auto else ''}, {super().extra_repr()}"


class FocalLoss(_PerSampleLoss):
    r"""Focal loss (Lin et al.) on logits, for targets in {0, 1}.

    .. math::

        \ell_i = -\alpha_t (1 - p_t)^\gamma \log p_t, \quad
        p_t = \begin{cases} s(z_i) & y_i = 1 \\ 1 - s(z_i) & y_i = 0 \end{cases}, \quad
        \alpha_t = \begin{cases} \alpha & y_i = 1 \\ 1 - \alpha & y_i = 0 \end{cases}

    computed in log space (:math:`\log p_t = \log s(\pm z)`, :math:`(1 - p_t)^\gamma = e^{\gamma \log s(\mp z)}`),
    so it is finite with finite gradients for any logit and any :math:`\gamma \ge 0`. ``gamma = 0`` and
    ``alpha = 0.5`` give half the BCE.

    Args:
        alpha: weight of positives in [0, 1] (negatives get ``1 - alpha``).
        gamma: focusing exponent >= 0; larger down-weights well-classified samples more.
        reduction: ``'mean' | 'sum' | 'none'``.
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.alpha = check_closed("alpha", alpha, 0.0, 1.0)
        self.gamma = check_non_negative("gamma", gamma)

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        z = _logit_vector(logits)
        y = _targets_like(targets, z)
        signed = (2 * y - 1) * z  # +z for positives, -z for negatives: p_t = s(signed)
        log_pt = F.logsigmoid(signed)
        modulation = torch.exp(self.gamma * F.logsigmoid(-signed))
        alpha_t = self.alpha * y + (1 - self.alpha) * (1 - y)
        return self._reduce(-alpha_t * modulation * log_pt, weights)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, gamma={self.gamma:g}, {super().extra_repr()}"
