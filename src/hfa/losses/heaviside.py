r"""Differentiable approximations of the Heaviside step :math:`\mathbb{1}[p \ge \tau]`.

``heaviside`` is the piecewise-linear approximation of Tsoi et al.; ``sigmoid_step`` is the sigmoid offered for
ablations. Both accept a scalar threshold (result shaped like ``p``) or a 1-D tensor of ``T`` thresholds (result
shaped ``(T, *p.shape)``, thresholds along the first axis), so a whole threshold grid is one vectorised call.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hfa.losses._checks import check_delta, check_inputs, check_positive, check_tau

__all__ = ["heaviside", "sigmoid_step"]


def _heaviside_table(tau: Tensor, delta: float) -> Tensor:
    """The constants of :func:`heaviside` for each threshold, stacked: shape ``(8, *tau.shape)``.

    Rows: lower and upper breakpoint, then the slope and the intercept of the left, middle and right piece written
    as ``intercept + slope * p``. They depend only on ``tau`` and ``delta``, so a loss module computes them once.
    """
    tm = torch.minimum(tau, 1 - tau)
    lower = tau - tm / 2
    upper = tau + tm / 2
    # The denominators are all >= min(tau, 1 - tau) / 2 > 0.
    slope_l, slope_m, slope_r = delta / lower, (1 - 2 * delta) / tm, delta / (1 - upper)
    icpt_l, icpt_m, icpt_r = torch.zeros_like(tau), 0.5 - slope_m * tau, (1 - delta) - slope_r * upper
    return torch.stack((lower, upper, slope_l, slope_m, slope_r, icpt_l, icpt_m, icpt_r))


def _heaviside_apply(p: Tensor, table: Tensor) -> Tensor:
    """H(p) from a :func:`_heaviside_table`: like ``p`` for a scalar threshold, ``(T, *p.shape)`` for ``T``."""
    table = table.to(dtype=p.dtype, device=p.device)
    lower, upper, slope_l, slope_m, slope_r, icpt_l, icpt_m, icpt_r = table.reshape(*table.shape, *([1] * p.dim()))
    below = p < lower
    above = p > upper
    # Selecting the piece's constants rather than among three differentiated pieces leaves autograd one
    # multiply-add to differentiate, and no discarded branch to carry. The middle piece is closed, as in docs/maths.md,
    # so at a breakpoint the gradient is the middle slope (> 0 like the others).
    slope = torch.where(below, slope_l, torch.where(above, slope_r, slope_m))
    intercept = torch.where(below, icpt_l, torch.where(above, icpt_r, icpt_m))
    return intercept + slope * p


def _heaviside(p: Tensor, tau: float | Tensor, delta: float) -> Tensor:
    """:func:`heaviside` without argument checks."""
    tau = torch.as_tensor(tau, dtype=p.dtype, device=p.device)
    return _heaviside_apply(p, _heaviside_table(tau, delta))


def _sigmoid_step(p: Tensor, tau: float | Tensor, k: float) -> Tensor:
    """:func:`sigmoid_step` without argument checks."""
    tau = torch.as_tensor(tau, dtype=p.dtype, device=p.device)
    # exp rather than torch.sigmoid: every element rounds alike wherever it sits, so rows of a stack match
    # the same rows alone (see hfa.losses.binned).
    return 1 / (1 + torch.exp(-k * (p - tau.reshape(*tau.shape, *([1] * p.dim())))))


def heaviside(p: Tensor, tau: float | Tensor = 0.5, delta: float = 0.1) -> Tensor:
    r"""Piecewise-linear Heaviside approximation :math:`H(p; \tau, \delta)` (Tsoi et al.).

    With :math:`t_m = \min(\tau, 1 - \tau)`:

    .. math::

        H(p) = \begin{cases}
            p\,\delta / (\tau - t_m/2) & p < \tau - t_m/2 \\
            1/2 + (p - \tau)(1 - 2\delta) / t_m & \tau - t_m/2 \le p \le \tau + t_m/2 \\
            1 - \delta + (p - \tau - t_m/2)\,\delta / (1 - \tau - t_m/2) & p > \tau + t_m/2
        \end{cases}

    so :math:`H(0)=0`, :math:`H(\tau)=1/2`, :math:`H(1)=1`, :math:`H(\tau \mp t_m/2) = \delta,\ 1-\delta`; it is
    continuous and strictly increasing with a slope > 0 everywhere, so gradients never vanish (at the two inner
    breakpoints autograd gives the slope of the middle piece).

    Args:
        p: probabilities, any shape.
        tau: threshold in (0, 1): a number or 0-D tensor (result shaped like ``p``), or a 1-D tensor of ``T``
            thresholds (result shaped ``(T, *p.shape)``).
        delta: value of ``H`` at the inner breakpoints, in (0, 0.5); smaller flattens ``H`` towards 0 and 1
            outside the ramp around ``tau``, whose width ``min(tau, 1 - tau)`` does not depend on ``delta``.

    Raises:
        HfaError: (a ``ValueError``) if ``tau`` is outside (0, 1), ``delta`` outside (0, 0.5), or a value of ``p``
            outside [0, 1] (the pieces are defined there; beyond, H would leave [0, 1]).
        TypeError: if ``p`` is not a tensor.
    """
    check_inputs("heaviside()", ("p", p))
    return _heaviside(p, check_tau(tau), check_delta(delta))


def sigmoid_step(p: Tensor, tau: float | Tensor = 0.5, k: float = 10.0) -> Tensor:
    r"""Sigmoid approximation of the step: :math:`1 / (1 + e^{-k (p - \tau)})`.

    Same shapes as :func:`heaviside`. Unlike ``heaviside`` it does not reach 0 and 1 at ``p = 0, 1``, and its
    slope decays (slowly for the usual ``k``) away from ``tau``.

    Raises:
        HfaError: (a ``ValueError``) if ``tau`` is outside (0, 1), ``k`` is not > 0, or a value of ``p`` outside
            [0, 1].
        TypeError: if ``p`` is not a tensor.
    """
    check_inputs("sigmoid_step()", ("p", p))
    return _sigmoid_step(p, check_tau(tau), check_positive("k", k))
