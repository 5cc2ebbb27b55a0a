"""Case 1: forward + backward of ``hfa.losses.FBetaLoss`` over 9 thresholds against a loop over thresholds."""

from __future__ import annotations

import torch

from common import Row, Settings, calls_for, compare, fmt_count, fmt_seconds
from hfa.losses import AUTHORS_THRESHOLDS, FBetaLoss

SIZES = (1_024, 65_536)
TARGET = 10.0
BETA = 1.0
DELTA = 0.1


def looped_fbeta_loss(
    logits: torch.Tensor, targets: torch.Tensor, thresholds=AUTHORS_THRESHOLDS, delta=DELTA, beta=BETA
) -> torch.Tensor:
    """The way one writes the loss straight from the paper: one threshold at a time, then the mean."""
    p = torch.sigmoid(logits)
    y = targets.to(p.dtype)
    b2 = beta**2
    scores = []
    for tau in thresholds:
        tm = min(tau, 1 - tau)
        lower, upper = tau - tm / 2, tau + tm / 2
        h = torch.where(
            p < lower,
            p * delta / lower,
            torch.where(
                p > upper,
                1 - delta + (p - upper) * delta / (1 - upper),
                0.5 + (p - tau) * (1 - 2 * delta) / tm,
            ),
        )
        tp = (y * h).sum()
        fp = ((1 - y) * h).sum()
        fn = (y * (1 - h)).sum()
        scores.append((1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + 1e-7))
    return 1 - torch.stack(scores).mean()


def _inputs(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(n)
    targets = (torch.rand(n, generator=generator) < 0.1).float()
    # Logits that separate the classes a little, so every threshold's soft counts are non-trivial.
    logits = torch.randn(n, generator=generator) + 2 * targets - 1
    return logits.to(device).requires_grad_(True), targets.to(device)


def _step(loss_fn, logits: torch.Tensor, targets: torch.Tensor):
    def step() -> None:
        logits.grad = None
        loss_fn(logits, targets).backward()

    return step


def _check_same(hfa_loss, logits: torch.Tensor, targets: torch.Tensor) -> None:
    """Timing two functions is only meaningful if they compute the same loss and the same gradient."""
    values, grads = [], []
    for fn in (hfa_loss, looped_fbeta_loss):
        logits.grad = None
        value = fn(logits, targets)
        value.backward()
        values.append(value.detach())
        grads.append(logits.grad.detach().clone())
    torch.testing.assert_close(values[0], values[1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-8)
    logits.grad = None


def run(settings: Settings) -> list[Row]:
    device = settings.device
    hfa_loss = FBetaLoss(beta=BETA, thresholds=AUTHORS_THRESHOLDS, delta=DELTA).to(device)
    budget = 0.05 if settings.quick else 0.1
    rows = []
    for n in SIZES:
        logits, targets = _inputs(n, device)
        _check_same(hfa_loss, logits, targets)
        candidates = {
            "hfa": _step(hfa_loss, logits, targets),
            "loop": _step(looped_fbeta_loss, logits, targets),
        }
        calls = {name: calls_for(fn, device, budget) for name, fn in candidates.items()}
        seconds = compare(candidates, device, settings.repeats, calls=calls)
        ratio = seconds["loop"] / seconds["hfa"]
        rows.append(
            Row(
                case="loss",
                size=f"{fmt_count(n)} rows",
                hfa=fmt_seconds(seconds["hfa"]),
                baseline=fmt_seconds(seconds["loop"]),
                ratio=ratio,
                target=f">= {TARGET:g}x",
                met=ratio >= TARGET,
                hfa_value=seconds["hfa"],
                baseline_value=seconds["loop"],
                unit="s per forward+backward",
                repeats=settings.repeats,
                note=f"FBetaLoss vs a loop over {len(AUTHORS_THRESHOLDS)} thresholds; same value and gradient checked",
            )
        )
    return rows
