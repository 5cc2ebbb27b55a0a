"""Losses for imbalanced binary classification: Heaviside-approximated metric losses, weighted BCE, focal loss.

Functional core (``heaviside``, ``sigmoid_step``, ``soft_confusion``, the metric functions of soft counts), thin
``nn.Module`` losses called as ``loss(logits, targets)``, and a registry (``LOSSES``, ``build_loss``,
``loss_label``) for configs and the command line. ``docs/maths.md`` explains the maths.
"""

from hfa.losses.confusion import soft_confusion
from hfa.losses.heaviside import heaviside, sigmoid_step
from hfa.losses.metrics import EPS, accuracy, auroc, balanced_accuracy, fbeta, mcc
from hfa.losses.modules import (
    AUTHORS_THRESHOLDS,
    AccuracyLoss,
    AUROCLoss,
    BalancedAccuracyLoss,
    BCELoss,
    F1Loss,
    FBetaLoss,
    FocalLoss,
    MCCLoss,
    MetricLoss,
    WeightedBCELoss,
    group_losses,
)
from hfa.losses.multilabel import MultiLabelLoss
from hfa.losses.registry import LOSSES, PARAMETERS, LossSpec, build_loss, loss_label

__all__ = [
    "AUTHORS_THRESHOLDS",
    "EPS",
    "LOSSES",
    "PARAMETERS",
    "AUROCLoss",
    "AccuracyLoss",
    "BCELoss",
    "BalancedAccuracyLoss",
    "F1Loss",
    "FBetaLoss",
    "FocalLoss",
    "LossSpec",
    "MCCLoss",
    "MetricLoss",
    "MultiLabelLoss",
    "WeightedBCELoss",
    "accuracy",
    "auroc",
    "balanced_accuracy",
    "build_loss",
    "fbeta",
    "group_losses",
    "heaviside",
    "loss_label",
    "mcc",
    "sigmoid_step",
    "soft_confusion",
]
