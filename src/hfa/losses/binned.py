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
serves every row, and one gather the backward), which is what makes the loss memory-light and fast at large ``N``.
The values equal the dense computation in :mod:`hfa.losses.confusion` up to rounding (tested, including
``gradcheck``).

Two entry points: :func:`binned_counts` gives the counts (autograd carries any metric of them), and
:func:`binned_metric_loss` goes from logits to ``1 - mean_t metric`` in one autograd node, for metrics with
closed-form partial derivatives (see :data:`Partials`): at small batches the loss is then a few dozen tensor
operations rather than a graph of them, which is what its time is made of.

Every row of a stack gets exactly (bit for bit) what it gets alone: the logistic function is computed from
``exp`` (``torch.sigmoid``'s vectorised and scalar code paths round differently, so an element's value would
depend on its position in the tensor), sums run along each row, and the small per-row products are written as
elementwise products and row sums rather than matrix products, whose blocking depends on how many rows there are.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from hfa.operands import operand

# Bins are found through a lookup table over [0, 1] in this many cells, refined by comparisons only with the few
# breakpoints that fall inside a sample's cell; cheaper than a binary search for every sample at large N.
_CELLS = 1024
# Below this many samples per row one binary search (torch.bucketize) is fewer operations than the lookup table's
# several; both give every sample the same bin. It is a row length, never the stack's size, so the path a row
# takes does not depend on how many rows come with it.
_SEARCH_BELOW = 8192

Partials = Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
"""``(tp, fp, fn, tn) -> (value, d_pos, d_neg)`` for ``(M, T)`` counts: the metric, and its derivatives along a
positive's move (``dV/dTP - dV/dFN``) and a negative's move (``dV/dFP - dV/dTN``)."""


def logistic(z: Tensor) -> Tensor:
    """``1 / (1 + exp(-z))``: ``torch.sigmoid``'s value, with every element rounded alike wherever it sits."""
    return (1 + torch.exp(-z)).reciprocal()


class BinnedTable:
    """Everything about a threshold grid and ``delta`` that does not depend on the batch (a :meth:`stack`: one
    ``delta`` per row of the input, :attr:`rows` of them)."""

    rows: int | None = None
    """How many rows a :meth:`stack` serves (``None``: one table for any input)."""

    def __init__(self, table: Tensor):
        # ``table`` rows as in heaviside._heaviside_table: lower, upper, slopes (l, m, r), intercepts (l, m, r).
        self.dense = table
        lower, upper, slope_l, slope_m, slope_r, icpt_l, icpt_m, icpt_r = table.to(torch.float64)
        edges, _ = torch.sort(torch.cat((lower, upper)))
        self.edges = edges
        self.n_bins = edges.numel() + 1
        # A bin's left edge decides each threshold's piece (the middle piece is closed on the left, as in H).
        left = torch.cat((edges.new_full((1,), -torch.inf), edges))[None, :]
        below, above = left < lower[:, None], left >= upper[:, None]

        def piece(low: Tensor, mid: Tensor, high: Tensor) -> Tensor:
            return torch.where(below, low[:, None], torch.where(above, high[:, None], mid[:, None]))

        self.slope = piece(slope_l, slope_m, slope_r)  # (T, K)
        # Each count as one contraction of the per-bin [counts | moments] of the positives and the negatives:
        # TP = [A | B] . positives, FN = [1 - A | -B] . positives (FN = #pos - TP), FP and TN alike over the
        # negatives. Shape (4 counts, T, 2 classes, 2K).
        lines = torch.cat((piece(icpt_l, icpt_m, icpt_r), self.slope), 1)  # (T, 2K): H = A + B p in every bin
        ones = torch.cat((torch.ones(self.n_bins), torch.zeros(self.n_bins))).to(lines)
        zero = torch.zeros_like(lines)
        self.weights = torch.stack(
            (
                torch.stack((lines, zero), 1),
                torch.stack((zero, lines), 1),
                torch.stack((ones - lines, zero), 1),
                torch.stack((zero, ones - lines), 1),
            )
        )
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
        self._offsets: dict[tuple[int, torch.device], Tensor] = {}

    @classmethod
    def stack(cls, tables: Sequence[BinnedTable]) -> BinnedTable:
        """One table per row of ``(M, N)`` inputs: row ``m`` binned and weighted by ``tables[m]``, bit for bit.

        The tables must share their breakpoints (a grid's breakpoints do not depend on ``delta``, so losses on one
        grid with different ``delta`` do): only the lines on each bin differ, stacked here along a leading axis
        that the forward's and the backward's products broadcast exactly as they broadcast one table.
        """
        first = tables[0]
        if any(not torch.equal(table.edges, first.edges) for table in tables):
            raise ValueError("BinnedTable.stack needs tables with the same breakpoints (the same threshold grid)")
        stacked = copy.copy(first)
        stacked.rows = len(tables)
        stacked.dense = torch.stack([table.dense for table in tables])  # (M, 8, T)
        stacked.weights = torch.stack([table.weights for table in tables])  # (M, 4, T, 2, 2K)
        stacked.slope = torch.stack([table.slope for table in tables])  # (M, T, K)
        stacked._cache, stacked._offsets = {}, {}
        return stacked

    def row_offsets(self, rows: int, device: torch.device) -> Tensor:
        """``(rows, 1)``: where each row's ``2K`` bins start in the flattened sums, cached per stack size."""
        key = (rows, device)
        if key not in self._offsets:
            self._offsets[key] = torch.arange(0, rows * 2 * self.n_bins, 2 * self.n_bins, device=device)[:, None]
        return self._offsets[key]

    def on(self, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, ...]:
        """``(weights (4, T, 2, 2K), slopes (K, T), edges, cell_bin, cell_edges)`` in ``dtype`` on ``device``
        (a :meth:`stack` of ``M``: weights ``(M, 4, T, 2, 2K)`` and slopes ``(M, 1, K, T)``)."""
        key = (dtype, device)
        if key not in self._cache:
            slope_t = self.slope.transpose(-1, -2)
            self._cache[key] = (
                self.weights.to(device, dtype),
                (slope_t if slope_t.dim() == 2 else slope_t.unsqueeze(1)).contiguous().to(device, dtype),
                self.edges.to(device, dtype),
                self.cell_bin.to(device),
                self.cell_edges.to(device, dtype),
            )
        return self._cache[key]

    def bins(self, p: Tensor) -> Tensor:
        """The bin of every value of ``p``: how many breakpoints are ``<= p``, from 0 to ``K - 1``."""
        _, _, edges, cell_bin, cell_edges = self.on(p.dtype, p.device)
        if p.shape[-1] < _SEARCH_BELOW:
            return torch.bucketize(p.contiguous(), edges, right=True)  # multi-label rows come transposed
        cell = (p * _CELLS).long().clamp_(0, _CELLS - 1)
        index = cell_bin[cell]
        for column in cell_edges:
            index = index + (p >= column[cell])
        return index


def _sums(p: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``(index, (tp, fp, fn, tn))`` for probabilities ``p`` of shape ``(N,)`` (counts ``(T,)``) or ``(M, N)``
    (counts ``(M, T)``); ``index`` is each sample's bin in the flattened per-bin sums."""
    weights = table.on(p.dtype, p.device)[0]
    k, rows = table.n_bins, p.shape[0] if p.dim() == 2 else 1
    if table.rows is not None and (p.dim() != 2 or rows != table.rows):
        shape = tuple(p.shape)
        raise ValueError(f"a group of {table.rows} tables needs inputs of shape ({table.rows}, N), got {shape}")
    # Per row, positives take bins 0..K-1 and negatives K..2K-1; row m is offset by m * 2K, so one scatter sums
    # every row and both classes. (At small N the time is the number of tensor operations, not their size: the
    # code below is written to need few.)
    index = table.bins(p).add_(y < operand(0.5, y), alpha=k)
    if rows > 1:
        index += table.row_offsets(rows, p.device)
    size = rows * 2 * k
    flat, moment = index, p if w is None else w * p
    if p.dim() == 2:  # the scatters take one flat index
        flat, moment, w = flat.reshape(-1), moment.reshape(-1), None if w is None else w.reshape(-1)
    # index_add_ sums in sample order on every device; bincount would read back its input's maximum (a sync on
    # CUDA) and, on CPU, round-trip float weights through float64 (four casts a call).
    counts = p.new_zeros(size).index_add_(0, flat, torch.ones_like(moment) if w is None else w)
    moments = p.new_zeros(size).index_add_(0, flat, moment)
    # [counts | moments] per (row, class), against the (4, T, 2, 2K) weights: all four counts in one product.
    both = torch.cat((counts.view(rows, 1, 1, 2, k), moments.view(rows, 1, 1, 2, k)), 4)  # casts the counts
    sums = (both * weights).sum((-2, -1))  # (M, 4, T)
    return index, (sums.view(4, -1) if p.dim() == 1 else sums).unbind(-2)


def _grad(g_class: Tensor, index: Tensor, table: BinnedTable, w: Tensor | None, p: Tensor, logits: bool) -> Tensor:
    """The gradient for each sample from ``(M, 2, T)`` gradients along a positive's and a negative's move."""
    slope_t = table.on(g_class.dtype, g_class.device)[1]
    per_bin = (g_class.unsqueeze(-2) * slope_t).sum(-1)  # (M, 2, K): the flattened (M, 2K) bins of the forward
    grad = torch.take(per_bin, index)
    if w is not None:
        grad = grad * w
    if logits:
        grad = grad * (p * (operand(1.0, p) - p))
    return grad


class _BinnedCounts(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable, logits: bool):  # type: ignore[override]
        p = torch.exp(-x).add_(operand(1.0, x)).reciprocal_() if logits else x  # logistic(x) in place
        index, counts = _sums(p, y, w, table)
        ctx.save_for_backward(index, w, p)
        ctx.table, ctx.logits = table, logits
        return counts

    @staticmethod
    def backward(ctx, g_tp: Tensor, g_fp: Tensor, g_fn: Tensor, g_tn: Tensor):  # type: ignore[override]
        index, w, p = ctx.saved_tensors
        # FN = #pos - TP and TN = #neg - FP, so their gradients flow back through TP and FP with a minus sign.
        g_class = torch.stack((g_tp - g_fn, g_fp - g_tn), -2)
        return _grad(g_class, index, ctx.table, w, p, ctx.logits), None, None, None, None


def _metric_forward(
    z: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable, partials: Partials
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``1 - mean_t V_t`` and what its gradient needs: ``(index, w, p, d_class)``."""
    p = torch.exp(-z).add_(operand(1.0, z)).reciprocal_()  # logistic(z) in place: no autograd here
    index, counts = _sums(p, y, w, table)
    value, d_pos, d_neg = partials(*counts)
    return operand(1.0, value) - value.mean(-1), (index, w, p, torch.stack((d_pos, d_neg), -2))


def _metric_grad(g: Tensor, saved: tuple[Tensor, ...], table: BinnedTable) -> Tensor:
    """The gradient at the logits, from ``g``, the upstream gradient of the loss (a scalar or one per row)."""
    index, w, p, d_class = saved
    # L = 1 - mean_t V_t: the upstream gradient of each row, times -1/T, scales that row's partials.
    scale = (g if g.dim() == 0 else g.view(-1, 1, 1)) * operand(-1 / d_class.shape[-1], g)
    return _grad(d_class * scale, index, table, w, p, logits=True)


class _BinnedMetricLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable, partials: Partials):  # type: ignore[override]
        loss, saved = _metric_forward(z, y, w, table, partials)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(*saved)
            ctx.table = table
        return loss

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        return _metric_grad(g, ctx.saved_tensors, ctx.table), None, None, None, None


def binned_metric_value_and_grad(
    z: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable, partials: Partials
) -> tuple[Tensor, Tensor]:
    """:func:`binned_metric_loss` of ``(M, N)`` rows and the gradient of the rows' sum at ``z``, without autograd
    (the same operations as its backward, so the same bits)."""
    loss, saved = _metric_forward(z, y, w, table, partials)
    return loss, _metric_grad(loss.new_ones(loss.shape), saved, table)


def binned_counts(
    x: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable, logits: bool = False
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(tp, fp, fn, tn)`` of probabilities ``x`` (or of ``logistic(x)`` with ``logits=True``), labels ``y`` and
    optional weights ``w`` (``w`` gets no grad).

    ``x``, ``y`` and ``w`` are ``(N,)`` (counts ``(T,)``) or ``(M, N)``: ``M`` independent rows (counts ``(M, T)``).
    """
    return _BinnedCounts.apply(x, y, w, table, logits)


def binned_metric_loss(z: Tensor, y: Tensor, w: Tensor | None, table: BinnedTable, partials: Partials) -> Tensor:
    """``1 - mean_t V_t`` of logits ``z`` (``(N,)``: a scalar; ``(M, N)``: one per row), ``V`` from ``partials``.

    Equal to ``1 - metric(*binned_counts(z, y, w, table, logits=True)).mean(-1)``, gradient included, in one
    autograd node.
    """
    return _BinnedMetricLoss.apply(z, y, w, table, partials)
