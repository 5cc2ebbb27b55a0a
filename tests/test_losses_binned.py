"""The binned O(N log T) soft-confusion kernel equals the dense (T, N) computation, forward and backward."""

from __future__ import annotations

import pytest
import torch

from hfa.losses.binned import BinnedTable, binned_counts
from hfa.losses.confusion import _counts
from hfa.losses.heaviside import _heaviside_apply, _heaviside_table

GRIDS = {
    "authors": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "single": [0.5],
    # Breakpoints closer together than one lookup cell (1/1024), so several share a cell.
    "crowded": [0.5, 0.5001, 0.5002, 0.5003, 0.3],
    "extreme": [0.001, 0.999, 0.02],
}


def dense(p, y, w, tau, delta):
    return _counts(_heaviside_apply(p, _heaviside_table(tau, delta)), y, w)


@pytest.mark.parametrize("grid", list(GRIDS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("delta", [0.05, 0.2, 0.45])
def test_binned_equals_dense_forward_and_backward(grid, weighted, delta):
    gen = torch.Generator().manual_seed(len(grid) * 7 + int(weighted))
    n = 3000
    # Mix uniform values with values crowded around the breakpoints, and a few outside [0, 1].
    tau = torch.tensor(GRIDS[grid], dtype=torch.float64)
    near = tau[torch.randint(0, tau.numel(), (n // 3,), generator=gen)] + 1e-4 * torch.randn(n // 3, generator=gen)
    p = torch.cat(
        (
            torch.rand(n - n // 3 - 2, generator=gen, dtype=torch.float64),
            near.double(),
            torch.tensor([-0.1, 1.2], dtype=torch.float64),
        )
    )
    y = (torch.rand(p.numel(), generator=gen) < 0.3).double()
    w = torch.rand(p.numel(), generator=gen, dtype=torch.float64) + 0.5 if weighted else None
    p1, p2 = p.clone().requires_grad_(), p.clone().requires_grad_()
    fast = binned_counts(p1, y, w, BinnedTable(_heaviside_table(tau, delta)))
    slow = dense(p2, y, w, tau, delta)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-8)
    upstream = torch.randn(4, tau.numel(), generator=gen, dtype=torch.float64)
    sum((u * c).sum() for u, c in zip(upstream, fast, strict=True)).backward()
    sum((u * c).sum() for u, c in zip(upstream, slow, strict=True)).backward()
    # Gradients agree except exactly on a breakpoint, where the two pick different one-sided slopes.
    torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-10, atol=1e-8)


def test_binned_gradcheck():
    gen = torch.Generator().manual_seed(0)
    tau = torch.tensor(GRIDS["authors"], dtype=torch.float64)
    table = BinnedTable(_heaviside_table(tau, 0.1))
    # Away from breakpoints, where H is differentiable.
    p = torch.rand(40, generator=gen, dtype=torch.float64)
    p = p[(((p[:, None] - tau.repeat(2)[None, :]).abs()) > 0.01).all(1)].requires_grad_()
    y = (torch.rand(p.numel(), generator=gen) < 0.4).double()
    w = torch.rand(p.numel(), generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda q: binned_counts(q, y, None, table), (p,))
    assert torch.autograd.gradcheck(lambda q: binned_counts(q, y, w, table), (p,))


def test_binned_float32_matches_float64():
    gen = torch.Generator().manual_seed(1)
    tau = torch.tensor(GRIDS["authors"], dtype=torch.float64)
    table = BinnedTable(_heaviside_table(tau, 0.1))
    p = torch.rand(65536, generator=gen, dtype=torch.float64)
    y = (torch.rand(65536, generator=gen) < 0.05).double()
    for a, b in zip(binned_counts(p.float(), y.float(), None, table), binned_counts(p, y, None, table), strict=True):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-2)
