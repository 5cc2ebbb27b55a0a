"""Loss names -> how to build them, which parameters they use, and what they compute.

``LOSSES`` is :data:`~hfa.loss_catalog.CATALOG` (what config validation checks names against and ``hfa losses``
lists) with the module class of each loss; ``build_loss`` turns a name and the (whole) loss section of a
config into a module; ``loss_label`` names a configured loss in reports.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from hfa.errors import HfaError
from hfa.loss_catalog import CATALOG, PARAMETERS
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
    WeightedBCELoss,
)

__all__ = ["LOSSES", "PARAMETERS", "LossSpec", "build_loss", "loss_label"]


@dataclass(frozen=True)
class LossSpec:
    """One registered loss.

    Attributes:
        factory: builds the module from keyword arguments named in ``params``.
        params: the parameters (from :data:`PARAMETERS`) the loss uses; others are ignored when building.
        formula: one-line formula.
        summary: one-line description.
    """

    factory: Callable[..., nn.Module]
    params: tuple[str, ...]
    formula: str
    summary: str

    def defaults(self) -> dict[str, Any]:
        """Default value of each parameter in :attr:`params`, read from the factory's signature."""
        signature = inspect.signature(self.factory)
        return {name: signature.parameters[name].default for name in self.params}


_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "bce": BCELoss,
    "wbce": WeightedBCELoss,
    "focal": FocalLoss,
    "f1": F1Loss,
    "fbeta": FBetaLoss,
    "accuracy": AccuracyLoss,
    "balanced_accuracy": BalancedAccuracyLoss,
    "mcc": MCCLoss,
    "auroc": AUROCLoss,
}

LOSSES: dict[str, LossSpec] = {
    name: LossSpec(_FACTORIES[name], info.params, info.formula, info.summary) for name, info in CATALOG.items()
}
"""Every loss of :data:`~hfa.loss_catalog.CATALOG` by name, with the class that builds it."""


def _spec(name: str) -> LossSpec:
    spec = LOSSES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise HfaError(f"unknown loss {name!r}; allowed: {', '.join(LOSSES)}")
    return spec


def build_loss(name: str, **params: Any) -> nn.Module:
    """The loss module ``name`` built from the parameters it uses; the others (and ``None`` values) are ignored.

    So a whole ``loss`` config section can be passed: ``build_loss(cfg.name, **cfg.model_dump())`` works for every
    loss. A ``wbce`` with ``pos_weight="auto"`` still needs ``.fit(train_targets)``; every loss has ``fit``.

    Raises:
        HfaError: an unknown name (the message lists the allowed ones) or a value out of range (the message names
            the parameter and its range).
    """
    spec = _spec(name)
    used = {key: value for key, value in params.items() if key in spec.params and value is not None}
    return spec.factory(**used)


LIST_SHOWN = 4


def _format(value: Any, whole: bool = False) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        items = [_format(v) for v in value]
        if len(items) <= LIST_SHOWN:
            return "[" + ",".join(items) + "]"
        if whole:  # a reader's label: an even grid as its ends and step, any other list as its values
            steps = (
                {f"{b - a:.6g}" for a, b in itertools.pairwise(value)}
                if all(isinstance(v, (int, float)) for v in value)
                else set()
            )
            if len(steps) == 1:
                return f"[{items[0]}..{items[-1]} by {steps.pop()}]"
            return "[" + ",".join(items) + "]"
        # A label a table can hold (one weight per label of a multi-label set is 14+ numbers); the digest of
        # every value keeps two lists that share their ends apart.
        digest = hashlib.sha256(",".join(items).encode()).hexdigest()[:4]
        return f"[{items[0]}…{items[-1]}]#{digest}"
    return str(value)


def _distinguishes(name: str, key: str, value: Any, default: Any, params: Mapping[str, Any]) -> bool:
    if name == "fbeta" and key == "beta":
        return True  # an F-beta label without its beta is ambiguous
    if key == "thresholds":
        return tuple(float(t) for t in value) != AUTHORS_THRESHOLDS
    approx = params.get("approx") or "heaviside"
    if key == "delta" and approx != "heaviside" or key == "k" and approx != "sigmoid":
        return False  # the parameter of the step approximation not in use
    return value != default


def loss_label(name: str, params: Mapping[str, Any], whole_lists: bool = False) -> str:
    """A short label for reports: the name plus only the parameters that tell configured losses apart.

    ``fbeta`` always shows ``beta``; ``wbce`` shows ``pos_weight`` unless ``"auto"``; other parameters appear
    when they differ from the default (``delta`` only with the Heaviside step, ``k`` only with the sigmoid).
    Examples: ``bce``, ``wbce``, ``wbce(pos_weight=10)``, ``f1``, ``fbeta(beta=2)``, ``focal(gamma=1)``,
    ``f1(delta=0.05)``, ``auroc(approx=sigmoid,k=20)``. A list of more than four values is cut to its ends and a
    digest of the rest (``[1…3]#eeea``, short enough for a run id); with ``whole_lists``, as run.json's label that
    reports and figure legends show, it reads ``[0.1..0.9 by 0.1]`` for an even grid and lists every value otherwise.

    Raises:
        HfaError: for an unknown name.
    """
    spec = _spec(name)
    defaults = spec.defaults()
    shown = [
        f"{key}={_format(params[key], whole_lists)}"
        for key in spec.params
        if params.get(key) is not None and _distinguishes(name, key, params[key], defaults[key], params)
    ]
    if name == "fbeta" and params.get("beta") is None:
        shown.insert(0, f"beta={_format(defaults['beta'])}")
    return f"{name}({','.join(shown)})" if shown else name
