"""Parameter and input checks shared by the loss functions and modules.

Every value check raises :class:`hfa.errors.HfaError` (a ``ValueError``) with one line naming the parameter, the
allowed range and the value given, so the same message reads well from Python and from the command line. An input
that is not a tensor is a ``TypeError`` (PyTorch's convention for an argument of the wrong type) naming the argument
and the type given.

The input checks (:func:`check_inputs`) run in the public entry points only: ``heaviside``, ``sigmoid_step``,
``soft_confusion`` and a loss module's ``forward`` and ``counts``. Reading a tensor's values back is a device sync
on a GPU, so the training path (``per_row``, ``value_and_grad``, fed by hfa's own data checks) does not repeat them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
import torch
from torch import Tensor

from hfa.errors import HfaError

APPROXIMATIONS = ("heaviside", "sigmoid")
REDUCTIONS = ("mean", "sum", "none")


def _is_number(value: object) -> bool:
    # bool is an int subclass; True as a slope or threshold is a mistake, not 1.
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


def check_open(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a float, or HfaError unless it is a number with ``low < value < high``."""
    if not _is_number(value) or not low < float(value) < high:
        raise HfaError(f"{name} must be a number in ({low:g}, {high:g}) (got {value!r})")
    return float(value)


def check_closed(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a float, or HfaError unless it is a number with ``low <= value <= high``."""
    if not _is_number(value) or not low <= float(value) <= high:
        raise HfaError(f"{name} must be a number in [{low:g}, {high:g}] (got {value!r})")
    return float(value)


def check_positive(name: str, value: object) -> float:
    """``value`` as a float, or HfaError unless it is a finite number > 0."""
    if not _is_number(value) or not float(value) > 0:
        raise HfaError(f"{name} must be a number > 0 (got {value!r})")
    return float(value)


def check_non_negative(name: str, value: object) -> float:
    """``value`` as a float, or HfaError unless it is a finite number >= 0."""
    if not _is_number(value) or not float(value) >= 0:
        raise HfaError(f"{name} must be a number >= 0 (got {value!r})")
    return float(value)


def check_pos_weight(value: object) -> float:
    """A fixed weight of positives: a finite number > 0 (``"auto"`` is handled by the caller)."""
    if not _is_number(value) or not float(value) > 0:
        raise HfaError(f"pos_weight must be 'auto' or a number > 0 (got {value!r})")
    return float(value)


def check_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    """``value``, or HfaError unless it is one of ``allowed``."""
    if value not in allowed:
        raise HfaError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    return str(value)


def check_tau(tau: float | torch.Tensor, name: str = "tau") -> float | torch.Tensor:
    """A threshold (number or 0-/1-D tensor) with every value in (0, 1), else HfaError.

    Checking a tensor reads its values back (a device sync on GPU); modules therefore check their thresholds once,
    when built, and the hot path uses the unchecked kernels.
    """
    if isinstance(tau, torch.Tensor):
        if tau.dim() > 1:
            raise HfaError(f"{name} must be a number or a 1-D tensor of thresholds (got shape {tuple(tau.shape)})")
        if tau.numel() == 0 or not bool(((tau > 0) & (tau < 1)).all()):
            raise HfaError(f"every {name} must lie in (0, 1) (got {tau.tolist()})")
        return tau
    return check_open(name, tau, 0.0, 1.0)


def check_thresholds(thresholds: object, name: str = "thresholds") -> tuple[float, ...] | torch.Tensor:
    """A number, non-empty sequence, numpy array or 0-/1-D tensor of thresholds in (0, 1), else HfaError."""
    if isinstance(thresholds, torch.Tensor):
        return check_tau(thresholds.reshape(-1) if thresholds.dim() == 0 else thresholds, name)
    if isinstance(thresholds, np.ndarray):
        thresholds = thresholds.reshape(-1).tolist()
    elif _is_number(thresholds):
        thresholds = (thresholds,)
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence) or len(thresholds) == 0:
        raise HfaError(f"{name} must be a non-empty list of numbers in (0, 1) (got {thresholds!r})")
    if not all(_is_number(t) and 0 < float(t) < 1 for t in thresholds):
        raise HfaError(f"every value of {name} must be a number in (0, 1) (got {list(thresholds)!r})")
    return tuple(float(t) for t in thresholds)


def check_delta(delta: object) -> float:
    """The Heaviside slope parameter, in (0, 0.5)."""
    return check_open("delta", delta, 0.0, 0.5)


def per_sample(name: str, values: Tensor, n: int) -> Tensor:
    """``values`` flattened to ``(n,)``, or ValueError (a programming error, not user input) naming ``name``."""
    if values.numel() != n:
        raise ValueError(f"{name} must hold one value per sample ({n}), got shape {tuple(values.shape)}")
    return values if values.dim() == 1 else values.reshape(-1)


def check_tensor(where: str, name: str, value: object, optional: bool = False) -> None:
    """TypeError unless ``value`` is a torch Tensor (or None, when ``optional``), naming ``where`` and the type."""
    if not isinstance(value, Tensor) and not (optional and value is None):
        raise TypeError(f"{where}: {name} must be a torch.Tensor, not {type(value).__name__}")


def check_unit_interval(where: str, name: str, values: Tensor) -> None:
    """HfaError unless every value lies in [0, 1] (NaN does not): one vectorised reduction, no loop over samples."""
    if values.dtype == torch.bool or values.numel() == 0:
        return
    inside = (values >= 0) & (values <= 1)
    if not bool(inside.all()):
        bad = values.detach()[~inside].reshape(-1)[0].item()
        raise HfaError(f"{where}: every value of {name} must lie in [0, 1] (got {bad:g})")


def check_inputs(where: str, scores: tuple[str, Tensor], targets: Tensor | None = None, weights: object = None) -> None:
    """A public entry point's inputs: tensors (``TypeError`` otherwise), targets in [0, 1] (labels, or soft labels
    such as smoothed ones; 2 is a mistake a metric loss would silently count as two positives), and ``scores``
    in [0, 1] where it holds probabilities (``("p", p)``; logits, named ``"logits"``, are any real)."""
    name, values = scores
    check_tensor(where, name, values)
    if name != "logits":
        check_unit_interval(where, name, values)
    if targets is not None:
        check_tensor(where, "targets", targets)
        check_unit_interval(where, "targets", targets)
    check_tensor(where, "weights", weights, optional=True)
