"""Python numbers as the 0-d tensors an operation would make of them, made once.

Why: a PyTorch operation given a Python number (``x.add_(1)``, ``1 - p``, ``x.mean()``'s count) first copies it
into a tensor of the operand's dtype, a few microseconds a call; a training step of small batches makes dozens of
such calls, and that copy was a tenth of a loss's time. Given the 0-d tensor of the same value in the operand's
dtype, the operation does the very same arithmetic, so every bit is the same. Half and bfloat16 keep the number:
there an operation computes with it in float32, which a half tensor would round first.
"""

from __future__ import annotations

import torch

EXACT_DTYPES = (torch.float32, torch.float64)
"""Where a 0-d tensor operand computes exactly as the number would (see the module docstring)."""
_MADE: dict[tuple[float, torch.dtype, torch.device], torch.Tensor] = {}


def operand(value: float, like: torch.Tensor) -> torch.Tensor | float:
    """``value`` as a 0-d tensor in ``like``'s dtype and device (``value`` itself for other dtypes)."""
    if like.dtype not in EXACT_DTYPES:
        return value
    key = (value, like.dtype, like.device)
    made = _MADE.get(key)
    if made is None:
        made = _MADE[key] = torch.tensor(value, dtype=like.dtype, device=like.device)
    return made
