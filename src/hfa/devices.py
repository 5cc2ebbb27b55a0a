"""Turn ``train.device`` into a ``torch.device``, refusing accelerators that are not there."""

from __future__ import annotations

import torch

from hfa.errors import HfaError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit accelerator must exist."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise HfaError("train.device=mps but no MPS device is available here; use train.device=auto or cpu")
        return torch.device("mps")
    if spec.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise HfaError(f"train.device={spec} but CUDA is not available here; use train.device=auto or cpu")
        index = int(spec.partition(":")[2] or 0)
        if index >= count:
            raise HfaError(f"train.device={spec} but only {count} CUDA device(s) exist (cuda:0..cuda:{count - 1})")
        return torch.device("cuda", index)
    raise HfaError(f"train.device={spec!r} is not a device; allowed: auto, cpu, cuda, cuda:N, mps")
