"""Every loss by name: the parameters it uses and what it computes, as plain data (no torch).

``hfa losses`` prints this table and config validation checks names against it without importing torch;
:mod:`hfa.losses.registry` pairs each entry with its module class, so there is one table for both. It sits
outside the ``hfa.losses`` package because importing anything inside that package imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

PARAMETERS = ("beta", "pos_weight", "thresholds", "delta", "approx", "k", "alpha", "gamma")
"""Every parameter a loss may use (the ``loss.*`` config keys besides ``name``)."""

METRIC_PARAMS = ("thresholds", "delta", "approx", "k")


@dataclass(frozen=True)
class LossInfo:
    """One loss: ``params`` (from :data:`PARAMETERS`) it uses, a one-line ``formula`` and a one-line ``summary``."""

    params: tuple[str, ...]
    formula: str
    summary: str


CATALOG: dict[str, LossInfo] = {
    "bce": LossInfo(
        (),
        "L = -mean(y log s(z) + (1-y) log(1-s(z)))",
        "plain binary cross-entropy on logits",
    ),
    "wbce": LossInfo(
        ("pos_weight",),
        "L = -mean(w y log s(z) + (1-y) log(1-s(z))), w = pos_weight or #neg/#pos (auto)",
        "BCE with positives up-weighted (Rezaei-Dastjerdehei et al.)",
    ),
    "focal": LossInfo(
        ("alpha", "gamma"),
        "L = -mean(a_t (1-p_t)^gamma log p_t), a_t = alpha | 1-alpha",
        "focal loss (Lin et al.): down-weights well-classified samples",
    ),
    "f1": LossInfo(
        METRIC_PARAMS,
        "L = 1 - mean_t 2TP / (2TP + FN + FP)",
        "soft F1 averaged over thresholds (Tsoi et al.)",
    ),
    "fbeta": LossInfo(
        ("beta", *METRIC_PARAMS),
        "L = 1 - mean_t (1+b^2)TP / ((1+b^2)TP + b^2 FN + FP)",
        "soft F-beta averaged over thresholds; beta > 1 favours recall",
    ),
    "accuracy": LossInfo(
        METRIC_PARAMS,
        "L = 1 - mean_t (TP + TN) / (TP + FP + FN + TN)",
        "soft accuracy averaged over thresholds",
    ),
    "balanced_accuracy": LossInfo(
        METRIC_PARAMS,
        "L = 1 - mean_t (TP/(TP+FN) + TN/(TN+FP)) / 2",
        "soft balanced accuracy (mean of recall and specificity) averaged over thresholds",
    ),
    "mcc": LossInfo(
        METRIC_PARAMS,
        "L = 1 - mean_t (MCC+1)/2, MCC = (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))",
        "soft Matthews correlation, rescaled to [0, 1], averaged over thresholds",
    ),
    "auroc": LossInfo(
        METRIC_PARAMS,
        "L = 1 - trapezoid area under the points (FPR_t, TPR_t) plus (0,0) and (1,1)",
        "soft ROC AUC over the threshold grid (Tsoi et al.)",
    ),
}
"""Every loss by name; soft counts use TP = sum y H(s(z); tau) etc. (see ``hfa.losses.confusion``)."""
