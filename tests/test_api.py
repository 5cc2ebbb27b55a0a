"""`import hfa`: train, sweep, report and load_run for a notebook; nothing printed, nothing heavy imported early."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import hfa

TINY = {
    "name": "api",
    "data": {"name": "synthetic", "n_samples": 2000, "cluster_std": 2.0, "imbalance_ratio": 5},
    "model": {"hidden": [8]},
    "train": {"epochs": 4, "batch_size": 256, "lr": 0.01, "device": "cpu"},
}


def test_import_hfa_stays_light():
    code = "import sys, hfa; print(sorted(m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_functions_survive_importing_their_namesake_modules():
    import hfa.report  # noqa: F401
    import hfa.sweep  # noqa: F401
    from hfa.sweep import expand  # the module is still importable by name

    assert callable(expand)
    assert hfa.sweep.__module__ == "hfa.api" and hfa.report.__module__ == "hfa.api"


def test_a_mapping_config_with_a_grid_resolves_like_its_yaml(tmp_path):
    import yaml

    from hfa.sweep import expand

    tree = {**TINY, "seed": 3, "sweep": {"seed": [0, 1], "loss.name": ["bce", "f1"]}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))
    from_yaml = expand(tmp_path / "c.yaml").configs
    from hfa.api import _split

    path, items, grid = _split(tree, {"train.lr": 0.02})
    from_mapping = expand(path, items, grid).configs
    assert [c.seed for c in from_mapping] == [c.seed for c in from_yaml] == [0, 0, 1, 1]
    assert {c.train.lr for c in from_mapping} == {0.02}
    assert hfa.resolve_config(tree, ["loss.name=f1"]).seed == 3


@pytest.mark.slow
def test_train_then_load_run_scores_raw_rows(tmp_path, capsys):
    run = hfa.train(TINY, {"loss.name": "f1"}, out=tmp_path)
    assert capsys.readouterr() == ("", "")  # the library prints nothing
    predictor = hfa.load_run(run.run_dir)
    rows = pd.DataFrame({"x0": [0.0, 5.0, -5.0], "x1": [0.0, 5.0, -5.0]})
    scored = predictor.score(rows, threshold="tuned")
    assert list(scored.columns) == ["score", "label"] and len(scored) == 3
    cut = predictor.thresholds["tuned"]
    np.testing.assert_array_equal(scored["label"], (scored["score"] >= cut).astype(int))
    assert predictor.thresholds["fixed"] == 0.5


@pytest.mark.slow
def test_sweep_then_report(tmp_path):
    reports = []
    result = hfa.sweep(TINY, grid={"loss.name": ["bce", "f1"], "seed": [0, 1]}, out=tmp_path, on_report=reports.append)
    assert len(reports) == 4 and result.summary.count("ok") == 4
    assert set(result.results["loss.name"]) == {"bce", "f1"}
    report = hfa.report(result.root, by=["loss"], baseline="bce")
    assert report.summary["n"].tolist() == [2, 2]
    assert report.comparison is not None and "| f1 |" in report.to_text("markdown")


@pytest.mark.parametrize(
    ("grid", "says"),
    [
        ({"seed": []}, "grid 'seed' gives no values"),
        ({"seed": "0,1"}, "is not a list of values"),
        ({"seed": 3}, "is not a list of values"),
    ],
)
def test_a_bad_grid_is_refused_in_the_apis_words_before_any_work(tmp_path, grid, says):
    from hfa.errors import HfaError

    with pytest.raises(HfaError, match=says) as refused:
        hfa.sweep(TINY, grid=grid, out=tmp_path / "runs")
    assert "--grid" not in str(refused.value)
    assert not (tmp_path / "runs").exists()
