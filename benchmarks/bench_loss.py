"""Case 1: forward + backward of ``hfa.losses.FBetaLoss`` (9 thresholds) against the authors' package, torch-btg.

torch-btg 0.0.1 (Tsoi et al.'s ``mean_fbeta_approx_loss_on``, in the ``dev`` extra) is timed on the same logits,
with the same grid and Heaviside slope (``linear_approx(0.1)``). It moves one intermediate to the GPU with an
unconditional ``.cuda()``; off CUDA that call is made the identity for the duration of each call. Its F-beta
places the epsilon differently and writes ``H`` in its own way, so its value differs from hfa's; the loop below
checks hfa's value and gradient against the formula as written in the paper, one threshold at a time.
"""

from __future__ import annotations

import contextlib

import torch

from common import Row, Settings, calls_for, compare, fmt_count, fmt_flops, fmt_seconds
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


def authors_loss(device: torch.device):
    """torch-btg's F-beta loss as ``loss(logits, targets)``, or the reason it cannot run here."""
    try:
        from torch_btg.confusion import linear_approx
        from torch_btg.loss import mean_fbeta_approx_loss_on
    except ImportError:
        return "torch-btg is not installed (pip install --no-deps torch-btg==0.0.1, or the dev extra)"
    loss = mean_fbeta_approx_loss_on(device=device, beta=BETA, approx=linear_approx(DELTA))

    @contextlib.contextmanager
    def cuda_is_identity():
        if device.type == "cuda":
            yield
            return
        original = torch.Tensor.cuda
        torch.Tensor.cuda = lambda self, *args, **kwargs: self  # its _heaviside_sum calls .cuda() unconditionally
        try:
            yield
        finally:
            torch.Tensor.cuda = original

    def call(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with cuda_is_identity():
            return loss(torch.sigmoid(logits), targets)[0]

    return call


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


def arithmetic(n: int, thresholds: int) -> float:
    """FLOP one forward + backward of the binned loss needs: per sample, the logistic (4), the bin search
    (log2 of 2T + 1 comparisons), two sums and the gradient (5); per batch, the counts ((T + 1) x 2K x 2 x 2) and
    the per-bin slopes backward (T x K x 2 x 2), with K = 2T + 1 bins."""
    bins = 2 * thresholds + 1
    per_sample = 4 + bins.bit_length() + 2 + 5
    return n * per_sample + 4 * (thresholds + 1) * 2 * bins + 4 * thresholds * bins


def tensor_ops(step) -> int:
    """How many ATen operations one call runs (forward and backward): at small N, what its time is made of."""
    from torch.profiler import profile

    step()
    with profile() as prof:
        step()
    # The outermost ATen calls only (an op's own inner calls are part of its cost); views and metadata ops count,
    # as each costs a dispatch.
    return sum(
        1
        for event in prof.events()
        if event.name.startswith("aten::")
        and (event.cpu_parent is None or not event.cpu_parent.name.startswith("aten::"))
    )


def run(settings: Settings) -> list[Row]:
    device = settings.device
    hfa_loss = FBetaLoss(beta=BETA, thresholds=AUTHORS_THRESHOLDS, delta=DELTA).to(device)
    authors = authors_loss(device)
    budget = 0.05 if settings.quick else 0.1
    rows = []
    for n in SIZES:
        logits, targets = _inputs(n, device)
        _check_same(hfa_loss, logits, targets)
        candidates = {"hfa": _step(hfa_loss, logits, targets), "loop": _step(looped_fbeta_loss, logits, targets)}
        if callable(authors):
            candidates["torch-btg"] = _step(authors, logits, targets)
        calls = {name: calls_for(fn, device, budget) for name, fn in candidates.items()}
        seconds = compare(candidates, device, settings.repeats, calls=calls)
        flop = arithmetic(n, len(AUTHORS_THRESHOLDS))
        extra = {
            "samples": n,
            "flop": flop,
            "flop_per_s": flop / seconds["hfa"],
            "aten_ops": tensor_ops(candidates["hfa"]),
        }
        if settings.matmul_flops:
            extra["matmul_fraction"] = extra["flop_per_s"] / settings.matmul_flops
        size = f"{fmt_count(n)} rows"

        def row(case: str, baseline: str, target: float | None, note: str, size=size, seconds=seconds, extra=extra):
            other = seconds.get(baseline)
            ratio = float("nan") if other is None else other / seconds["hfa"]
            return Row(
                case=case,
                size=size,
                hfa=fmt_seconds(seconds["hfa"]),
                baseline="skipped" if other is None else fmt_seconds(other),
                ratio=ratio,
                target="reference" if target is None else f">= {target:g}x",
                met=None if target is None or other is None else ratio >= target,
                hfa_value=seconds["hfa"],
                baseline_value=other,
                unit="s per forward+backward",
                repeats=settings.repeats,
                note=note,
                extra=extra,
            )

        grid = f"{len(AUTHORS_THRESHOLDS)} thresholds, delta {DELTA:g}"
        ops = f"{extra['aten_ops']} tensor ops per call, {fmt_flops(flop)}"
        btg_note = f"FBetaLoss vs torch_btg mean_fbeta_approx_loss_on, {grid}; {ops}"
        rows.append(
            row("loss vs torch-btg", "torch-btg", TARGET, btg_note if callable(authors) else f"skipped: {authors}")
        )
        rows.append(
            row("loss vs loop", "loop", None, f"FBetaLoss vs a loop over the {grid}; same value and gradient checked")
        )
    return rows
