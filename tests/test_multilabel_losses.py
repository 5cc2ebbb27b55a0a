"""Losses on several labels: each label's value is the single-label loss of that label (a loop over labels),
macro and micro averages match hand-computed references, gradients pass gradcheck."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hfa.config import load_config
from hfa.errors import HfaError
from hfa.losses import LOSSES, WeightedBCELoss, build_loss, group_losses, soft_confusion
from hfa.losses.multilabel import MultiLabelLoss
from hfa.runs import build_run_loss

N, L = 64, 3
METRIC_LOSSES = [name for name, spec in LOSSES.items() if "thresholds" in spec.params]


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(N, L, generator=g, dtype=torch.float64)
    targets = (torch.rand(N, L, generator=g) < torch.tensor([0.5, 0.3, 0.1])).double()
    return logits, targets


@pytest.mark.parametrize("name", METRIC_LOSSES)
def test_macro_is_the_mean_of_the_single_label_losses(batch, name):
    logits, targets = batch
    base = build_loss(name)
    loss = MultiLabelLoss(base, L, "macro")
    per_label = torch.stack([base(logits[:, j], targets[:, j]) for j in range(L)])
    torch.testing.assert_close(loss(logits, targets), per_label.mean())


@pytest.mark.parametrize("name", METRIC_LOSSES)
def test_micro_sums_the_soft_counts_over_labels(batch, name):
    logits, targets = batch
    base = build_loss(name)
    counts = [base.counts(logits[:, j], targets[:, j]) for j in range(L)]
    summed = [sum(c[i] for c in counts) for i in range(4)]
    expected = 1 - base.metric(*summed).mean()
    torch.testing.assert_close(MultiLabelLoss(base, L, "micro")(logits, targets), expected)


def test_macro_soft_f1_by_hand(batch):
    """sigmoidF1-style macro soft F1 at one threshold, written out from the SPEC's formulas."""
    logits, targets = batch
    loss = MultiLabelLoss(build_loss("f1", thresholds=[0.5]), L, "macro")
    values = []
    for j in range(L):
        tp, fp, fn, tn = soft_confusion(torch.sigmoid(logits[:, j]), targets[:, j], [0.5])
        values.append(2 * tp / (2 * tp + fn + fp + 1e-7))
    torch.testing.assert_close(loss(logits, targets), 1 - torch.cat(values).mean())


def test_bce_and_focal_average_over_samples_and_labels(batch):
    logits, targets = batch
    bce = MultiLabelLoss(build_loss("bce"), L)
    torch.testing.assert_close(bce(logits, targets), F.binary_cross_entropy_with_logits(logits, targets))
    focal = build_loss("focal", alpha=0.3, gamma=1.5)
    expected = torch.stack([focal(logits[:, j], targets[:, j]) for j in range(L)]).mean()
    torch.testing.assert_close(MultiLabelLoss(focal, L)(logits, targets), expected)


def test_weighted_bce_auto_is_per_label(batch):
    logits, targets = batch
    loss = MultiLabelLoss(WeightedBCELoss("auto"), L).fit(targets)
    positives = targets.sum(0)
    expected_weights = ((N - positives) / positives).tolist()
    assert loss.pos_weight == pytest.approx(expected_weights)
    weight = torch.tensor(expected_weights, dtype=torch.float64)
    expected = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)
    torch.testing.assert_close(loss(logits, targets), expected)
    # ... and each label's part is that label's single-label weighted BCE
    singles = [WeightedBCELoss("auto").fit(targets[:, j])(logits[:, j], targets[:, j]) for j in range(L)]
    torch.testing.assert_close(loss(logits, targets), torch.stack(singles).mean())


def test_weighted_bce_list_and_wrong_length(batch):
    logits, targets = batch
    loss = MultiLabelLoss(WeightedBCELoss([1.0, 2.0, 4.0]), L)
    weight = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    expected = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)
    torch.testing.assert_close(loss(logits, targets), expected)
    with pytest.raises(HfaError, match="loss.pos_weight lists 2 numbers but the data has 3 labels"):
        MultiLabelLoss(WeightedBCELoss([1.0, 2.0]), L)


def test_run_loss_refuses_a_weight_list_on_one_label():
    cfg = load_config(None, ["loss.name=wbce", "loss.pos_weight=[1, 2]"])
    with pytest.raises(HfaError, match="one weight per label, for multi-label runs"):
        build_run_loss(cfg, torch.zeros(10))
    assert isinstance(build_run_loss(cfg, torch.eye(4)[:, :2]), MultiLabelLoss)


@pytest.mark.parametrize("name", ["f1", "auroc", "mcc", "wbce", "focal", "bce"])
@pytest.mark.parametrize("average", ["macro", "micro"])
def test_gradcheck(batch, name, average):
    logits, targets = batch
    loss = MultiLabelLoss(build_loss(name), L, average).fit(targets)
    # Away from the Heaviside breakpoints, where the loss is smooth.
    z = logits[:12].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: loss(v, targets[:12]), (z,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", ["f1", "wbce", "focal"])
def test_rows_of_a_group_equal_each_member(batch, name):
    """A stack's rows (M, N, L), one group call, equal each member's own loss."""
    logits, targets = batch
    g = torch.Generator().manual_seed(1)
    rows_z = torch.stack([logits, logits.flip(0), torch.randn(N, L, generator=g, dtype=torch.float64)])
    rows_y = torch.stack([targets, targets, targets.roll(5, 0)])
    losses = [MultiLabelLoss(build_loss(name), L).fit(y) for y in rows_y]
    ((positions, group),) = group_losses(losses)
    assert positions == [0, 1, 2]
    got = group.per_row(rows_z, rows_y)
    for m in range(3):
        torch.testing.assert_close(got[m], losses[m](rows_z[m], rows_y[m]))


def test_macro_and_micro_do_not_share_a_group():
    a, b = MultiLabelLoss(build_loss("f1"), L, "macro"), MultiLabelLoss(build_loss("f1"), L, "micro")
    assert len(group_losses([a, b])) == 2
    # A multi-label group holds its first member's base: bases differing in a row parameter stay apart.
    for name, params in (("f1", {"delta": 0.3}), ("focal", {"gamma": 1.0})):
        c, d = MultiLabelLoss(build_loss(name), L), MultiLabelLoss(build_loss(name, **params), L)
        assert len(group_losses([c, d])) == 2
