r"""Every loss on ``L`` labels at once: logits and targets ``(N, L)``, or ``(M, N, L)`` rows of a stack.

Per-sample losses (BCE, weighted BCE, focal) average the element losses over samples and labels, as
``torch.nn.BCEWithLogitsLoss`` does on an ``(N, L)`` input; weighted BCE weighs each label's positives by its own
``pos_weight`` (``"auto"``: that label's negatives / positives in the training split). Metric losses take the soft
confusion counts of each label (label ``l``'s probabilities against label ``l``'s targets, never pooled), then

- ``average="macro"``: :math:`1 - \frac1L \sum_l \text{mean}_t M(TP_{lt}, FP_{lt}, FN_{lt}, TN_{lt})`, the mean over
  labels of each label's single-label loss (sigmoidF1's choice);
- ``average="micro"``: :math:`1 - \text{mean}_t M(\sum_l TP_{lt}, \ldots)`, the soft counts summed over labels.

Each label's counts come from the single-label kernel with the labels as rows, so a label's numbers are the
single-label loss's numbers (tested against a loop over labels).
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from hfa.errors import HfaError
from hfa.losses._checks import check_choice, check_inputs, check_pos_weight
from hfa.losses.modules import MetricLoss, WeightedBCELoss, _Loss, _PerSampleLoss

__all__ = ["AVERAGES", "MultiLabelLoss"]

AVERAGES = ("macro", "micro")


class MultiLabelLoss(_Loss):
    """``base`` (a loss of this package) applied to ``n_labels`` labels; called as ``loss(logits, targets)``.

    Args:
        base: the single-label loss, e.g. ``F1Loss()`` or ``WeightedBCELoss("auto")``; a weighted BCE's
            ``pos_weight`` is ``"auto"``, one number for every label, or a sequence of ``n_labels`` numbers.
        n_labels: ``L``, the width of the logits' last axis.
        average: ``"macro"`` or ``"micro"`` (metric losses only; see the module docstring).
        labels: the label names, for error messages.

    Raises:
        HfaError: a ``pos_weight`` list whose length is not ``n_labels``, or an unknown ``average``.
    """

    def __init__(self, base: _Loss, n_labels: int, average: str = "macro", labels: Sequence[str] | None = None) -> None:
        super().__init__()
        if not isinstance(base, (_PerSampleLoss, MetricLoss)) or type(base).forward is not _Loss.forward:
            raise TypeError(f"MultiLabelLoss needs a loss of hfa.losses, got {type(base).__name__}")
        self.base = base
        self.n_labels = int(n_labels)
        self.average = check_choice("average", average, AVERAGES)
        self.labels = list(labels) if labels is not None else [str(j) for j in range(self.n_labels)]
        self.auto = isinstance(base, WeightedBCELoss) and base.auto
        self.pos_weight: tuple[float, ...] | tuple[tuple[float, ...], ...] | None = None
        if isinstance(base, WeightedBCELoss) and not base.auto:
            weights = base.pos_weight if isinstance(base.pos_weight, tuple) else (base.pos_weight,) * self.n_labels
            if len(weights) != self.n_labels:
                shown = ", ".join(self.labels[:4]) + (", ..." if self.n_labels > 4 else "")
                raise HfaError(
                    f"loss.pos_weight lists {len(weights)} numbers but the data has {self.n_labels} labels "
                    f"({shown}); give one per label or 'auto'"
                )
            self.pos_weight = tuple(check_pos_weight(w) for w in weights)
        if isinstance(base, _PerSampleLoss):
            # The base's element losses, reduced here over samples and labels together.
            self._elementwise = copy.copy(base)
            self._elementwise.reduction = "none"
        self._weight_cache: dict[tuple[torch.dtype, torch.device], Tensor] = {}

    def fit(self, train_targets: object) -> MultiLabelLoss:
        """Resolve ``pos_weight="auto"`` per label: that label's negatives / positives in ``train_targets`` (n, L)."""
        if not self.auto:
            return self
        labels = train_targets if isinstance(train_targets, Tensor) else torch.as_tensor(np.asarray(train_targets))
        labels = labels.reshape(-1, self.n_labels) != 0
        positives = labels.sum(0).tolist()
        weights = []
        for name, pos in zip(self.labels, positives, strict=True):
            neg = labels.shape[0] - pos
            if pos == 0 or neg == 0:
                raise HfaError(
                    f"pos_weight='auto' needs both classes of label {name!r} in the training labels "
                    f"(got {pos} positives, {neg} negatives); give loss.pos_weight as a list, one per label"
                )
            weights.append(neg / pos)
        self.pos_weight = tuple(weights)
        self._weight_cache.clear()
        return self

    def forward(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        """The loss of ``(N, L)`` logits against ``(N, L)`` targets (optional ``(N,)`` sample weights): a scalar."""
        check_inputs("MultiLabelLoss()", ("logits", logits), targets, weights)
        if logits.dim() != 2 or logits.shape[1] != self.n_labels or targets.shape != logits.shape:
            raise ValueError(
                f"a loss of {self.n_labels} labels needs logits and targets of shape (N, {self.n_labels}); "
                f"got {tuple(logits.shape)} and {tuple(targets.shape)}"
            )
        return self.per_row(logits[None], targets[None], None if weights is None else weights.reshape(1, -1))[0]

    def per_row(self, logits: Tensor, targets: Tensor, weights: Tensor | None = None) -> Tensor:
        """``(M,)`` losses of ``(M, N, L)`` logits and targets, with optional ``(M, N)`` sample weights."""
        if logits.dim() != 3 or logits.shape[2] != self.n_labels or targets.shape != logits.shape:
            raise ValueError(
                f"per_row of a loss of {self.n_labels} labels needs logits and targets of shape "
                f"(M, N, {self.n_labels}); got {tuple(logits.shape)} and {tuple(targets.shape)}"
            )
        y = targets.to(logits.dtype)
        if isinstance(self.base, MetricLoss):
            return self._metric(logits, y, weights)
        if isinstance(self.base, WeightedBCELoss):
            losses = F.binary_cross_entropy_with_logits(logits, y, pos_weight=self._weight(logits), reduction="none")
        else:
            losses = self._elementwise._compute(logits, y, None)
        if weights is not None:
            losses = losses * weights.to(losses.dtype).unsqueeze(-1)
        flat = losses.flatten(1)
        return flat.sum(-1) if self.base.reduction == "sum" else flat.mean(-1)

    def _metric(self, z: Tensor, y: Tensor, weights: Tensor | None) -> Tensor:
        m, n, labels = z.shape
        # Labels become rows: row (m, l) holds member m's samples of label l, so the single-label kernel counts
        # each label on its own.
        rows_z = z.transpose(1, 2).reshape(m * labels, n)
        rows_y = y.transpose(1, 2).reshape(m * labels, n)
        rows_w = None if weights is None else weights.unsqueeze(1).expand(m, labels, n).reshape(m * labels, n)
        counts = self.base._soft_counts(torch.sigmoid(rows_z), rows_y, rows_w)
        if self.average == "micro":
            summed = [c.reshape(m, labels, -1).sum(1) for c in counts]
            return 1 - self.base.metric(*summed).mean(-1)
        per_label = self.base.metric(*counts).mean(-1).reshape(m, labels)
        return 1 - per_label.mean(-1)

    def _weight(self, z: Tensor) -> Tensor:
        if self.pos_weight is None:
            raise RuntimeError("MultiLabelLoss with pos_weight='auto' is unresolved: call .fit(train_targets) first")
        key = (z.dtype, z.device)
        if key not in self._weight_cache:
            weight = torch.tensor(self.pos_weight, dtype=z.dtype, device=z.device)
            # (L,) for every member alike, or (G, 1, L): one row of label weights per member of a group.
            self._weight_cache[key] = weight.unsqueeze(1) if weight.dim() == 2 else weight
        return self._weight_cache[key]

    def group_key(self) -> Hashable | None:
        if isinstance(self.base, WeightedBCELoss):
            if self.pos_weight is None or not isinstance(self.pos_weight[0], float):
                return None  # unresolved, or already a group's weights
            inner: Hashable = (WeightedBCELoss, self.base.reduction)
        else:
            # A group's base is the first member's, so every member's base must be the very same function.
            inner = (self.base.group_key(), self.base._row_params())
        average = self.average if isinstance(self.base, MetricLoss) else None
        return (MultiLabelLoss, inner, self.n_labels, average)

    @classmethod
    def for_group(cls, losses: Sequence[_Loss]) -> MultiLabelLoss:
        first = losses[0]
        assert isinstance(first, MultiLabelLoss)
        if not isinstance(first.base, WeightedBCELoss):
            return first
        group = copy.copy(first)
        group._weight_cache = {}
        group.pos_weight = tuple(loss.pos_weight for loss in losses)  # type: ignore[attr-defined]
        return group

    def extra_repr(self) -> str:
        weight = "" if self.pos_weight is None else f", pos_weight={list(self.pos_weight)}"
        return f"n_labels={self.n_labels}, average={self.average!r}{weight}"
