"""`hfa.HfaClassifier`: scikit-learn's own estimator checks, and the tools a researcher puts it in.

Skipped checks (scikit-learn decides; listed here so a change shows up in review):
- ``check_array_api_input``: scikit-learn skips it unless ``SCIPY_ARRAY_API=1``; HfaClassifier turns its inputs into
  NumPy arrays and does not claim array-API support (``array_api_support`` tag off).
Not generated, by the tags HfaClassifier sets: the multiclass variants (``classifier_tags.multi_class = False``:
scikit-learn runs ``check_classifier_not_supporting_multiclass`` instead, which checks the error), and the
sample-weight checks (``fit`` takes no ``sample_weight``).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, TunedThresholdClassifierCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import hfa
import hfa.training
from hfa.errors import HfaError
from hfa.losses import F1Loss

FAST = {"hidden": (8,), "epochs": 10, "batch_size": 32, "lr": 0.01}


def _expected_failures(estimator):
    if estimator.calibrate == "isotonic":
        # An isotonic map is a step function: whole groups of rows get exactly 0.5, which predict takes as positive
        # (>=, hfa train's rule) and argmax(predict_proba) as the first class.
        return {"check_classifiers_train": "argmax breaks a tie at 0.5 towards classes_[0]"}
    if estimator.threshold == 0.5:
        return {}
    # Two checks assert predict == argmax(predict_proba) (binary) and predict == predict_proba.round() (multi-label):
    # a decision threshold of 0.5, whatever the estimator's (scikit-learn's own FixedThresholdClassifier would fail
    # them too). Every other check runs, decision_function > 0 where predict gives classes_[1] among them.
    reason = "assumes a decision threshold of 0.5"
    return {"check_classifiers_train": reason, "check_classifier_multioutput": reason}


@parametrize_with_checks(
    [
        hfa.HfaClassifier(**FAST),
        hfa.HfaClassifier(**FAST, threshold="tuned"),
        hfa.HfaClassifier(**FAST, calibrate="isotonic"),
        hfa.HfaClassifier("wbce", model="logistic"),
        hfa.HfaClassifier("wbce", model="gbdt", max_iter=10),
    ],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def imbalanced():
    return make_classification(n_samples=600, n_features=6, weights=[0.85], random_state=0)


def test_it_trains_through_the_one_trainer_with_the_registry_loss(imbalanced, monkeypatch):
    seen = []
    real = hfa.training.fit

    def spy(model, loss_fn, *args, **kwargs):
        seen.append(loss_fn)
        return real(model, loss_fn, *args, **kwargs)

    monkeypatch.setattr(hfa.training, "fit", spy)
    X, y = imbalanced
    clf = hfa.HfaClassifier("f1", thresholds=[0.3, 0.5], delta=0.2, **FAST).fit(X, y)
    (loss_fn,) = seen
    assert isinstance(loss_fn, F1Loss) and loss_fn.delta == 0.2
    assert loss_fn.thresholds.tolist() == pytest.approx([0.3, 0.5])
    assert clf.n_epochs_ == len(clf.history_) <= 10


def test_predictions_agree_with_each_other_and_repeat(imbalanced):
    X, y = imbalanced
    labels = np.where(y == 1, "churn", "stay")
    clf = hfa.HfaClassifier(**FAST, threshold=0.3).fit(X, labels)
    again = hfa.HfaClassifier(**FAST, threshold=0.3).fit(X, labels)
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(proba, again.predict_proba(X))  # an int random_state repeats exactly
    assert list(clf.classes_) == ["churn", "stay"]  # sorted: "stay" is classes_[1], the positive
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    margin = clf.decision_function(X) + np.log(0.3 / 0.7)  # the logit, measured from the threshold's
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-margin)), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), np.where(proba[:, 1] >= 0.3, "stay", "churn"))
    assert clf.score(X, labels) == pytest.approx(np.mean(clf.predict(X) == labels))


@pytest.mark.parametrize("metric", ["f1", "mcc"])
def test_tuned_threshold_is_the_best_cut_of_the_internal_validation_scores(imbalanced, metric):
    from sklearn.metrics import f1_score, matthews_corrcoef
    from sklearn.model_selection import train_test_split

    X, y = imbalanced
    with pytest.warns(UserWarning, match="rests on 18 validation positives"):
        clf = hfa.HfaClassifier(**FAST, threshold="tuned", tune_metric=metric, random_state=3).fit(X, y)
    # The internal split, cut again the documented way: stratified, val_size of the rows, seeded by random_state.
    _, val = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=3)
    scores = clf.predict_proba(X[np.sort(val)])[:, 1]
    truth = y[np.sort(val)]
    assert clf.val_positives_ == truth.sum() == 18
    score = {"f1": f1_score, "mcc": matthews_corrcoef}[metric]
    best = max(score(truth, scores >= t) for t in np.unique(scores))  # every cut at a validation score
    assert score(truth, scores >= clf.threshold_) == pytest.approx(best)
    np.testing.assert_array_equal(clf.predict(X), (clf.predict_proba(X)[:, 1] >= clf.threshold_).astype(int))
    fixed = hfa.HfaClassifier(**FAST, threshold=0.3, random_state=3).fit(X, y)
    assert fixed.threshold_ == 0.3
    np.testing.assert_array_equal(fixed.predict_proba(X), clf.predict_proba(X))  # tuning does not touch training


def test_bad_parameters_fail_at_fit_with_the_configs_message(imbalanced):
    X, y = imbalanced
    with pytest.raises(HfaError, match="unknown loss 'nope'"):
        hfa.HfaClassifier("nope").fit(X, y)
    with pytest.raises(HfaError, match="delta"):
        hfa.HfaClassifier("f1", delta=0.7).fit(X, y)
    with pytest.raises(HfaError, match="tune_metric"):
        hfa.HfaClassifier(threshold="tuned", tune_metric="recall").fit(X, y)


@pytest.mark.slow
def test_pipeline_cross_validation_grid_search_and_threshold_tuning(imbalanced):
    X, y = imbalanced
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    pipeline = make_pipeline(StandardScaler(), hfa.HfaClassifier(**FAST, standardize=False))
    scores = cross_val_score(pipeline, X, y, cv=cv, scoring="roc_auc")
    assert scores.shape == (3,) and scores.min() > 0.7

    search = GridSearchCV(hfa.HfaClassifier(**FAST), {"loss": ["bce", "f1"], "lr": [0.01, 0.03]}, cv=cv, scoring="f1")
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4 and search.best_params_["loss"] in ("bce", "f1")

    tuned = TunedThresholdClassifierCV(hfa.HfaClassifier(**FAST), scoring="f1", cv=cv).fit(X, y)
    assert 0 < tuned.best_threshold_ < 1
    # It decides on HfaClassifier's probabilities at the threshold it chose by cross-validation.
    chosen = tuned.estimator_.predict_proba(X)[:, 1] >= tuned.best_threshold_
    np.testing.assert_array_equal(tuned.predict(X), chosen.astype(int))


@pytest.mark.slow
def test_breast_cancer_cross_validated():
    X, y = load_breast_cancer(return_X_y=True)
    clf = hfa.HfaClassifier("f1", hidden=(32,), epochs=30, lr=0.003)
    scores = cross_val_score(clf, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="f1")
    assert scores.mean() > 0.9
    fitted = clf.fit(X, y)
    assert roc_auc_score(y, fitted.predict_proba(X)[:, 1]) > 0.95


@pytest.mark.slow
def test_multilabel_y_trains_one_output_per_label():
    """A 2-D indicator y, as MLPClassifier takes it: one probability column per label, an indicator matrix out,
    and scikit-learn's cross-validation scoring it with its multi-label F1."""
    from sklearn.datasets import make_multilabel_classification
    from sklearn.model_selection import KFold, cross_val_score

    X, Y = make_multilabel_classification(n_samples=400, n_features=8, n_classes=3, random_state=0)
    clf = hfa.HfaClassifier("f1", average="macro", hidden=(16,), epochs=30, lr=0.01, batch_size=64, patience=5)
    clf.fit(X, Y)
    assert clf.classes_.tolist() == [0, 1, 2]
    proba = clf.predict_proba(X)
    assert proba.shape == (400, 3) and ((proba > 0) & (proba < 1)).all()
    np.testing.assert_array_equal(clf.predict(X), (proba >= 0.5).astype(int))
    assert clf.decision_function(X[:1]).shape == (1, 3)
    scores = cross_val_score(clf, X, Y, cv=KFold(3, shuffle=True, random_state=0), scoring="f1_macro")
    assert scores.shape == (3,) and scores.mean() > 0.5
    # Same seed, same model: multi-label fits are deterministic too.
    np.testing.assert_array_equal(hfa.HfaClassifier(**clf.get_params()).fit(X, Y).predict_proba(X), proba)


@pytest.mark.parametrize("constant", [0, 1])
@pytest.mark.parametrize("column", [0, 2])
def test_a_multilabel_column_of_one_class_is_refused_before_training(column, constant):
    rng = np.random.default_rng(column)
    X, Y = rng.normal(size=(60, 4)), (rng.random((60, 3)) < 0.4).astype(int)
    Y[:, column] = constant
    clf = hfa.HfaClassifier("bce", hidden=(4,), epochs=2)
    with pytest.raises(ValueError, match=f"label column {column} holds one class only"):
        clf.fit(X, Y)
    assert not hasattr(clf, "model_")


def _internal_split(y, seed, val_size=0.2):
    """HfaClassifier's internal split, cut again the documented way: stratified, seeded by random_state."""
    from sklearn.model_selection import train_test_split

    train, val = train_test_split(np.arange(len(y)), test_size=val_size, stratify=y, random_state=seed)
    return np.sort(train), np.sort(val)


def test_platt_calibration_is_scikit_learns_fit_on_the_validation_scores_and_lowers_ece():
    from scipy.special import expit, logit
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from hfa.metrics import probability_scores

    X, y = make_classification(n_samples=3000, n_features=8, weights=[0.9], flip_y=0.05, random_state=1)
    X_fit, X_new, y_fit, y_new = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    raw = hfa.HfaClassifier("f1", **FAST, random_state=5).fit(X_fit, y_fit)
    platt = hfa.HfaClassifier("f1", **FAST, random_state=5, calibrate="platt").fit(X_fit, y_fit)
    # The same training (calibration comes after it): the raw model's validation scores are what Platt saw.
    _, val = _internal_split(y_fit, 5)
    scores = raw.predict_proba(X_fit[val])[:, 1].astype(np.float32).astype(np.float64)
    z = logit(np.clip(scores, 1e-12, 1 - 1e-12))
    reference = LogisticRegression().fit(z[:, None], y_fit[val])
    expected = expit(
        reference.coef_[0, 0] * logit(np.clip(raw.predict_proba(X_new)[:, 1], 1e-12, 1 - 1e-12))
        + reference.intercept_[0]
    )
    np.testing.assert_allclose(platt.predict_proba(X_new)[:, 1], expected, rtol=1e-5)
    before = probability_scores(y_new, raw.predict_proba(X_new)[:, 1])
    after = probability_scores(y_new, platt.predict_proba(X_new)[:, 1])
    assert after["ece"] < before["ece"] and after["brier"] < before["brier"]
    # predict and decision_function decide on the calibrated probability.
    np.testing.assert_array_equal(platt.predict(X_new), (platt.predict_proba(X_new)[:, 1] >= 0.5).astype(int))
    np.testing.assert_array_equal(platt.decision_function(X_new) > 0, platt.predict(X_new) == 1)


def test_a_tuned_threshold_is_tuned_on_the_calibrated_scores(imbalanced):
    from sklearn.metrics import f1_score

    X, y = imbalanced
    with pytest.warns(UserWarning, match="validation positives"):
        clf = hfa.HfaClassifier(**FAST, calibrate="isotonic", threshold="tuned", random_state=2).fit(X, y)
    _, val = _internal_split(y, 2)
    scores = clf.predict_proba(X[val])[:, 1]  # the isotonic map's values: a few steps
    best = max(f1_score(y[val], scores >= t) for t in np.unique(scores))
    assert f1_score(y[val], scores >= clf.threshold_) == pytest.approx(best)


def test_logistic_model_is_scikit_learns_logistic_regression_on_the_internal_training_rows(imbalanced):
    from sklearn.linear_model import LogisticRegression

    X, y = imbalanced
    clf = hfa.HfaClassifier("bce", model="logistic", C=0.3, random_state=4).fit(X, y)
    train, _ = _internal_split(y, 4)
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    scaled = lambda rows: ((rows - mean) / std).astype(np.float32).astype(np.float64)  # noqa: E731
    reference = LogisticRegression(C=0.3, max_iter=1000, random_state=4).fit(scaled(X[train]), y[train])
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], reference.predict_proba(scaled(X))[:, 1], rtol=1e-6)


def test_gbdt_model_trains_and_takes_only_the_losses_it_can(imbalanced):
    X, y = imbalanced
    clf = hfa.HfaClassifier("wbce", model="gbdt", max_iter=50, random_state=0).fit(X, y)
    assert roc_auc_score(y, clf.predict_proba(X)[:, 1]) > 0.9 and 1 <= clf.n_epochs_ <= 50
    with pytest.raises(HfaError, match="gbdt"):
        hfa.HfaClassifier("f1", model="gbdt").fit(X, y)


def test_what_cannot_be_calibrated_is_refused_before_training(imbalanced, monkeypatch):
    from sklearn.datasets import make_multilabel_classification

    monkeypatch.setattr(hfa.training, "fit", lambda *a, **k: pytest.fail("trained before refusing"))
    X, y = imbalanced
    with pytest.raises(HfaError, match="calibrate"):
        hfa.HfaClassifier(calibrate="sigmoid").fit(X, y)
    Xm, Ym = make_multilabel_classification(n_samples=100, n_features=4, n_classes=3, random_state=0)
    for params in ({"calibrate": "platt"}, {"model": "logistic", "loss": "wbce"}):
        with pytest.raises(HfaError, match="binary y"):
            hfa.HfaClassifier(**params).fit(Xm, Ym)
    few = np.zeros(len(y), dtype=int)
    few[:2] = 1  # 2 positives: the validation split holds none of them
    with pytest.raises(HfaError, match="one class"):
        hfa.HfaClassifier(calibrate="platt", val_size=0.1, random_state=0).fit(X, few)


def test_fit_and_every_prediction_refuse_the_values_hfa_train_refuses(imbalanced):
    """One value check (hfa.data.checks.check_magnitudes) for hfa train, hfa predict and the estimator: fit(X*1e200)
    trained on overflowing standardisation and predict_proba(X*1e200) returned NaN."""
    X, y = imbalanced
    message = r"of X holds .* in row \d+ \(\d+ such cells\); allowed: finite numbers of magnitude at most 1e\+30"
    huge = X.copy()
    huge[5, 1] = 1e308
    for bad in (X * 1e200, huge):
        with pytest.raises(HfaError, match=message):
            hfa.HfaClassifier(epochs=1).fit(bad, y)
    model = hfa.HfaClassifier(epochs=1, hidden=(4,)).fit(X, y)
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(HfaError, match=message) as refused:
            getattr(model, method)(X * 1e200)
        assert "\n" not in str(refused.value)
    assert np.isfinite(model.predict_proba(X * 1e10)).all()  # within the bound: scored


# NumPy values, as grids (np.logspace), flags (np.bool_) and DataFrame cells hand them out: the one normalisation at
# the estimator's boundary (HfaClassifier._settings) takes each as the Python value it holds.
NUMPY_PARAMETERS = {
    "lr": st.floats(1e-6, 2.0),
    "epochs": st.integers(-2, 500),
    "dropout": st.floats(-0.5, 1.5),
    "hidden": st.lists(st.integers(-1, 64), min_size=1, max_size=3),
    "val_size": st.floats(-0.5, 1.5),
    "standardize": st.booleans(),
    "threshold": st.one_of(st.floats(-0.5, 1.5), st.just("tuned"), st.just("fixed")),
    "loss": st.sampled_from(["bce", "f1", "nope"]),
}


def _numpy(value, form: str):
    array = np.asarray(value)
    return array[()] if form == "scalar" else array  # np.float64, np.int64, np.bool_, np.str_; or a (0-d) array


def _config_or_refusal(**parameters):
    try:
        return hfa.HfaClassifier(**parameters)._config(0)
    except HfaError as refused:
        return f"refused: {refused}"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(case=st.sampled_from(sorted(NUMPY_PARAMETERS)), data=st.data(), form=st.sampled_from(["scalar", "array"]))
def test_numpy_parameters_are_the_python_values_they_hold(case, data, form):
    value = data.draw(NUMPY_PARAMETERS[case], label=case)
    assert _config_or_refusal(**{case: _numpy(value, form)}) == _config_or_refusal(**{case: value})


@pytest.mark.parametrize(
    "parameters",
    [
        {"lr": np.array(0.01)},
        {"val_size": np.float32(0.25)},
        {"standardize": np.bool_(False)},
        {"threshold": np.str_("tuned")},
        {"random_state": np.array(3)},
        {"hidden": np.array([8])},
    ],
    ids=lambda p: f"{next(iter(p))}={next(iter(p.values()))!r}",
)
def test_numpy_parameters_fit_as_the_python_values_they_hold(imbalanced, parameters):
    X, y = imbalanced
    as_python = {name: value.tolist() for name, value in parameters.items()}
    base = {**FAST, "epochs": 2, "random_state": 0}
    ours, theirs = (hfa.HfaClassifier(**{**base, **p}).fit(X, y) for p in (parameters, as_python))
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))
    assert ours.threshold_ == theirs.threshold_
    assert ours.get_params()[next(iter(parameters))] is parameters[next(iter(parameters))]  # left as given


@pytest.mark.parametrize("threshold", ["Tuned", "fixed", "0.5x", -0.1, 1.0, [0.5]])
def test_a_threshold_neither_tuned_nor_in_the_unit_interval_says_what_is_allowed(imbalanced, threshold):
    X, y = imbalanced
    says = "for 'threshold' in HfaClassifier parameters: give 'tuned' (chosen on the validation split) or a number in"
    with pytest.raises(HfaError, match=re.escape(says)):
        hfa.HfaClassifier(threshold=threshold).fit(X, y)


def test_a_grid_search_over_a_numpy_grid(imbalanced):
    X, y = imbalanced
    grid = {"lr": np.logspace(-2.5, -1.5, 2), "standardize": np.array([True, False])}
    search = GridSearchCV(hfa.HfaClassifier(**{**FAST, "epochs": 2}), grid, cv=2, scoring="f1", error_score="raise")
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
