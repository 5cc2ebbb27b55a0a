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
is ever built (for ``M`` rows of ``N`` samples, the bins of row ``m`` are offset by ``m * 2K``, so one scatter
and one product serve every row, and one gather the backward), which is what makes the loss memory-light and
fast at large ``N``. The values equal the dense computation in :mod:`hfa.losses.confusion` up to rounding
(tested, including ``gradcheck``).
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
        # A flat (N,) batch is one row; reshaping here rather than in the caller adds no autograd nodes.
        flat = p.dim() == 1
        p, y = p.reshape(-1, p.shape[-1]), y.reshape(-1, p.shape[-1])
        w = None if w is None else w.reshape(p.shape)
        rows = p.shape[0]
        # Per row, positives take bins 0..K-1 and negatives K..2K-1; row m is offset by m * 2K, so one scatter sums
        # every row and both classes, and the weights (counts) and weighted probabilities (moments) go through it
        # together.
        index = table.bins(p).add_(y < 0.5, alpha=k)
        if rows > 1:
            index += torch.arange(0, rows * 2 * k, 2 * k, device=p.device).unsqueeze(1)
        index = index.reshape(-1)
        values = torch.stack((torch.ones_like(p), p) if w is None else (w, w * p)).reshape(2, -1)
        sums = p.new_zeros(2, rows * 2 * k).index_add_(1, index, values).view(2, rows, 2, k)
        # counts[m, c, t] = sum_j lines[t, j] * [sums; moments][m, c, j], as a product and a sum over the last axis:
        # a matrix product would round each row differently depending on how many rows it holds, and a run's
        # loss must not depend on how many runs share its stack.
        operand = sums.permute(1, 2, 0, 3).reshape(rows, 2, 1, 2 * k)
        tp, fp = (operand * lines).sum(-1).unbind(1)
        pos, neg = sums[0].sum(2).T
        fn, tn = pos[:, None] - tp, neg[:, None] - fp
        ctx.save_for_backward(index, slope, w)
        ctx.flat = flat
        if flat:
            return tp[0], fp[0], fn[0], tn[0]
        return tp, fp, fn, tn

    @staticmethod
    def backward(ctx, g_tp: Tensor, g_fp: Tensor, g_fn: Tensor, g_tn: Tensor):  # type: ignore[override]
        index, slope, w = ctx.saved_tensors
        # FN = #pos - TP and TN = #neg - FP, so their gradients flow back through TP and FP with a minus sign.
        g_pos, g_neg = (g_tp - g_fn).reshape(-1, slope.shape[0]), (g_fp - g_tn).reshape(-1, slope.shape[0])
        # (M, 2, K): the flattened (M, 2K) bins of the forward; a sum over the last axis, not a matrix product,
        # for the reason given in forward.
        per_bin = (torch.stack((g_pos, g_neg), 1).unsqueeze(2) * slope.T).sum(-1)
        # The forward's row offsets index the flattened bins: one gather for every row.
        grad = per_bin.reshape(-1)[index].view(g_pos.shape[0], -1)
        if w is not None:
            grad = grad * w
        return (grad.reshape(-1) if ctx.flat else grad), None, None, None


def binned_counts(p: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(tp, fp, fn, tn)`` of probabilities ``p``, labels ``y`` and optional weights ``w`` (``w`` gets no grad).

    ``p``, ``y`` and ``w`` are ``(N,)`` (counts ``(T,)``) or ``(M, N)``: ``M`` independent rows (counts ``(M, T)``).
    """
    return _BinnedCounts.apply(p, y, w, table)
