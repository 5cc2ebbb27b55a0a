"""What a method is: a model, a loss and a resampling of the training split; their names and row labels.

Plain data (no numpy, no torch): ``hfa methods`` lists it, config validation checks names against it and reports
label their rows with :func:`method_label`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MODELS: dict[str, str] = {
    "mlp": "hfa's multilayer perceptron, trained on the loss loss.name (model.hidden, model.dropout)",
    "logistic": "scikit-learn's LogisticRegression",
    "gbdt": "scikit-learn's HistGradientBoostingClassifier (gradient-boosted trees)",
}
"""What each model is; ``available_models`` keeps those this version's config accepts as ``model.name``."""

RESAMPLERS: dict[str, str] = {
    "none": "the training split as it comes",
    "random_over": "positives drawn again at random until they match the negatives (imbalanced-learn)",
    "random_under": "negatives dropped at random until they match the positives (imbalanced-learn)",
    "smote": "synthetic positives between a positive and one of its 5 nearest positives (imbalanced-learn)",
}
"""``data.resample``: applied to the training split only, after preprocessing, seeded by the data's seed."""

SMOTE_NEIGHBOURS = 5  # imbalanced-learn's default k_neighbors

CALIBRATIONS: dict[str, str] = {
    "none": "the model's scores as they come",
    "platt": "logistic regression on the logit of the score, fitted on validation (Platt scaling)",
    "isotonic": "a non-decreasing step map fitted on validation (isotonic regression)",
}
"""``eval.calibrate``: a map from scores to probabilities fitted on the validation split after training."""

DEFAULT_MODEL = "mlp"
"""Runs written before ``model.name`` existed are MLPs."""

DEFAULT_LOSS = "bce"
"""A baseline model without a loss written in its label fits its own likelihood: cross-entropy."""


def method_label(loss_label: str, model: str | None = None, resample: str | None = None) -> str:
    """One readable name per method: ``bce``, ``f1``, ``bce+smote``, ``logistic``, ``gbdt``, ``wbce+random_under``.

    An MLP is named by its loss (so every report written before models and resamplers keeps its labels); another
    model by its name, with the loss after it unless it is plain cross-entropy (``logistic+wbce``); a resampler
    comes last.
    """
    model = model or DEFAULT_MODEL
    parts = [loss_label] if model == DEFAULT_MODEL else [model, *([loss_label] if loss_label != DEFAULT_LOSS else [])]
    if resample and resample != "none":
        parts.append(resample)
    return "+".join(parts)


def config_method_label(config: Mapping[str, Any], loss_label: str | None) -> str | None:
    """:func:`method_label` of a run's resolved config (nested mapping); keys it lacks take their defaults.

    ``None`` without a loss label (a run that failed before it recorded one).
    """
    if not loss_label:
        return None
    model = config.get("model")
    data = config.get("data")
    name = model.get("name") if isinstance(model, Mapping) else None
    resample = data.get("resample") if isinstance(data, Mapping) else None
    return method_label(
        loss_label, name if isinstance(name, str) else None, resample if isinstance(resample, str) else None
    )


def available_models() -> dict[str, str]:
    """The models ``model.name`` accepts, with what each is (just the MLP where the config has no ``model.name``)."""
    from typing import get_args

    from hfa.config import ModelConfig

    field = ModelConfig.model_fields.get("name")
    if field is None:  # a config without model.name trains the MLP only
        return {DEFAULT_MODEL: MODELS[DEFAULT_MODEL]}
    # A Literal lists its names; a free-form name checked elsewhere is taken to accept the models described here.
    names = get_args(field.annotation) or tuple(MODELS)
    return {name: MODELS.get(name, "") for name in names}
