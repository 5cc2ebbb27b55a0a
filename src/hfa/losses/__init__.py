"""Losses for imbalanced binary classification: Heaviside-approximated metric losses, weighted BCE, focal loss.

Functional core (``heaviside``, ``sigmoid_step``, ``soft_confusion``, the metric functions of soft counts), thin
``nn.Module`` losses called as ``loss(logits, targets)``, and a registry (``LOSSES``, ``build_loss``,
``loss_label``) for configs and the command line. See ``SPEC.md`` section 1 for the maths.

Names are imported on first use, so ``hfa.losses.catalog`` (the loss names, parameters and formulas, no torch)
loads without torch.
"""

from hfa._lazy import lazy_exports

_EXPORTS = {
    "AUTHORS_THRESHOLDS": "modules",
    "EPS": "metrics",
    "LOSSES": "registry",
    "PARAMETERS": "registry",
    "AUROCLoss": "modules",
    "AccuracyLoss": "modules",
    "BCELoss": "modules",
    "BalancedAccuracyLoss": "modules",
    "F1Loss": "modules",
    "FBetaLoss": "modules",
    "FocalLoss": "modules",
    "LossSpec": "registry",
    "MCCLoss": "modules",
    "MetricLoss": "modules",
    "WeightedBCELoss": "modules",
    "accuracy": "metrics",
    "auroc": "metrics",
    "balanced_accuracy": "metrics",
    "build_loss": "registry",
    "fbeta": "metrics",
    "group_losses": "modules",
    "heaviside": "heaviside",
    "loss_label": "registry",
    "mcc": "metrics",
    "sigmoid_step": "heaviside",
    "soft_confusion": "confusion",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
