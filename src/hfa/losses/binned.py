r"""Soft confusion counts under the Heaviside approximation in O(N log T), with a closed-form backward.

Every :math:`H(\cdot; \tau_t)` is linear between consecutive breakpoints :math:`\tau_t \mp t_m/2`. Sorting the
``2T`` breakpoints of all thresholds cuts [0, 1] into ``K = 2T + 1`` bins on each of which *every* threshold's
``H`` is a line ``A[t, k] + B[t, k] p``. So with per-bin sums over the positives

.. math::

    S^+_k = \sum_{i \in k} w_i y_i, \qquad P^+_k = \sum_{i \in k} w_i y_i p_i
    \quad\Rightarrow\quad TP = A S^+ + B P^+

(and the same over the negatives for FP), and the gradient is
:math:`\partial L / \partial p_i = w_i \, [\, y_i (g_{TP} - g_{FN}) + (1 - y_i)(g_{FP} - g_{TN}) \,] \cdot B[:, k_i]`.
One pass to bin the samples, two weighted bincounts forward, one gather backward: no ``(T, N)`` intermediate
is ever built, which is what makes the loss memory-light and fast at large ``N``. The values equal the dense
computation in :mod:`hfa.losses.confusion` up to rounding (tested, including ``gradcheck``).
"""

from __future__ import annotations

import torch
from torch import Tensor

# Bins are found through a lookup table over [0, 1] in this many cells, refined by comparisons only with the few
# breakpoints that fall inside a sample's cell; cheaper than a binary search for every sample.
_CELLS = 1024


class BinnedTable:
    """Everything about a threshold grid and ``delta`` that does not depend on the batch."""

    def __init__(self, table: Tensor):
        # ``table`` rows as in heaviside._heaviside_table: lower, upper, slopes (l, m, r), intercepts (l, m, r).
        self.dense = table
        lower, upper, slope_l, slope_m, slope_r, icpt_l, icpt_m, icpt_r = table.to(torch.float64)
        edges, _ = torch.sort(torch.cat((lower, upper)))
        self.n_bins = edges.numel() + 1
        # A bin's left edge decides each threshold's piece (the middle piece is closed on the left, as in H).
        left = torch.cat((edges.new_full((1,), -torch.inf), edges))[None, :]
        below, above = left < lower[:, None], left >= upper[:, None]

        def piece(low: Tensor, mid: Tensor, high: Tensor) -> Tensor:
            return torch.where(below, low[:, None], torch.where(above, high[:, None], mid[:, None]))

        self.slope = piece(slope_l, slope_m, slope_r)  # (T, K)
        # [intercepts | slopes] so one product with [counts; moments] gives every threshold's counts.
        self.lines = torch.cat((piece(icpt_l, icpt_m, icpt_r), self.slope), 1)  # (T, 2K)
        cells = torch.arange(_CELLS + 1, dtype=torch.float64) / _CELLS
        # Bin of each cell's left end, and the breakpoints inside each cell (padded with +inf).
        self.cell_bin = torch.searchsorted(edges, cells[:-1], right=True)
        inside = (edges[None, :] > cells[:-1, None]) & (edges[None, :] < cells[1:, None])
        depth = int(inside.sum(1).max())
        padded = torch.full((_CELLS, max(depth, 1)), torch.inf, dtype=torch.float64)
        for j in range(depth):  # a few columns at most: loops over breakpoints per cell, never over samples
            nth = inside & (inside.cumsum(1) == j + 1)
            rows = nth.any(1)
            padded[rows, j] = edges.expand(_CELLS, -1)[nth]
        self.cell_edges = padded.T.contiguous()  # (depth, cells)
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[Tensor, ...]] = {}

    def on(self, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, ...]:
        key = (dtype, device)
        if key not in self._cache:
            self._cache[key] = (
                self.lines.to(device, dtype),
                self.slope.to(device, dtype),
                self.cell_bin.to(device),
                self.cell_edges.to(device, dtype),
            )
        return self._cache[key]

    def bins(self, p: Tensor) -> Tensor:
        _, _, cell_bin, cell_edges = self.on(p.dtype, p.device)
        cell = (p.detach() * _CELLS).long().clamp_(0, _CELLS - 1)
        index = cell_bin[cell]
        for edges in cell_edges:
            index = index + (p.detach() >= edges[cell])
        return index


class _BinnedCounts(torch.autograd.Function):
    @staticmethod
    def forward(ctx, p: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable):  # type: ignore[override]
        lines, slope, _, _ = table.on(p.dtype, p.device)
        k = table.n_bins
        # Positives take bins 0..K-1, negatives K..2K-1, so one scatter sums both classes, and the weights
        # (counts) and weighted probabilities (moments) go through it together.
        index = table.bins(p) + k * (y < 0.5)
        ones = torch.ones_like(p) if w is None else w
        sums = p.new_zeros(2, 2 * k).index_add_(1, index, torch.stack((ones, ones * p)))
        tp, fp = (lines @ sums.view(2, 2, k).transpose(1, 2).reshape(2 * k, 2)).unbind(1)
        pos, neg = sums[0].view(2, k).sum(1).unbind()
        ctx.save_for_backward(index, slope, w)
        return tp, fp, pos - tp, neg - fp

    @staticmethod
    def backward(ctx, g_tp: Tensor, g_fp: Tensor, g_fn: Tensor, g_tn: Tensor):  # type: ignore[override]
        index, slope, w = ctx.saved_tensors
        # FN = #pos - TP and TN = #neg - FP, so their gradients flow back through TP and FP with a minus sign.
        per_bin = torch.cat(((g_tp - g_fn) @ slope, (g_fp - g_tn) @ slope))
        grad = per_bin[index]
        return (grad if w is None else grad * w), None, None, None


def binned_counts(p: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(tp, fp, fn, tn)`` of flat probabilities ``p``, labels ``y`` and optional weights ``w`` (no grad)."""
    return _BinnedCounts.apply(p, y, w, table)
