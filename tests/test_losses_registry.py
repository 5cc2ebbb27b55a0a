"""The loss registry, labels, and the input/output contract every loss keeps."""

import pytest
import torch

from hfa.errors import HfaError
from hfa.losses import AUTHORS_THRESHOLDS, LOSSES, PARAMETERS, MetricLoss, build_loss, loss_label

NAMES = ["bce", "wbce", "focal", "f1", "fbeta", "accuracy", "balanced_accuracy", "mcc", "auroc"]

# A whole `loss` config section with its defaults, as the config passes it.
CONFIG_SECTION = {
    "beta": 1.0,
    "pos_weight": "auto",
    "thresholds": list(AUTHORS_THRESHOLDS),
    "delta": 0.1,
    "approx": "heaviside",
    "k": 10.0,
    "alpha": 0.25,
    "gamma": 2.0,
}


def test_names_are_exactly_the_contract():
    assert list(LOSSES) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_specs_are_complete(name):
    spec = LOSSES[name]
    assert set(spec.params) <= set(PARAMETERS)
    for text in (spec.formula, spec.summary):
        assert text and "\n" not in text
    assert set(spec.defaults()) == set(spec.params)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_builds_from_a_whole_config_section(name):
    loss = build_loss(name, **CONFIG_SECTION, unrelated="ignored", beta_typo=None)
    assert isinstance(loss, LOSSES[name].factory)
    loss.fit(torch.tensor([0, 0, 1, 0]))  # every loss has fit; wbce('auto') needs it
    value = loss(torch.randn(8), torch.tensor([0, 1] * 4))
    assert value.shape == ()


def test_build_passes_only_the_parameters_a_loss_uses():
    assert build_loss("fbeta", beta=3.0, gamma=7.0).beta == 3.0
    focal = build_loss("focal", alpha=0.6, gamma=1.0, beta=9.0)
    assert (focal.alpha, focal.gamma) == (0.6, 1.0)
    assert build_loss("wbce", pos_weight=4).pos_weight == 4.0
    f1 = build_loss("f1", thresholds=[0.5], delta=0.2, approx="sigmoid", k=5.0)
    assert (f1.thresholds.tolist(), f1.delta, f1.approx, f1.k) == ([0.5], 0.2, "sigmoid", 5.0)
    assert build_loss("auroc", thresholds=None).thresholds.tolist() == list(AUTHORS_THRESHOLDS)


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(HfaError) as info:
        build_loss("dice")
    message = str(info.value)
    assert "\n" not in message
    assert "'dice'" in message
    assert all(name in message for name in NAMES)


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("fbeta", {"beta": 0}, "beta must be a number > 0"),
        ("fbeta", {"beta": "two"}, "beta must be a number > 0"),
        ("f1", {"delta": 0.5}, "delta must be a number in (0, 0.5)"),
        ("auroc", {"thresholds": [0.0, 0.5]}, "thresholds must be a number in (0, 1)"),
        ("accuracy", {"thresholds": []}, "thresholds must be a non-empty list"),
        ("mcc", {"approx": "step"}, "approx must be one of heaviside, sigmoid"),
        ("balanced_accuracy", {"k": 0}, "k must be a number > 0"),
        ("wbce", {"pos_weight": -2}, "pos_weight must be 'auto' or a number > 0"),
        ("focal", {"alpha": 1.5}, "alpha must be a number in [0, 1]"),
        ("focal", {"gamma": -1}, "gamma must be a number >= 0"),
    ],
)
def test_bad_values_name_the_parameter_and_range(name, params, fragment):
    with pytest.raises(HfaError) as info:
        build_loss(name, **params)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "params", "label"),
    [
        ("bce", CONFIG_SECTION, "bce"),
        ("wbce", CONFIG_SECTION, "wbce"),
        ("wbce", {**CONFIG_SECTION, "pos_weight": 10.0}, "wbce(pos_weight=10)"),
        ("focal", CONFIG_SECTION, "focal"),
        ("focal", {**CONFIG_SECTION, "gamma": 1.0}, "focal(gamma=1)"),
        ("focal", {"alpha": 0.5, "gamma": 0.5}, "focal(alpha=0.5,gamma=0.5)"),
        ("f1", CONFIG_SECTION, "f1"),
        ("f1", {**CONFIG_SECTION, "beta": 3.0, "k": 99.0}, "f1"),
        ("fbeta", {**CONFIG_SECTION, "beta": 2.0}, "fbeta(beta=2)"),
        ("fbeta", {}, "fbeta(beta=1)"),
        ("fbeta", {"beta": 0.5, "delta": 0.05}, "fbeta(beta=0.5,delta=0.05)"),
        ("accuracy", {**CONFIG_SECTION, "thresholds": [0.5]}, "accuracy(thresholds=[0.5])"),
        ("mcc", {**CONFIG_SECTION, "approx": "sigmoid"}, "mcc(approx=sigmoid)"),
        ("mcc", {**CONFIG_SECTION, "approx": "sigmoid", "k": 20, "delta": 0.3}, "mcc(approx=sigmoid,k=20)"),
        ("auroc", {}, "auroc"),
    ],
)
def test_labels_show_only_what_distinguishes(name, params, label):
    assert loss_label(name, params) == label


def test_label_of_unknown_name():
    with pytest.raises(HfaError, match="unknown loss 'dice'"):
        loss_label("dice", {})


# ------------------------------------------------------------------------------ input / output contract
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_device_and_shapes_follow_the_logits(name, dtype):
    loss = build_loss(name, pos_weight=3.0)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, generator=g).to(dtype)
    y = (torch.rand(40, generator=g) < 0.3).to(torch.int64)
    reference = loss(z, y)
    assert reference.dtype == dtype
    assert reference.device == z.device
    assert reference.shape == ()
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    for logits in (z, z[:, None]):
        for targets in (y, y.bool(), y.int(), y.float(), y.double(), y[:, None]):
            value = loss(logits, targets)
            assert value.dtype == dtype
            assert value.item() == pytest.approx(reference.item(), rel=tolerance)


@pytest.mark.parametrize("name", NAMES)
def test_bad_logit_shapes_are_refused(name):
    loss = build_loss(name, pos_weight=1.0)
    with pytest.raises(ValueError, match=r"logits must have shape \(N,\) or \(N, 1\)"):
        loss(torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="targets must hold one value per sample"):
        loss(torch.zeros(4), torch.zeros(5))


@pytest.mark.parametrize("name", NAMES)
def test_loss_modules_follow_module_moves(name):
    loss = build_loss(name, pos_weight=2.0).to(torch.float64)
    value = loss(torch.randn(6, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1, 0]))
    assert value.dtype == torch.float64
    assert loss.state_dict() == {}  # the threshold grid is a non-persistent buffer: no keys in checkpoints
    if isinstance(loss, MetricLoss):
        assert loss.thresholds.dtype == torch.float64


@pytest.mark.parametrize(
    ("value", "short", "whole"),
    [
        ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], "[0.1…0.8]#", "[0.1..0.8 by 0.1]"),
        ([1.5, 2.0, 3.0, 7.0, 12.25], "[1.5…12.25]#", "[1.5,2,3,7,12.25]"),
        ([1.0, 2.0, 3.0], "[1,2,3]", "[1,2,3]"),
    ],
)
def test_long_lists_read_whole_in_report_labels_and_short_in_run_ids(value, short, whole):
    key = "thresholds" if value[0] < 1 else "pos_weight"
    name = "f1" if key == "thresholds" else "wbce"
    assert loss_label(name, {key: value}).startswith(f"{name}({key}={short}")
    assert loss_label(name, {key: value}, whole_lists=True) == f"{name}({key}={whole})"
