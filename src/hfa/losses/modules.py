r"""Loss modules: ``loss(logits, targets, weights=None)``, like ``torch.nn`` losses.

Inputs are logits of shape ``(N,)`` or ``(N, 1)`` and targets in {0, 1} (``N`` values, any float/int/bool dtype;
soft labels in [0, 1] too); the result follows the logits' dtype and device. ``forward`` and ``counts`` check their
inputs (tensors, else ``TypeError``; targets in [0, 1], else ``HfaError``); ``per_row`` and ``value_and_grad``, the
training path, do not (a check reads the targets back: a device sync per step on a GPU).

Every loss has ``fit(train_targets)`` returning ``self``, so a training loop can call it unconditionally: only
:class:`WeightedBCELoss` with ``pos_weight="auto"`` uses it.

Rows: logits of shape ``(M, N)`` with ``N > 1``, and targets (and weights) of the same shape, are ``M`` independent
batches, and the loss is ``(M,)``, row ``m`` equal to the loss of ``(logits[m], targets[m])`` up to rounding (with
``reduction='none'``: ``(M, N)``). An ``(M, 1)`` input is read as ``(N, 1)``; :meth:`per_row` always reads rows.
Many runs trained as one stack use this to evaluate one loss for all the runs that share its configuration:
:func:`group_losses` finds those groups, and :class:`WeightedBCELoss` takes one ``pos_weight`` per row.

Metric losses (:class:`MetricLoss` and its subclasses) are ``1 - mean_t M(TP_t, FP_t, FN_t, TN_t)`` over a threshold
grid, computed from the soft confusion matrix of the whole batch: they are batch-level by nature and take no
``reduction``. The per-sample losses (:class:`BCELoss`, :class:`WeightedBCELoss`, :class:`FocalLoss`) take
``reduction`` in ``'mean' | 'sum' | 'none'``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Sequence
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
    check_inputs,
    check_non_negative,
    check_pos_weight,
    check_positive,
    check_thresholds,
)
from hfa.losses.binned import (
    BinnedTable,
    Partials,
    binned_counts,
    binned_metric_loss,
    binned_metric_value_and_grad,
    logistic,
)
from hfa.losses.confusion import _counts, _like, heaviside_counts
from hfa.losses.heaviside import _heaviside_table, _sigmoid_step
from hfa.losses.metrics import (
    accuracy,
    accuracy_partials,
    auroc,
    balanced_accuracy,
    balanced_accuracy_partials,
    fbeta,
    fbeta_partials,
    mcc,
)
from hfa.operands import operand

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
    "group_losses",
]

AUTHORS_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""The threshold grid Tsoi et al. average their metric losses over."""

Metric = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def _logits(logits: Tensor, targets: Tensor | None = None) -> Tensor:
    """``(N,)`` logits as they are, ``(N, 1)`` flattened, ``(M, N)`` rows (with targets of that shape) as they are."""
    if logits.dim() == 1:
        return logits
    if logits.dim() == 2 and logits.shape[1] == 1:
        return logits.reshape(-1)
    if logits.dim() == 2 and (targets is None or targets.shape == logits.shape):
        return logits
    given = "" if targets is None else f" with targets of shape {tuple(targets.shape)}"
    raise ValueError(
        f"logits must have shape (N,) or (N, 1), or (M, N) with targets of the same shape; "
        f"got {tuple(logits.shape)}{given}"
    )


def value_and_grad(
    per_row: Callable[..., Tensor], logits: Tensor, targets: Tensor, weights: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """``per_row(logits, targets[, weights])`` (``(M,)``, detached) and the gradient of its sum at ``logits``,
    by autograd: what any loss module with a ``per_row`` gives (see :meth:`_Loss.value_and_grad`)."""
    with torch.enable_grad():
        leaf = logits.detach().requires_grad_()
        losses = per_row(leaf, targets) if weights is None else per_row(leaf, targets, weights)
        (grad,) = torch.autograd.grad(losses.sum(), leaf)
    return losses.detach(), grad


class _Loss(nn.Module):
    def fit(self, train_targets: object) -> _Loss:
        """Adapt to the training labels (a no-op here); returns ``self``."""
        del train_targets  # the uniform interface: only WeightedBCELoss("auto") needs the labels
        return self

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        check_inputs(f"{type(self).__name__}()", ("logits", logits), targets, weights)
        return self._compute(_logits(logits, targets), targets, weights)

    def per_row(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        """The loss of each row of ``(M, N)`` logits against ``(M, N)`` targets (and weights): shape ``(M,)``.

        As ``forward`` on rows, but an ``(M, 1)`` input is ``M`` rows of one sample, not one batch of ``M``.
        """
        if logits.dim() != 2:
            raise ValueError(f"per_row needs logits of shape (M, N), got {tuple(logits.shape)}")
        return self._compute(logits, targets, weights)

    def _compute(self, z: Tensor, targets: Tensor, weights: Tensor | None) -> Tensor:
        raise NotImplementedError

    def value_and_grad(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``per_row(logits, targets, weights)`` and the gradient of its sum at ``logits``: a training step's two
        needs, without the caller building a graph. Losses with a closed form (BCE, weighted BCE, the Heaviside
        metric losses) compute the very operations autograd would, so the gradient is autograd's, bit for bit."""
        return value_and_grad(self.per_row, logits, targets, weights)

    def _group_params(self) -> tuple:
        """What, besides the class and :meth:`_row_params`, decides the function a row computes (see
        :meth:`group_key`)."""
        raise NotImplementedError

    def _row_params(self) -> tuple:
        """The parameters :meth:`for_group` can hold one per row, so losses differing only in them share a group (a
        tuning study's trials often differ only there); a group holds them as tuples."""
        return ()

    _row_owner: type | None = None
    """The class whose methods read a group's per-row parameters (see :meth:`_holds_rows`)."""

    def _holds_rows(self) -> bool:
        """Whether a group may hold :meth:`_row_params` one per row: only where every method that reads them is
        :attr:`_row_owner`'s own (a subclass overriding one may read them as numbers)."""
        owner = self._row_owner
        return owner is not None and all(_defined(type(self), name) is _defined(owner, name) for name in _ROW_READERS)

    def group_key(self) -> Hashable | None:
        """Losses with equal keys compute the same function of a row up to :meth:`_row_params`, so one
        :meth:`for_group` call serves them all.

        ``None``: this loss evaluates alone (a subclass that overrides ``forward``, whose rows this class cannot
        vouch for, a :class:`WeightedBCELoss` still unresolved, or a group already holding parameters per row).
        """
        if type(self).forward is not _Loss.forward:
            return None
        rows = self._row_params()
        if any(isinstance(value, tuple) for value in rows):
            return None
        return (type(self), *self._group_params(), *(() if self._holds_rows() else rows))

    @classmethod
    def for_group(cls, losses: Sequence[_Loss]) -> _Loss:
        """One loss whose :meth:`per_row` row ``j`` computes ``losses[j]`` (all with the same :meth:`group_key`)."""
        return losses[0]


_ROW_READERS = (
    "_compute",
    "_soft_counts",
    "_elementwise",
    "_constants",
    "per_row",
    "value_and_grad",
    "for_group",
    "_row_params",
    "_group_params",
)


def _defined(cls: type, name: str) -> object:
    """The attribute ``name`` as the class that defines it for ``cls`` holds it (a classmethod itself, not a new
    bound method on every access), or ``None``."""
    return next((klass.__dict__[name] for klass in cls.__mro__ if name in klass.__dict__), None)


class _PerSampleLoss(_Loss):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)
        self._upstreams: dict[tuple, tuple[Tensor, Tensor]] = {}

    def _upstream(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The gradient the rows' summed losses send each sample of ``(M, N)`` logits before sample weights (ones,
        over N for the mean, as MeanBackward divides), and its negation: constants of the shape, made once."""
        key = (z.shape, z.dtype, z.device, self.reduction)
        if key not in self._upstreams:
            upstream = z.new_ones(z.shape[0], 1).expand(z.shape)
            if self.reduction == "mean":
                upstream = upstream / z.shape[-1]
            self._upstreams[key] = (upstream, -upstream)
        return self._upstreams[key]

    def _group_params(self) -> tuple:
        return (self.reduction,)

    def _reduce(self, losses: Tensor, weights: Tensor | None) -> Tensor:
        if weights is not None:
            losses = losses * _like(losses, "weights", weights)
        if self.reduction == "mean":
            return losses.mean(-1)
        if self.reduction == "sum":
            return losses.sum(-1)
        return losses

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MetricLoss(_Loss):
    r"""``1 - mean_t metric(TP_t, FP_t, FN_t, TN_t)`` on the soft confusion matrix of the batch.

    ``probs = sigmoid(logits)``; the counts come from :func:`~hfa.losses.soft_confusion` at every threshold of the
    grid; ``metric`` maps ``(tp, fp, fn, tn)`` (each ``(T,)``) to values in [0, 1] of shape ``(T,)`` (averaged) or
    ``(1,)`` (a curve summary such as AUROC). The loss is a scalar for the whole batch (no ``reduction``), or
    ``(M,)`` for ``(M, N)`` rows; ``metric`` must then broadcast over a leading axis (``(M, T)`` counts).

    Args:
        metric: function of the counts, higher is better, e.g. :func:`~hfa.losses.accuracy`.
        thresholds: non-empty sequence (or 1-D tensor) of thresholds in (0, 1); default the authors' 0.1..0.9.
        delta: slope parameter of the Heaviside approximation, in (0, 0.5).
        approx: ``"heaviside"`` (piecewise linear, Tsoi et al.) or ``"sigmoid"``.
        k: slope of the sigmoid approximation (``approx="sigmoid"`` only), > 0.
        partials: optional closed form of ``metric`` with its derivatives (see :mod:`hfa.losses.metrics`); with
            it the Heaviside loss is one autograd node from logits to loss, much faster on small batches.
    """

    def __init__(
        self,
        metric: Metric,
        thresholds: Sequence[float] | Tensor = AUTHORS_THRESHOLDS,
        delta: float = 0.1,
        approx: str = "heaviside",
        k: float = 10.0,
        partials: Partials | None = None,
    ) -> None:
        super().__init__()
        self.metric = metric
        self.partials = partials
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
        """The soft ``(tp, fp, fn, tn)`` this loss is computed from, each of shape ``(T,)`` (``(M, T)`` for rows)."""
        check_inputs(f"{type(self).__name__}.counts()", ("logits", logits), targets, weights)
        return self._soft_counts(logistic(_logits(logits)), targets, weights)

    def _soft_counts(
        self, probs: Tensor, targets: Tensor, weights: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if self.approx == "heaviside":
            return heaviside_counts(probs, targets, weights, self._binned)
        return _counts(_sigmoid_step(probs, self.thresholds, self.k), targets, weights)

    def _compute(self, z: Tensor, targets: Tensor, weights: Tensor | None) -> Tensor:
        # Weights that need a gradient take the dense path (in _soft_counts), whose autograd covers them.
        if self.approx == "heaviside" and (weights is None or not weights.requires_grad):
            y = _like(z, "targets", targets)
            w = None if weights is None else _like(z, "weights", weights)
            if self.partials is not None:
                return binned_metric_loss(z, y, w, self._binned, self.partials)
            counts = binned_counts(z, y, w, self._binned, logits=True)
        else:
            counts = self._soft_counts(logistic(z), targets, weights)
        return 1 - self.metric(*counts).mean(-1)

    def value_and_grad(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        closed = self.approx == "heaviside" and self.partials is not None
        if not (closed and _closed_form(self, MetricLoss, logits, weights)):
            return super().value_and_grad(logits, targets, weights)
        return binned_metric_value_and_grad(logits, *_rows_like(logits, targets, weights), self._binned, self.partials)

    def _group_params(self) -> tuple:
        # A subclass's metric is a function of its class (FBetaLoss: of beta), shared by every instance; a plain
        # MetricLoss groups only with losses holding the very same metric object.
        metric = self.beta if isinstance(self, FBetaLoss) else (self.metric, self.partials)
        step = () if self.approx == "heaviside" else (self.delta,)
        return (metric, tuple(self.thresholds.tolist()), *step, self.approx, self.k)

    def _row_params(self) -> tuple:
        # A grid's breakpoints do not depend on delta, so rows with different deltas share bins: only the lines
        # on each bin differ, one table per row (BinnedTable.stack).
        return (self.delta,) if self.approx == "heaviside" else ()

    @classmethod
    def for_group(cls, losses: Sequence[_Loss]) -> MetricLoss:
        first = losses[0]
        assert isinstance(first, MetricLoss)
        deltas = tuple(loss.delta for loss in losses)  # type: ignore[attr-defined]
        if len(set(deltas)) == 1:
            return first
        group = copy.copy(first)
        group.delta = deltas  # type: ignore[assignment]
        group._binned = BinnedTable.stack([loss._binned for loss in losses])  # type: ignore[attr-defined]
        return group

    def extra_repr(self) -> str:
        grid = ", ".join(f"{t:g}" for t in self.thresholds.tolist())
        step = f"delta={_shown(self.delta)}" if self.approx == "heaviside" else f"k={self.k:g}"
        return f"thresholds=[{grid}], approx={self.approx!r}, {step}"


MetricLoss._row_owner = MetricLoss  # its subclasses read delta through MetricLoss's methods only


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
        super().__init__(partial(fbeta, beta=beta), thresholds, delta, approx, k, partial(fbeta_partials, beta=beta))
        self.beta = beta

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}, {super().extra_repr()}"


class _GridMetricLoss(MetricLoss):
    """A :class:`MetricLoss` whose metric is fixed by the subclass (``_metric_fn``); the rest as MetricLoss."""

    _metric_fn: Metric
    _partials_fn: Partials | None = None

    def __init__(
        self,
        thresholds: Sequence[float] | Tensor = AUTHORS_THRESHOLDS,
        delta: float = 0.1,
        approx: str = "heaviside",
        k: float = 10.0,
    ) -> None:
        super().__init__(type(self)._metric_fn, thresholds, delta, approx, k, type(self)._partials_fn)


class F1Loss(_GridMetricLoss):
    r"""``1 - mean_t F1``, :math:`F_1 = 2 TP / (2 TP + FN + FP)`: :class:`FBetaLoss` with ``beta = 1``."""

    _metric_fn = staticmethod(fbeta)  # beta defaults to 1
    _partials_fn = staticmethod(fbeta_partials)
    beta = 1.0


class AccuracyLoss(_GridMetricLoss):
    r"""``1 - mean_t (TP + TN) / (TP + FP + FN + TN)``. Arguments as :class:`MetricLoss`."""

    _metric_fn = staticmethod(accuracy)
    _partials_fn = staticmethod(accuracy_partials)


class BalancedAccuracyLoss(_GridMetricLoss):
    r"""``1 - mean_t (TP/(TP+FN) + TN/(TN+FP)) / 2``. Arguments as :class:`MetricLoss`."""

    _metric_fn = staticmethod(balanced_accuracy)
    _partials_fn = staticmethod(balanced_accuracy_partials)


class MCCLoss(_GridMetricLoss):
    r"""``1 - mean_t (MCC + 1) / 2`` (Matthews correlation rescaled to [0, 1]). Arguments as :class:`MetricLoss`."""

    _metric_fn = staticmethod(mcc)


class AUROCLoss(_GridMetricLoss):
    r"""``1 - AUROC``, the trapezoid area under the soft ROC points of the threshold grid plus (0, 0), (1, 1).

    See :func:`~hfa.losses.auroc`; a finer grid gives a finer curve. Arguments as :class:`MetricLoss`.
    """

    _metric_fn = staticmethod(auroc)


def _bce(z: Tensor, y: Tensor, pos_weight: Tensor | None = None) -> Tensor:
    """``-(w y log s(z) + (1 - y) log(1 - s(z)))`` per sample, ``w = pos_weight`` (default 1).

    As ``F.binary_cross_entropy_with_logits``, written with ``log(1 - s(z)) = log s(z) - z``. Its backward
    computes ``torch.sigmoid``, whose vectorised and scalar code paths round differently, so a sample's gradient
    would depend on where it sits in the tensor; ``logsigmoid`` and its gradient do not, which keeps each row of
    a stack exactly what it is alone.
    """
    log_p = F.logsigmoid(z)
    weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
    return (1 - y) * z - weight * log_p


def _closed_form(loss: _Loss, cls: type, logits: Tensor, weights: Tensor | None) -> bool:
    """Whether ``loss`` computes ``cls``'s own function on ``(M, N)`` rows with weights that need no gradient,
    which is what a closed-form ``value_and_grad`` covers (a subclass computing something else takes autograd)."""
    return (
        type(loss)._compute is cls._compute
        and type(loss).per_row is _Loss.per_row
        and logits.dim() == 2
        and (weights is None or not weights.requires_grad)
    )


def _rows_like(logits: Tensor, targets: Tensor, weights: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Targets and weights of ``(M, N)`` rows, checked and in the logits' dtype."""
    return _like(logits, "targets", targets), None if weights is None else _like(logits, "weights", weights)


def _bce_value_and_grad(
    loss: _PerSampleLoss,
    cls: type,
    z: Tensor,
    targets: Tensor,
    weights: Tensor | None,
    pos_weight: Callable[[Tensor], Tensor] | None,
) -> tuple[Tensor, Tensor]:
    """``loss.value_and_grad`` for BCE (``pos_weight`` None) and weighted BCE (``pos_weight(z)`` the weight):
    :func:`_bce` reduced over each row (``'mean'`` or ``'sum'``) and the gradient of the rows' sum at ``z``, the
    operations autograd's backward of the forward runs, in its order, so the same bits; autograd where ``loss`` is
    not ``cls``'s own function or does not reduce."""
    if loss.reduction == "none" or not _closed_form(loss, cls, z, weights):
        return _Loss.value_and_grad(loss, z, targets, weights)
    y, weights = _rows_like(z, targets, weights)
    weight_of_positives = None if pos_weight is None else pos_weight(z)
    log_p, buffer = torch.ops.aten.log_sigmoid_forward(z)
    upstream, negated = loss._upstream(z)
    one = operand(1.0, z)
    not_y = one - y
    weight = None if weight_of_positives is None else one + (weight_of_positives - one) * y
    losses = not_y * z - (log_p if weight is None else weight * log_p)  # 1 * log_p is log_p exactly
    if weights is not None:
        losses = losses * weights
    if weights is not None:
        upstream = upstream * weights
        negated = -upstream
    if weight is not None:
        negated = negated * weight
    grad = upstream * not_y + torch.ops.aten.log_sigmoid_backward(negated, z, buffer)
    if loss.reduction == "sum":
        return losses.sum(-1), grad
    if z.device.type != "cpu":
        return losses.mean(-1), grad
    return losses.sum(-1).div_(operand(float(z.shape[-1]), z)), grad  # what a CPU mean computes


class BCELoss(_PerSampleLoss):
    r"""Binary cross-entropy on logits: :math:`\ell_i = -(y_i \log s(z_i) + (1 - y_i) \log(1 - s(z_i)))`.

    Computed stably from :math:`\log s(z)` (see :func:`_bce`); optional per-sample weights multiply
    :math:`\ell_i` before the reduction.
    """

    def _compute(self, z: Tensor, targets: Tensor, weights: Tensor | None) -> Tensor:
        return self._reduce(_bce(z, _like(z, "targets", targets)), weights)

    def value_and_grad(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return _bce_value_and_grad(self, BCELoss, logits, targets, weights, None)


class WeightedBCELoss(_PerSampleLoss):
    r"""BCE with positives weighted (Rezaei-Dastjerdehei et al.).

    .. math::

        \ell_i = -(w_{pos}\, y_i \log s(z_i) + (1 - y_i) \log(1 - s(z_i)))

    Args:
        pos_weight: a number > 0 taken as given, or ``"auto"``: :math:`w_{pos} = \#neg / \#pos` of the training
            labels, resolved by :meth:`fit` (forward raises until then); or a sequence (or 1-D tensor) of ``M``
            numbers > 0, one per row: the loss then takes ``(M, N)`` rows only, row ``m`` weighted by
            ``pos_weight[m]`` (broadcast as ``(M, 1)``), which is how :meth:`for_group` evaluates several
            weighted BCE losses as one.
        reduction: ``'mean' | 'sum' | 'none'``.
    """

    pos_weight: float | tuple[float, ...] | None
    """The resolved weight of positives (a tuple: one per row); ``None`` while ``"auto"`` awaits :meth:`fit`."""

    def __init__(self, pos_weight: float | str | Sequence[float] | Tensor = "auto", reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.auto = pos_weight == "auto" if isinstance(pos_weight, str) else False
        if isinstance(pos_weight, Tensor) and pos_weight.dim() == 1 or isinstance(pos_weight, (list, tuple)):
            weights = pos_weight.tolist() if isinstance(pos_weight, Tensor) else pos_weight
            if len(weights) == 0:
                raise HfaError("pos_weight must be 'auto', a number > 0 or a non-empty list of numbers > 0 (got [])")
            self.pos_weight = tuple(check_pos_weight(w) for w in weights)
        else:
            self.pos_weight = None if self.auto else check_pos_weight(pos_weight)
        # The weight as a tensor, per dtype and device: built once rather than on every call.
        self._weight_cache: dict[tuple[torch.dtype, torch.device], Tensor] = {}

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
        self._weight_cache.clear()
        return self

    def _weight(self, z: Tensor) -> Tensor:
        key = (z.dtype, z.device)
        weight = self._weight_cache.get(key)
        if weight is None:
            weight = torch.tensor(self.pos_weight, dtype=z.dtype, device=z.device)
            # One weight per row broadcasts over the row's samples.
            weight = self._weight_cache[key] = weight.unsqueeze(1) if weight.dim() else weight
        return weight

    def _checked_weight(self, z: Tensor) -> Tensor:
        """The weight for logits ``z``, once it is resolved and fits their rows."""
        if self.pos_weight is None:
            raise RuntimeError(
                "WeightedBCELoss(pos_weight='auto') is unresolved: call .fit(train_targets) first, "
                "or pass pos_weight as a number"
            )
        if isinstance(self.pos_weight, tuple) and (z.dim() != 2 or z.shape[0] != len(self.pos_weight)):
            raise ValueError(
                f"a WeightedBCELoss with {len(self.pos_weight)} row weights needs logits of shape "
                f"({len(self.pos_weight)}, N), got {tuple(z.shape)}"
            )
        return self._weight(z)

    def _compute(self, z: Tensor, targets: Tensor, weights: Tensor | None) -> Tensor:
        return self._reduce(_bce(z, _like(z, "targets", targets), self._checked_weight(z)), weights)

    def value_and_grad(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return _bce_value_and_grad(self, WeightedBCELoss, logits, targets, weights, self._checked_weight)

    def group_key(self) -> Hashable | None:
        # The weight is left out: for_group stacks the members' weights into one per row.
        if not isinstance(self.pos_weight, float):
            return None
        return super().group_key()

    @classmethod
    def for_group(cls, losses: Sequence[_Loss]) -> WeightedBCELoss:
        weights = [loss.pos_weight for loss in losses if isinstance(loss, WeightedBCELoss)]
        if len(weights) != len(losses) or not all(isinstance(w, float) for w in weights):
            raise ValueError("for_group needs resolved WeightedBCELoss losses with one number each as pos_weight")
        return cls(weights, losses[0].reduction)  # type: ignore[attr-defined]

    def extra_repr(self) -> str:
        weight = "unfitted" if self.pos_weight is None else _shown(self.pos_weight)
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
        self.alpha: float | tuple[float, ...] = check_closed("alpha", alpha, 0.0, 1.0)
        self.gamma: float | tuple[float, ...] = check_non_negative("gamma", gamma)
        self._columns: dict[tuple[torch.dtype, torch.device], tuple[Tensor, ...]] = {}  # a group's (_constants)

    def _compute(self, z: Tensor, targets: Tensor, weights: Tensor | None) -> Tensor:
        y = _like(z, "targets", targets)
        if isinstance(self.gamma, tuple) and z.dtype not in (torch.float32, torch.float64):
            # In half precision a number times a tensor is computed in float32, a column times a tensor from the
            # column rounded to half: each row with its own numbers then, as alone.
            self._check_rows(z)
            rows = zip(z.split(1), y.split(1), self.alpha, self.gamma, strict=True)  # type: ignore[call-overload]
            losses = torch.cat([self._elementwise(z_m, y_m, a, 1 - a, g) for z_m, y_m, a, g in rows])
        else:
            losses = self._elementwise(z, y, *self._constants(z))
        return self._reduce(losses, weights)

    @staticmethod
    def _elementwise(z: Tensor, y: Tensor, alpha, not_alpha, gamma) -> Tensor:
        signed = (2 * y - 1) * z  # +z for positives, -z for negatives: p_t = s(signed)
        log_pt = F.logsigmoid(signed)
        modulation = torch.exp(gamma * F.logsigmoid(-signed))
        alpha_t = alpha * y + not_alpha * (1 - y)
        return -alpha_t * modulation * log_pt

    def _check_rows(self, z: Tensor) -> None:
        if z.dim() != 2 or z.shape[0] != len(self.gamma):  # type: ignore[arg-type]
            rows = len(self.gamma)  # type: ignore[arg-type]
            shape = tuple(z.shape)
            raise ValueError(f"a FocalLoss group of {rows} rows needs logits of shape ({rows}, N), got {shape}")

    def _constants(self, z: Tensor) -> tuple:
        """``alpha``, ``1 - alpha`` (computed in float64 before any cast) and ``gamma``: numbers, or for a group
        ``(M, 1)`` columns in the logits' dtype, one per row, which multiply each row as its number would."""
        if not isinstance(self.gamma, tuple):
            return self.alpha, 1 - self.alpha, self.gamma
        self._check_rows(z)
        key = (z.dtype, z.device)
        if key not in self._columns:
            alpha, gamma = self.alpha, self.gamma
            values = (alpha, tuple(1 - a for a in alpha), gamma)  # type: ignore[union-attr]
            self._columns[key] = tuple(torch.tensor(v, dtype=z.dtype, device=z.device)[:, None] for v in values)
        return self._columns[key]

    def _group_params(self) -> tuple:
        return (self.reduction,)

    def _row_params(self) -> tuple:
        return (self.alpha, self.gamma)

    @classmethod
    def for_group(cls, losses: Sequence[_Loss]) -> FocalLoss:
        first = losses[0]
        assert isinstance(first, FocalLoss)
        if len({loss._row_params() for loss in losses}) == 1:
            return first
        group = copy.copy(first)
        group.alpha = tuple(loss.alpha for loss in losses)  # type: ignore[attr-defined]
        group.gamma = tuple(loss.gamma for loss in losses)  # type: ignore[attr-defined]
        group._columns = {}
        return group

    def extra_repr(self) -> str:
        return f"alpha={_shown(self.alpha)}, gamma={_shown(self.gamma)}, {super().extra_repr()}"


FocalLoss._row_owner = FocalLoss  # set once the class exists, as the class statement cannot name itself


def _shown(value: float | tuple[float, ...]) -> str:
    """A parameter for a repr: a number, or a group's one per row."""
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    return f"{value:g}"


class _EachRow(nn.Module):
    """A loss module this package cannot evaluate on rows, called once per row as a single run calls it."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss

    def per_row(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        """The loss of each row; with ``weights``, of the row's samples whose weight is not 0 (the trainer's padding
        rows weigh 0; a module of unknown form cannot be handed sample weights)."""
        rows = zip(logits.unbind(0), targets.unbind(0), strict=True)
        if weights is None:
            return torch.stack([self.loss(z, y) for z, y in rows])
        return torch.stack([self.loss(z[w != 0], y[w != 0]) for (z, y), w in zip(rows, weights.unbind(0), strict=True)])


def group_losses(losses: Sequence[nn.Module]) -> list[tuple[list[int], nn.Module]]:
    """``losses`` grouped by configuration: ``(positions, loss)`` pairs, ``loss.per_row`` computing all of them.

    Given ``(M, N)`` logits and targets whose row ``j`` belongs to ``losses[positions[j]]``, ``loss.per_row``
    returns the ``(M,)`` losses, row ``j`` equal to ``losses[positions[j]](logits[j], targets[j])`` up to rounding,
    in one call for the group. Losses with equal :meth:`~_Loss.group_key` share a group, which holds what they
    may differ in one per row (weighted BCE's ``pos_weight``, focal's ``alpha`` and ``gamma``, a Heaviside metric
    loss's ``delta``); any other module (a loss not from this package, or one that overrides
    ``forward``) is a group of its own, called once per row. Groups come in order of their first position, and
    the positions of each group ascend.
    """
    keyed: dict[Hashable, list[int]] = {}
    groups: list[tuple[list[int], nn.Module | None]] = []
    for i, loss in enumerate(losses):
        key = loss.group_key() if isinstance(loss, _Loss) else None
        if key is None:
            groups.append(([i], _EachRow(loss)))
        elif key in keyed:
            keyed[key].append(i)
        else:
            keyed[key] = [i]
            groups.append((keyed[key], None))
    return [
        (positions, loss if loss is not None else type(losses[positions[0]]).for_group([losses[i] for i in positions]))
        for positions, loss in groups
    ]
