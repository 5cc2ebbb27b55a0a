"""eval.calibrate: Platt and isotonic maps as scikit-learn fits them, fitted on validation, applied by hfa predict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from hfa.calibration import MAX_PLATT, Calibration, fit_calibration
from hfa.cli import app
from hfa.config import load_config
from hfa.data import load_raw, prepare_data
from hfa.errors import HfaError
from hfa.metrics import probability_scores, tune_threshold
from hfa.predict import load_run
from hfa.runs import execute_run

runner = CliRunner()


def _scores(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Overconfident float32 scores of a rare class, some saturated at exactly 0 and 1."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)
    z = 6 * (2 * y - 1 + rng.normal(0, 1.2, n))
    return y, (1 / (1 + np.exp(-z))).astype(np.float32)


def _logit(s: np.ndarray) -> np.ndarray:
    s = np.clip(s.astype(np.float64), 1e-12, 1 - 1e-12)
    return np.log(s / (1 - s))


def test_platt_is_scikit_learns_logistic_regression_on_the_logit():
    y, s = _scores()
    assert s.min() == 0.0 or s.max() == 1.0  # the clipping is exercised
    reference = LogisticRegression().fit(_logit(s)[:, None], y)
    fitted = fit_calibration("platt", s, y)
    assert fitted.params == pytest.approx((reference.coef_[0, 0], reference.intercept_[0]), rel=1e-12)
    _, other = _scores(400, seed=1)
    expected = reference.predict_proba(_logit(other)[:, None])[:, 1]
    np.testing.assert_allclose(fitted.apply(other), expected, rtol=1e-12, atol=1e-15)


def test_isotonic_is_scikit_learns_isotonic_regression_clipped_beyond_the_ends():
    y, s = _scores()
    reference = IsotonicRegression(out_of_bounds="clip").fit(s.astype(np.float64), y.astype(np.float64))
    fitted = fit_calibration("isotonic", s, y)
    probe = np.concatenate([_scores(400, seed=2)[1].astype(np.float64), [0.0, 1.0, s.min() / 2, 0.5]])
    np.testing.assert_allclose(fitted.apply(probe), reference.predict(probe), rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(10, 300), seed=st.integers(0, 10_000), method=st.sampled_from(["platt", "isotonic"]))
def test_generated_maps_survive_json_and_stay_in_the_unit_interval(n, seed, method):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.random(n).astype(np.float32)
    fitted = fit_calibration(method, s, y)
    again = Calibration.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again == fitted
    out = again.apply(rng.random(50))
    assert ((out >= 0) & (out <= 1)).all()
    if method == "isotonic":  # non-decreasing in the score
        grid = np.linspace(0, 1, 101)
        assert (np.diff(again.apply(grid)) >= 0).all()


def test_one_class_and_bad_maps_are_one_line_errors():
    with pytest.raises(HfaError, match="only negatives; use calibrate none"):
        fit_calibration("platt", np.array([0.1, 0.2]), np.array([0, 0]))
    with pytest.raises(HfaError, match="only positives"):
        fit_calibration("isotonic", np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(HfaError, match="unknown calibration 'beta'"):
        fit_calibration("beta", np.array([0.1, 0.2]), np.array([0, 1]))
    for stored in ({"method": "platt", "coef": "x"}, {"method": "isotonic", "x": [0.2, 0.1], "y": [0, 1]}, [1]):
        with pytest.raises(HfaError, match="not a calibration map"):
            Calibration.from_dict(stored)
    with pytest.raises(HfaError, match="calibrates single-label runs"):
        load_config(None, ["data.name=mulan/yeast", "eval.calibrate=platt"])
    with pytest.raises(HfaError, match="allowed: 'none', 'platt' or 'isotonic'"):
        load_config(None, ["eval.calibrate=beta"])


F1_RUN = [
    "name=calib",
    "data.n_samples=4000",
    "data.cluster_std=2.5",
    "data.imbalance_ratio=9",
    "loss.name=f1",
    "model.hidden=[8]",
    "train.epochs=15",
    "train.lr=0.01",
    "train.patience=0",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def f1_runs(tmp_path_factory):
    """One F1-loss run trained three times: without calibration, with Platt, with isotonic (same training)."""
    out = tmp_path_factory.mktemp("calibration")
    return {
        m: execute_run(load_config(None, [*F1_RUN, f"eval.calibrate={m}"]), out) for m in ("none", "platt", "isotonic")
    }


def _rows(metrics: pd.DataFrame, split: str) -> pd.Series:
    return metrics[(metrics["split"] == split) & (metrics["rule"] == "fixed")].iloc[0]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_lowers_ece_of_an_f1_run_on_validation_and_test(f1_runs, method):
    plain, calibrated = f1_runs["none"].metrics, f1_runs[method].metrics
    for split in ("val", "test"):
        before, after = _rows(plain, split), _rows(calibrated, split)
        # The raw columns are the uncalibrated run's own numbers: calibration comes after training.
        assert after["brier_raw"] == before["brier"] and after["ece_raw"] == before["ece"]
        assert after["ece"] < before["ece"] / 2, (split, after["ece"], before["ece"])
        assert after["brier"] < before["brier"]
        assert after["roc_auc"] == pytest.approx(before["roc_auc"], abs=1e-12 if method == "platt" else 0.02)
    assert "brier_raw" not in plain.columns


@pytest.mark.slow
@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_predict_applies_the_map_and_the_thresholds_are_tuned_on_calibrated_scores(f1_runs, method, tmp_path):
    outcome = f1_runs[method]
    cfg = load_config(None, [*F1_RUN, f"eval.calibrate={method}"])
    raw_run = load_run(f1_runs["none"].run_dir)
    predictor = load_run(outcome.run_dir)
    splits = prepare_data(cfg.resolved_data())
    features, _ = load_raw(cfg.resolved_data())
    val_rows = features.iloc[splits.indices["val"]]
    raw_val = raw_run.predict_proba(val_rows)
    # The map is the one fit_calibration makes from the raw validation scores, and predict applies it.
    assert predictor.calibration == fit_calibration(method, raw_val, splits.y_val)
    calibrated_val = predictor.predict_proba(val_rows)
    np.testing.assert_array_equal(calibrated_val, predictor.calibration.apply(raw_val))
    tuned = outcome.info["thresholds"]["tuned"]
    assert tuned == tune_threshold(splits.y_val, calibrated_val, metric=cfg.eval.tune_metric)
    stored = _rows(outcome.metrics, "val")
    assert stored["ece"] == pytest.approx(probability_scores(splits.y_val, calibrated_val)["ece"], abs=1e-12)
    # hfa predict writes a probability for a calibrated run.
    table = tmp_path / "rows.csv"
    features.iloc[splits.indices["test"]].to_csv(table, index=False)
    result = runner.invoke(app, ["predict", str(outcome.run_dir), str(table), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(tmp_path / "p.csv")
    assert list(scored.columns) == ["probability", "label"]
    expected = predictor.predict_proba(features.iloc[splits.indices["test"]])
    np.testing.assert_allclose(scored["probability"], expected, rtol=1e-12)
    assert json.loads((outcome.run_dir / "run.json").read_text())["calibration"]["method"] == method


# ------------------------------------------------------------- run.json's map: only what fit_calibration can make

PLATT = {"method": "platt", "coef": 1.5, "intercept": -0.25}
ISOTONIC = {"method": "isotonic", "x": [0.1, 0.5, 0.9], "y": [0.0, 0.25, 1.0]}
not_a_number = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=4),
    st.sampled_from(["1.5", float("nan"), float("inf"), -float("inf"), 1e300, -1e308, 10**400, [1.0], {"a": 1}]),
    st.floats(min_value=MAX_PLATT, exclude_min=True, allow_infinity=False).flatmap(lambda v: st.sampled_from([v, -v])),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(key=st.sampled_from(["coef", "intercept"]), value=not_a_number)
def test_a_platt_map_holds_two_finite_numbers_a_fit_can_give(key, value):
    with pytest.raises(HfaError, match=rf"run\.json: 'calibration\.{key}' holds .*; expected a finite number") as no:
        Calibration.from_dict({**PLATT, key: value})
    assert "\n" not in str(no.value)


def _isotonic_corruptions():
    """A fitted map's x and y, one of them broken: a point out of [0, 1] or not a number, an order broken, the
    lengths apart, or no points at all."""
    outside = st.one_of(not_a_number, st.floats(1.0, exclude_min=True), st.floats(max_value=0.0, exclude_max=True))
    return st.one_of(
        st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 2), outside).map(lambda c: ("value", *c)),
        st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 1)).map(lambda c: ("order", *c, None)),
        st.tuples(st.sampled_from(["x", "y"]), st.sampled_from([[], [0.5], [0.1, 0.2, 0.3, 0.4]])).map(
            lambda c: ("length", c[0], 0, c[1])
        ),
    )


@settings(max_examples=80, deadline=None, derandomize=True)
@given(corruption=_isotonic_corruptions())
def test_an_isotonic_map_is_increasing_points_in_the_unit_square(corruption):
    kind, key, at, value = corruption
    stored = json.loads(json.dumps(ISOTONIC))
    if kind == "value":
        stored[key][at] = value
    elif kind == "order":  # x: two equal scores; y: a higher score given a lower probability
        stored[key][at + 1] = stored[key][at] if key == "x" else stored[key][at] / 2 - 0.01
    else:
        stored[key] = value
    if kind == "length" and key == "y" and not value:
        stored["y"] = []
    with pytest.raises(HfaError, match=r"run\.json: 'calibration\.[xy]' holds .*; expected") as no:
        Calibration.from_dict(stored)
    assert "\n" not in str(no.value)


@pytest.mark.parametrize(
    ("stored", "key"),
    [  # the independent tester's maps (B10, M9)
        ({"method": "isotonic", "x": [0.1, 0.5, 0.9], "y": [-3.0, 5.0, 10.0]}, "y"),
        ({"method": "isotonic", "x": [0.1, 0.5, 0.9], "y": [0.9, 0.5, 0.1]}, "y"),
        ({"method": "platt", "coef": "1", "intercept": 0.0}, "coef"),
        ({"method": "platt", "coef": True, "intercept": 0.0}, "coef"),
        ({"method": "platt", "coef": 1e300, "intercept": 0.0}, "coef"),
        ({"method": "platt", "coef": 1.0, "intercept": 1e308}, "intercept"),
        ({"method": "beta"}, "method"),
    ],
)
def test_the_testers_maps_are_refused_naming_the_key(stored, key):
    with pytest.raises(HfaError, match=rf"'calibration\.{key}' holds"):
        Calibration.from_dict(stored)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(2, 400), seed=st.integers(0, 10_000), ties=st.booleans())
def test_every_fitted_isotonic_map_passes_the_checks(n, seed, ties):
    """The checks are no stricter than the fit: ties in the scores, one point, scores at exactly 0 and 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.random(n).astype(np.float32)
    if ties:
        s = np.round(s, 1)
        s[:2] = [0.0, 1.0]
    fitted = fit_calibration("isotonic", s, y)
    assert Calibration.from_dict(json.loads(json.dumps(fitted.to_dict()))) == fitted
    constant = fit_calibration("isotonic", np.full(n, 0.5, dtype=np.float32), y)
    assert len(constant.x) == 1 and Calibration.from_dict(constant.to_dict()) == constant
