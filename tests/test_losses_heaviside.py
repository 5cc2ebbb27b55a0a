"""The step approximations and the soft confusion matrix, against the formulas of docs/maths.md and scikit-learn."""

import functools

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from hfa.errors import HfaError
from hfa.losses import AUTHORS_THRESHOLDS, heaviside, sigmoid_step, soft_confusion

# 0.25 is where the middle piece stops being the steepest (tau <= 0.5); cover both sides of it.
DELTAS = (0.001, 0.1, 0.3, 0.49)
F64 = torch.float64


def assert_close(actual, expected, rtol=1e-10, atol=1e-12):
    """Same dtype and shape, values within tolerance (torch.testing's first call costs ~2 s of imports)."""
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=atol)


def reference_h(p, tau, delta):
    """H(p; tau, delta) written straight from the table in docs/maths.md, in numpy."""
    p = np.asarray(p, dtype=np.float64)
    tm = min(tau, 1 - tau)
    return np.select(
        [p < tau - tm / 2, p <= tau + tm / 2],
        [p * delta / (tau - tm / 2), 0.5 + (p - tau) * (1 - 2 * delta) / tm],
        1 - delta + (p - tau - tm / 2) * delta / (1 - tau - tm / 2),
    )


def breakpoints(tau):
    tm = min(tau, 1 - tau)
    return tau - tm / 2, tau + tm / 2


@functools.cache
def _dense_grid(tau):
    special = torch.tensor([*breakpoints(tau), tau], dtype=F64)
    grid = torch.linspace(0, 1, 20001, dtype=F64)
    grid = grid[(grid[:, None] - special[None, :]).abs().min(1).values > 1e-9]
    return torch.sort(torch.cat((grid, special))).values


def dense_grid(tau):
    """0..1 in 20,001 steps plus the breakpoints and tau themselves, sorted, points >= 1e-9 apart.

    Grid points within rounding of a breakpoint are dropped: two points an ulp apart cannot show an increase.
    """
    return _dense_grid(tau).clone()


@pytest.mark.parametrize("tau", AUTHORS_THRESHOLDS)
@pytest.mark.parametrize("delta", DELTAS)
class TestHeavisideProperties:
    def test_fixed_points(self, tau, delta):
        lower, upper = breakpoints(tau)
        values = heaviside(torch.tensor([0.0, tau, 1.0, lower, upper], dtype=F64), tau, delta)
        assert values.tolist() == pytest.approx([0.0, 0.5, 1.0, delta, 1 - delta], abs=1e-12)

    def test_matches_the_spec_table(self, tau, delta):
        p = dense_grid(tau)
        np.testing.assert_allclose(heaviside(p, tau, delta).numpy(), reference_h(p.numpy(), tau, delta), atol=1e-12)

    def test_continuous_at_the_breakpoints(self, tau, delta):
        eps = 1e-9
        for b in breakpoints(tau):
            left, at, right = heaviside(torch.tensor([b - eps, b, b + eps], dtype=F64), tau, delta).tolist()
            # Slopes are at most ~20 for these tau and delta, so a jump would dwarf 20 * eps.
            assert abs(at - left) < 25 * eps
            assert abs(right - at) < 25 * eps

    def test_strictly_increasing(self, tau, delta):
        p = dense_grid(tau)
        assert bool((torch.diff(heaviside(p, tau, delta)) > 0).all())

    def test_gradient_positive_everywhere(self, tau, delta):
        p = dense_grid(tau).requires_grad_()
        heaviside(p, tau, delta).sum().backward()
        assert bool((p.grad > 0).all())
        # Away from the breakpoints the gradient is the slope of the piece.
        lower, upper = breakpoints(tau)
        expected = np.select(
            [p.detach().numpy() < lower, p.detach().numpy() <= upper],
            [delta / lower, (1 - 2 * delta) / min(tau, 1 - tau)],
            delta / (1 - upper),
        )
        away = (np.abs(p.detach().numpy() - lower) > 1e-9) & (np.abs(p.detach().numpy() - upper) > 1e-9)
        np.testing.assert_allclose(p.grad.numpy()[away], expected[away], rtol=1e-9)


def test_vector_tau_gives_one_row_per_threshold():
    p = torch.rand(50, dtype=F64)
    taus = torch.tensor(AUTHORS_THRESHOLDS, dtype=F64)
    rows = heaviside(p, taus, 0.1)
    assert rows.shape == (9, 50)
    for row, tau in zip(rows, AUTHORS_THRESHOLDS, strict=True):
        np.testing.assert_allclose(row.numpy(), reference_h(p.numpy(), tau, 0.1), atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_shape_follow_p(dtype):
    p = torch.rand(7, 1, dtype=dtype)
    assert heaviside(p, 0.3).dtype == dtype
    assert heaviside(p, 0.3).shape == (7, 1)
    assert heaviside(p, torch.tensor(0.3)).shape == (7, 1)  # 0-D tensor tau: like p
    assert heaviside(p, torch.tensor([0.3, 0.6], dtype=F64)).shape == (2, 7, 1)
    assert heaviside(p, torch.tensor([0.3, 0.6])).dtype == dtype
    assert sigmoid_step(p, torch.tensor([0.3, 0.6])).shape == (2, 7, 1)


@pytest.mark.parametrize("tau", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("k", [1.0, 10.0, 50.0])
def test_sigmoid_step_formula(tau, k):
    p = torch.linspace(0, 1, 101, dtype=F64)
    expected = 1 / (1 + np.exp(-k * (p.numpy() - tau)))
    np.testing.assert_allclose(sigmoid_step(p, tau, k).numpy(), expected, rtol=1e-12)
    rows = sigmoid_step(p, torch.tensor([tau, 0.5], dtype=F64), k)
    np.testing.assert_allclose(rows[0].numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda p: heaviside(p, 0.0), "tau must be a number in (0, 1)"),
        (lambda p: heaviside(p, 1.0), "tau must be a number in (0, 1)"),
        (lambda p: heaviside(p, -0.2), "tau"),
        (lambda p: heaviside(p, float("nan")), "tau"),
        (lambda p: heaviside(p, torch.tensor([0.5, 1.0])), "every tau must lie in (0, 1)"),
        (lambda p: heaviside(p, torch.ones(2, 2) / 2), "1-D tensor"),
        (lambda p: heaviside(p, 0.5, 0.0), "delta must be a number in (0, 0.5)"),
        (lambda p: heaviside(p, 0.5, 0.5), "delta must be a number in (0, 0.5)"),
        (lambda p: heaviside(p, 0.5, -1), "delta"),
        (lambda p: sigmoid_step(p, 0.5, 0.0), "k must be a number > 0"),
        (lambda p: sigmoid_step(p, 1.5), "tau"),
    ],
)
def test_invalid_parameters_raise(call, fragment):
    with pytest.raises(HfaError) as info:
        call(torch.rand(3))
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------- soft confusion


def reference_counts(p, y, taus, delta, w=None):
    w = np.ones_like(p) if w is None else w
    h = np.stack([reference_h(p, tau, delta) for tau in taus])
    return (
        (h * (w * y)).sum(1),
        (h * (w * (1 - y))).sum(1),
        ((1 - h) * (w * y)).sum(1),
        ((1 - h) * (w * (1 - y))).sum(1),
    )


def random_batch(n, seed, rate=0.2):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=g, dtype=F64), (torch.rand(n, generator=g) < rate).to(torch.int64)


@pytest.mark.parametrize("n", [1, 17, 500])
@pytest.mark.parametrize("thresholds", [(0.5,), AUTHORS_THRESHOLDS, (0.05, 0.33, 0.97)])
@pytest.mark.parametrize("weighted", [False, True])
def test_soft_counts_match_reference_and_keep_class_totals(n, thresholds, weighted):
    p, y = random_batch(n, seed=n + len(thresholds))
    w = torch.rand(n, dtype=F64) * 3 if weighted else None
    counts = soft_confusion(p, y, thresholds, delta=0.1, weights=w)
    expected = reference_counts(p.numpy(), y.numpy(), thresholds, 0.1, None if w is None else w.numpy())
    for got, want in zip(counts, expected, strict=True):
        assert got.shape == (len(thresholds),)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)
    tp, fp, fn, tn = counts
    wy = (y * (1 if w is None else w)).sum().item()
    wn = ((1 - y) * (1 if w is None else w)).sum().item()
    np.testing.assert_allclose((tp + fn).numpy(), wy, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose((fp + tn).numpy(), wn, rtol=1e-12, atol=1e-12)


def test_integer_weights_equal_repeated_samples():
    p, y = random_batch(40, seed=3)
    w = torch.randint(0, 4, (40,))
    weighted = soft_confusion(p, y, AUTHORS_THRESHOLDS, weights=w)
    repeated = soft_confusion(p.repeat_interleave(w), y.repeat_interleave(w), AUTHORS_THRESHOLDS)
    for a, b in zip(weighted, repeated, strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("tau", [0.2, 0.5, 0.7])
def test_small_delta_approaches_the_hard_confusion_matrix(tau):
    # Away from [tau - tm/2, tau + tm/2], H -> 0 or 1 as delta -> 0 (inside that band it stays a ramp).
    lower, upper = breakpoints(tau)
    g = torch.Generator().manual_seed(7)
    below = torch.rand(300, generator=g, dtype=F64) * (lower - 0.01)
    above = upper + 0.01 + torch.rand(300, generator=g, dtype=F64) * (1 - upper - 0.01)
    p = torch.cat((below, above))
    y = (torch.rand(600, generator=g) < torch.where(p > tau, 0.7, 0.2)).to(torch.int64)
    tn, fp, fn, tp = confusion_matrix(y.numpy(), (p >= tau).numpy(), labels=[0, 1]).ravel()
    for delta in (1e-2, 1e-4, 1e-6):
        soft = torch.cat(soft_confusion(p, y, [tau], delta=delta)).numpy()
        np.testing.assert_allclose(soft, [tp, fp, fn, tn], atol=600 * delta)


@pytest.mark.parametrize("targets_dtype", [torch.bool, torch.int32, torch.int64, torch.float32, torch.float64])
def test_targets_of_any_dtype_and_column_shapes(targets_dtype):
    p, y = random_batch(30, seed=1)
    reference = soft_confusion(p, y, AUTHORS_THRESHOLDS)
    same = soft_confusion(p[:, None], y.to(targets_dtype)[:, None], AUTHORS_THRESHOLDS)
    for a, b in zip(reference, same, strict=True):
        assert b.dtype == F64
        assert_close(a, b)


@pytest.mark.parametrize(
    "thresholds", [0.4, [0.4], (0.4,), torch.tensor([0.4], dtype=F64), torch.tensor(0.4, dtype=F64), np.array([0.4])]
)
def test_threshold_forms_agree(thresholds):
    p, y = random_batch(20, seed=2)
    reference = soft_confusion(p, y, (0.4,))
    for a, b in zip(reference, soft_confusion(p, y, thresholds), strict=True):
        assert_close(a, b)


def test_sigmoid_approximation_uses_sigmoid_step():
    p, y = random_batch(25, seed=4)
    tp, fp, fn, tn = soft_confusion(p, y, AUTHORS_THRESHOLDS, approx="sigmoid", k=7.0)
    h = sigmoid_step(p, torch.tensor(AUTHORS_THRESHOLDS, dtype=F64), 7.0)
    yf = y.to(F64)
    assert_close(tp, (h * yf).sum(1))
    assert_close(tn, ((1 - h) * (1 - yf)).sum(1))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"thresholds": []}, "thresholds must be a non-empty list"),
        ({"thresholds": [0.5, 1.0]}, "every value of thresholds must be a number in (0, 1)"),
        ({"thresholds": "0.5"}, "thresholds"),
        ({"thresholds": torch.tensor([0.0, 0.5])}, "(0, 1)"),
        ({"delta": 0.7}, "delta must be a number in (0, 0.5)"),
        ({"approx": "step"}, "approx must be one of heaviside, sigmoid"),
        ({"k": -1.0}, "k must be a number > 0"),
    ],
)
def test_soft_confusion_rejects_bad_parameters(kwargs, fragment):
    p, y = random_batch(5, seed=0)
    with pytest.raises(HfaError) as info:
        soft_confusion(p, y, **kwargs)
    assert fragment in str(info.value)


def test_soft_confusion_rejects_mismatched_lengths():
    p, y = random_batch(5, seed=0)
    with pytest.raises(ValueError, match="targets must hold one value per sample"):
        soft_confusion(p, y[:4])
    with pytest.raises(ValueError, match="weights must hold one value per sample"):
        soft_confusion(p, y, weights=torch.ones(6))


# ------------------------------------------------------------------------------------------ the public entry points'
# inputs: a tensor or a TypeError naming the argument and the type given; targets (and probabilities) in [0, 1].

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from hfa.losses import LOSSES, F1Loss, MultiLabelLoss, build_loss  # noqa: E402

N = 6
not_tensors = st.one_of(
    st.lists(st.floats(0, 1), min_size=N, max_size=N),
    arrays(np.float32, N, elements=st.floats(0, 1, width=32)),
    st.floats(0, 1),
    st.integers(0, 1),
    st.text(max_size=3),
)


def _module(name):
    loss = build_loss(name)
    return loss.fit(torch.tensor([0.0, 1.0, 1.0])) if name == "wbce" else loss


def _entry_points():
    """(label, call(logits or p, targets, weights)) for every public entry point that takes tensors."""
    z = torch.linspace(-2, 2, N)
    calls = {
        "heaviside": (lambda p, y, w: heaviside(p), ("p",)),
        "sigmoid_step": (lambda p, y, w: sigmoid_step(p), ("p",)),
        "soft_confusion": (lambda p, y, w: soft_confusion(p, y, weights=w), ("probs", "targets", "weights")),
        "F1Loss.counts": (lambda z_, y, w: F1Loss().counts(z_, y, w), ("logits", "targets", "weights")),
        "MultiLabelLoss": (
            lambda z_, y, w: MultiLabelLoss(F1Loss(), 1)(
                *(v.reshape(-1, 1) if isinstance(v, torch.Tensor) else v for v in (z_, y)), w
            ),
            ("logits", "targets", "weights"),
        ),
    }
    for name in LOSSES:
        calls[name] = (lambda z_, y, w, name=name: _module(name)(z_, y, w), ("logits", "targets", "weights"))
    return calls, z


CALLS, LOGITS = _entry_points()
TARGETS = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(entry=st.sampled_from(sorted(CALLS)), position=st.integers(0, 2), value=not_tensors)
def test_an_input_that_is_not_a_tensor_is_a_type_error_naming_it(entry, position, value):
    call, names = CALLS[entry]
    if position >= len(names):
        position = 0
    scores = torch.sigmoid(LOGITS) if names[0] != "logits" else LOGITS
    inputs = [scores, TARGETS, torch.ones(N)]
    inputs[position] = value
    with pytest.raises(TypeError) as refused:
        call(*inputs)
    assert str(refused.value).endswith(f"{names[position]} must be a torch.Tensor, not {type(value).__name__}")


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    entry=st.sampled_from(sorted(set(CALLS) - {"heaviside", "sigmoid_step"})),
    at=st.integers(0, N - 1),
    bad=st.one_of(st.floats(1.001, 1e6), st.floats(-1e6, -0.001), st.just(float("nan"))),  # outside in float32 too
    soft=st.booleans(),
)
def test_targets_outside_0_1_are_refused_and_soft_labels_inside_are_taken(entry, at, bad, soft):
    call, names = CALLS[entry]
    scores = torch.sigmoid(LOGITS) if names[0] != "logits" else LOGITS
    targets = torch.linspace(0, 1, N) if soft else TARGETS.clone()
    assert all(torch.isfinite(v).all() for v in _as_tuple(call(scores, targets, None)))
    targets[at] = bad
    with pytest.raises(HfaError, match=r"every value of targets must lie in \[0, 1\]"):
        call(scores, targets, None)


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("function", [heaviside, sigmoid_step])
@pytest.mark.parametrize("bad", [-1e-3, 1.5, 2.0, float("nan"), float("inf")])
def test_a_probability_outside_0_1_is_refused_not_extrapolated(function, bad):
    p = torch.tensor([0.0, 0.3, 1.0, bad], dtype=F64)
    with pytest.raises(HfaError, match=r"every value of p must lie in \[0, 1\]"):
        function(p)
    assert function(p[:3]).min() >= 0 and function(p[:3]).max() <= 1


def test_the_reported_calls():
    y = TARGETS
    with pytest.raises(TypeError, match=r"^heaviside\(\): p must be a torch.Tensor, not list$"):
        heaviside([0.1, 0.2])
    with pytest.raises(TypeError, match=r"^FBetaLoss\(\): targets must be a torch.Tensor, not ndarray$"):
        build_loss("fbeta")(LOGITS, y.numpy())
    with pytest.raises(HfaError, match=r"^F1Loss\(\): every value of targets must lie in \[0, 1\] \(got 2\)$"):
        F1Loss()(LOGITS, y * 2)
    # The training path (per_row, value_and_grad) is not re-checked: hfa's data checks already vouch for its labels.
    assert torch.isfinite(F1Loss().per_row(LOGITS[None], y[None])).all()
