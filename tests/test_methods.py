"""Methods (model x loss x resampling) in reports: one label per method, compared with bce as losses are."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from helpers_runs import config_dict, scored_splits, write_scored_run
from hfa.cli import app
from hfa.methods import config_method_label, method_label
from hfa.report.build import build_report
from hfa.report.collect import has_methods, load_runs, match_keys, row_keys
from hfa.report.tables import render

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("bce",), "bce"),
        (("fbeta(beta=2)",), "fbeta(beta=2)"),
        (("bce", "mlp", "smote"), "bce+smote"),
        (("wbce", None, "random_under"), "wbce+random_under"),
        (("bce", "logistic", "none"), "logistic"),
        (("bce", "gbdt"), "gbdt"),
        (("wbce", "logistic", "random_over"), "logistic+wbce+random_over"),
    ],
)
def test_method_labels(args, label):
    assert method_label(*args) == label


def test_a_config_without_the_keys_is_an_mlp_without_resampling():
    assert config_method_label({"loss": {"name": "f1"}}, "f1") == "f1"
    assert config_method_label({"model": {"name": "gbdt"}, "data": {"resample": "smote"}}, "bce") == "gbdt+smote"
    assert config_method_label({}, None) is None


# label -> (loss.name, model.name or None for the MLP, resampler or None, quality of its scores)
METHODS = {
    "bce": ("bce", None, None, 0.30),
    "f1": ("f1", None, None, 0.33),
    "bce+smote": ("bce", None, "smote", 0.28),
    "wbce+random_under": ("wbce", None, "random_under", 0.26),
    "logistic": ("bce", "logistic", None, 0.22),
    "gbdt": ("bce", "gbdt", None, 0.36),
}
DATA = ("keel/yeast4", "keel/ecoli1")
SEEDS = (0, 1, 2)


def _config(loss: str, model: str | None, resample: str | None, data: str, seed: int) -> dict:
    """A run's resolved config as hfa records it: resample and model.name only where they are not the defaults,
    and a baseline model without the MLP's settings (inapplicable keys are left out)."""
    config = config_dict(loss, None, seed)
    config["data"]["name"] = data
    config["data"].pop("resample", None)
    config["eval"].pop("calibrate", None)
    if resample is not None:
        config["data"]["resample"] = resample
    config["model"]["name"] = model or "mlp"
    if model is not None:  # the MLP's settings do not apply to another model
        config["model"] = {"name": model}
        config["train"] = {"patience": config["train"]["patience"]}
    return config


@pytest.fixture(scope="module")
def method_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("methods")
    scores = {}
    for i, (label, (loss, model, resample, shift)) in enumerate(METHODS.items()):
        for j, data in enumerate(DATA):
            for seed in SEEDS:
                splits = scored_splits(100 * i + 10 * j + seed, shift + 0.05 * j)
                scores[(label, data, seed)] = splits
                run_id = f"{label.replace('+', '-')}-{j}-s{seed}"
                write_scored_run(root, run_id, loss, _config(loss, model, resample, data, seed), splits)
    return root, scores


def test_the_loss_column_names_each_method_and_rows_are_data_set_by_method(method_sweep):
    root, _ = method_sweep
    runs = load_runs(root)
    assert set(runs.ok["loss"]) == set(METHODS)
    assert has_methods(runs.table)
    # model.name, data.resample and the MLP's own settings (model.hidden, train.epochs: absent from the baselines'
    # configs) are decided by the method: no row key of their own, not matched.
    assert row_keys(runs.table) == ["data.name", "loss"]
    # A method's partner is the bce run of its seed and data set, whatever the model's settings or the resampler.
    assert match_keys(runs.table) == ["seed", "data.name"]


def test_each_method_is_compared_with_bce_on_paired_seeds(method_sweep):
    root, scores = method_sweep
    report = build_report(load_runs(root), metrics=["f1"], rules=["fixed"])
    paired = report.comparisons["f1"]
    fixed = paired[(paired["rule"] == "fixed") & (paired["baseline_rule"] == "fixed")]
    assert set(fixed["loss"]) == set(METHODS) - {"bce"}
    assert len(fixed) == (len(METHODS) - 1) * len(DATA)
    for row in fixed.to_dict("records"):
        ours = [f1_score(*_at(scores[(row["loss"], row["data.name"], s)]["test"], 0.5)) for s in SEEDS]
        base = [f1_score(*_at(scores[("bce", row["data.name"], s)]["test"], 0.5)) for s in SEEDS]
        assert row["n"] == len(SEEDS)
        assert row["delta"] == pytest.approx(np.mean(np.subtract(ours, base)), abs=1e-12)
    (ranked,) = report.rankings
    assert set(ranked.mean_rank.index) == set(METHODS) and ranked.blocks == len(DATA)
    text = render(report, "markdown")
    assert "| bce+smote |" in text and "| gbdt |" in text
    assert "loss: the method (model × loss × resampling of the training split)" in text


def _at(split: tuple[np.ndarray, np.ndarray], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    y, p = split
    return y, (p >= threshold).astype(int)


def test_a_report_of_losses_alone_has_no_method_note(sweep):
    report = build_report(load_runs(sweep.root))
    assert not report.methods and "loss: the method (model" not in render(report, "markdown")


def test_hfa_methods_lists_models_resamplers_and_calibration():
    result = runner.invoke(app, ["methods"])
    assert result.exit_code == 0, result.output
    for name in ("mlp", "random_over", "random_under", "smote", "platt", "isotonic", "bce+smote"):
        assert name in result.output
