r"""The soft confusion matrix: TP, FP, FN, TN with the step replaced by a differentiable approximation.

With :math:`h_{ti} = H(p_i; \tau_t)` and labels :math:`y_i \in \{0, 1\}` (optional weights :math:`w_i`, else 1):

.. math::

    TP_t = \sum_i w_i y_i h_{ti}, \quad FN_t = \sum_i w_i y_i (1 - h_{ti}), \quad
    FP_t = \sum_i w_i (1 - y_i) h_{ti}, \quad TN_t = \sum_i w_i (1 - y_i)(1 - h_{ti})

for every threshold :math:`\tau_t` at once, so :math:`TP + FN = \sum w y` and :math:`FP + TN = \sum w (1 - y)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from hfa.losses._checks import (
    APPROXIMATIONS,
    check_choice,
    check_delta,
    check_inputs,
    check_positive,
    check_thresholds,
    per_sample,
)
from hfa.losses.binned import BinnedTable, binned_counts
from hfa.losses.heaviside import _heaviside_table, _sigmoid_step

__all__ = ["soft_confusion"]

Counts = tuple[Tensor, Tensor, Tensor, Tensor]


def heaviside_counts(p: Tensor, targets: Tensor, weights: Tensor | None, table: BinnedTable) -> Counts:
    """Counts under the Heaviside approximation through the binned kernel (O(N log T), no (T, N) array).

    ``p`` is ``(N,)`` (counts ``(T,)``) or ``(M, N)`` with targets and weights of the same shape (counts ``(M, T)``,
    one per row). Weights that need a gradient take the dense path, whose autograd covers them.
    """
    if weights is not None and weights.requires_grad:
        from hfa.losses.heaviside import _heaviside_apply

        if table.dense.dim() == 2:
            return _counts(_heaviside_apply(p, table.dense), targets, weights)
        # A group's tables (BinnedTable.stack), one per row: each row as it is alone.
        step = torch.cat([_heaviside_apply(p[m : m + 1], dense) for m, dense in enumerate(table.dense)], dim=1)
        return _counts(step, targets, weights)
    y = _like(p, "targets", targets)
    w = None if weights is None else _like(p, "weights", weights).detach()
    return binned_counts(p, y, w, table)


def _like(p: Tensor, name: str, values: Tensor) -> Tensor:
    """``values`` shaped like ``p`` (one per sample, or one per sample of each row) in ``p``'s dtype."""
    if p.dim() == 1:
        values = per_sample(name, values, p.numel())
    elif values.shape != p.shape:
        raise ValueError(f"{name} must have the shape of the logits {tuple(p.shape)}, got {tuple(values.shape)}")
    # Skipping the no-op cast saves a dispatch: at small batches a loss's time is its count of tensor operations.
    return values if values.dtype == p.dtype else values.to(p.dtype)


def _counts(h: Tensor, targets: Tensor, weights: Tensor | None) -> Counts:
    """``(tp, fp, fn, tn)`` from step values ``h``: ``(T, N)`` gives ``(T,)`` counts, ``(T, M, N)`` gives ``(M, T)``.

    No parameter checks; targets and weights hold ``N`` values, or are ``(M, N)`` for a ``(T, M, N)`` ``h``.
    """
    y = _like(h[0], "targets", targets)
    if weights is None:
        pos, neg = y, 1 - y
    else:
        w = _like(h[0], "weights", weights)
        pos = w * y
        neg = w - pos
    if h.dim() == 3:
        # Rows: (M, T, N) @ (M, N, 2), one batched product for every row's TP and FP.
        tp_fp = h.transpose(0, 1) @ torch.stack((pos, neg), 2)
        tp, fp = tp_fp.unbind(2)
        return tp, fp, pos.sum(1, keepdim=True) - tp, neg.sum(1, keepdim=True) - fp
    # One (T, N) @ (N, 2) product gives TP and FP for all thresholds; FN and TN follow from the class totals,
    # which also makes TP + FN and FP + TN equal those totals to rounding. The (N, 2) operand is the transpose of
    # a contiguous (2, N) stack so both operands run along N in memory (about 2x faster on CPU at large N).
    tp_fp = h @ torch.stack((pos, neg)).T
    tp, fp = tp_fp[:, 0], tp_fp[:, 1]
    return tp, fp, pos.sum() - tp, neg.sum() - fp


def soft_confusion(
    probs: Tensor,
    targets: Tensor,
    thresholds: Sequence[float] | Tensor = (0.5,),
    delta: float = 0.1,
    weights: Tensor | None = None,
    approx: str = "heaviside",
    k: float = 10.0,
) -> Counts:
    """Soft confusion counts ``(tp, fp, fn, tn)``, each of shape ``(T,)`` for ``T`` thresholds.

    Args:
        probs: predicted probabilities in [0, 1], ``N`` values of any shape (``(N,)`` or ``(N, 1)``).
        targets: labels in {0, 1} (or soft labels in [0, 1]), ``N`` values, any float/int/bool dtype (cast to
            ``probs.dtype``).
        thresholds: a number, a non-empty sequence or a 1-D tensor of thresholds in (0, 1).
        delta: slope parameter of :func:`~hfa.losses.heaviside` (used when ``approx="heaviside"``).
        weights: optional per-sample weights (``N`` values) multiplying every term.
        approx: ``"heaviside"`` (piecewise linear) or ``"sigmoid"`` (:func:`~hfa.losses.sigmoid_step`).
        k: slope of the sigmoid (used when ``approx="sigmoid"``).

    Returns:
        ``(tp, fp, fn, tn)`` in ``probs``' dtype and device, differentiable with respect to ``probs``.

    Raises:
        HfaError: (a ``ValueError``) for a threshold outside (0, 1), ``delta`` outside (0, 0.5), ``k <= 0``, an
            unknown ``approx``, or a probability or target outside [0, 1].
        ValueError: if ``targets`` or ``weights`` do not hold one value per sample.
        TypeError: if ``probs``, ``targets`` or ``weights`` (when given) is not a tensor.
    """
    check_inputs("soft_confusion()", ("probs", probs), targets, weights)
    tau = torch.as_tensor(check_thresholds(thresholds), dtype=probs.dtype, device=probs.device).reshape(-1)
    delta, k = check_delta(delta), check_positive("k", k)
    p = probs.reshape(-1)
    if check_choice("approx", approx, APPROXIMATIONS) == "heaviside":
        return heaviside_counts(p, targets, weights, BinnedTable(_heaviside_table(tau, delta)))
    return _counts(_sigmoid_step(p, tau, k), targets, weights)
