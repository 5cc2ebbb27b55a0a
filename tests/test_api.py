"""`import hfa`: train, sweep, report and load_run for a notebook; nothing printed, nothing heavy imported early."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hfa
from helpers_properties import SETTINGS, one_line
from hfa.errors import HfaError

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
    from hfa.api import _items, _source

    from_mapping = expand(_source(tree), _items({"train.lr": 0.02})).configs
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


# ------------------------------------------------------------------------------------------ arguments, before work

TUNE = {
    **TINY,
    "train": {**TINY["train"], "epochs": 2},
    "methods": {"bce": {"loss.name": "bce"}, "f1": {"loss.name": "f1"}},
    "tune": {"budget": 1, "batch": 1, "seeds": [0], "final_seeds": [1]},
}

not_text = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), min_size=1, max_size=2), st.just(object())
)
not_a_path = st.one_of(not_text, st.none(), st.just(""), st.just("  "), st.just("a\0b"))
not_a_function = st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2))
not_workers = st.one_of(
    st.integers(max_value=0), st.booleans(), st.floats(), st.text(max_size=3), st.none(), st.just(np.int64(0))
)
not_names = st.one_of(
    st.just([]), st.just([""]), st.integers(), st.lists(st.integers(), min_size=1, max_size=2), st.just({"a": 1})
)


def other_text(*allowed: str) -> st.SearchStrategy:
    return st.one_of(not_text, st.none(), st.text(max_size=6).filter(lambda t: t not in allowed))


# Per function, each argument and values it must refuse (HfaError naming it) before anything is read or written.
WRONG = {
    "train": {"out": not_a_path, "mlflow": not_text, "on_epoch": not_a_function},
    "sweep": {
        "out": not_a_path,
        "mlflow": not_text,
        "workers": not_workers,
        "executor": other_text("local", "ray"),
        "force": st.one_of(st.integers(), st.text(max_size=3), st.none(), st.just(np.array([True]))),
        "on_report": not_a_function,
    },
    "tune": {
        "methods": st.one_of(st.just([""]), st.integers(), st.lists(st.integers(), min_size=1, max_size=2)),
        "budget": st.one_of(st.integers(max_value=0), st.floats(), st.booleans(), st.text(max_size=3)),
        "out": not_a_path,
        "workers": not_workers,
        "executor": other_text("local", "ray"),
        "on_report": not_a_function,
    },
    "report": {
        "runs_dir": not_a_path,
        "by": not_names,
        "split": other_text("val", "test"),
        "rule": not_names,
        "metrics": not_names,
        "baseline": not_text,
    },
}


def _call(function: str, tmp: Path, **arguments):
    """``hfa.<function>`` on a valid config and out folder, with ``arguments`` in place of the defaults."""
    if function == "report":
        return hfa.report(**{"runs_dir": tmp, **arguments})
    config = TUNE if function == "tune" else TINY
    grid = {"grid": {"seed": [0]}} if function == "sweep" else {}
    return getattr(hfa, function)(config, **{"out": tmp / "out", **grid, **arguments})


@SETTINGS
@given(case=st.sampled_from([(f, a) for f, arguments in WRONG.items() for a in arguments]), data=st.data())
def test_every_wrong_argument_is_refused_by_name_before_anything_is_written(tmp_path_factory, case, data):
    function, argument = case
    value = data.draw(WRONG[function][argument], label=argument)
    tmp = tmp_path_factory.mktemp("api")
    with pytest.raises(HfaError) as refused:
        _call(function, tmp, **{argument: value})
    assert one_line(str(refused.value)) and str(refused.value).startswith(f"{argument}="), refused.value
    assert not (tmp / "out").exists()


@pytest.mark.parametrize(
    ("function", "arguments", "says"),
    [
        ("train", {"config": {**TINY, 5: 1}}, "key 5 (int) in the config mapping is not allowed; keys are text"),
        ("report", {"rule": []}, "rule=[] (list) is not allowed; give a rule or a non-empty list of rules"),
        ("tune", {"workers": "2"}, 'workers="2" (str) is not allowed; give a whole number of at least 1'),
        ("tune", {"out": 7}, "out=7 (int) is not allowed; give a folder path"),
        ("tune", {"on_report": 3}, "on_report=3 (int) is not allowed; give a function"),
        ("tune", {"methods": "nosuch"}, "unknown method 'nosuch'; the config mapping declares: bce, f1"),
    ],
)
def test_the_reported_calls_are_refused_in_one_line_before_any_work(tmp_path, function, arguments, says):
    if "config" in arguments:
        with pytest.raises(HfaError, match=re.escape(says)):
            hfa.train(arguments["config"], out=tmp_path / "out")
    else:
        with pytest.raises(HfaError, match=re.escape(says)):
            _call(function, tmp_path, **arguments)
    assert not (tmp_path / "out").exists()


non_text_keys = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.none(), st.booleans(), st.tuples(st.integers()), st.binary(max_size=2)
)


@SETTINGS
@given(
    key=non_text_keys,
    depth=st.integers(0, 2),
    function=st.sampled_from(["train", "sweep", "tune", "resolve_config"]),
)
def test_a_config_key_that_is_not_text_is_refused_at_any_depth(tmp_path_factory, key, depth, function):
    tree = json.loads(json.dumps(TUNE if function == "tune" else TINY))
    node = [tree, tree["train"], tree["data"].setdefault("more", {})][depth]
    node[key] = 1
    tmp = tmp_path_factory.mktemp("keys")
    with pytest.raises(HfaError) as refused:
        if function == "resolve_config":
            hfa.resolve_config(tree)
        else:
            getattr(hfa, function)(tree, out=tmp / "out")
    assert one_line(str(refused.value)) and "keys are text" in str(refused.value), refused.value
    assert not (tmp / "out").exists()


def test_a_config_that_holds_itself_is_refused_not_recursed_into():
    tree = json.loads(json.dumps(TINY))
    tree["model"]["loop"] = tree["model"]
    with pytest.raises(HfaError, match="holds itself under 'model.loop'"):
        hfa.resolve_config(tree)


# ------------------------------------------------------------------------------------------ NumPy values

KEYED_VALUES = st.one_of(
    st.tuples(st.just("train.lr"), st.floats(1e-6, 2.0)),
    st.tuples(st.just("train.epochs"), st.integers(-2, 500)),
    st.tuples(st.just("train.stack"), st.booleans()),
    st.tuples(st.just("model.dropout"), st.floats(-0.5, 1.5)),
    st.tuples(st.just("model.hidden"), st.lists(st.integers(-1, 64), max_size=3)),
)


def _numpy(value, form: str):
    """``value`` as NumPy hands it out: a scalar (np.float64, np.int64, np.bool_), a 0-d array or an array."""
    array = np.asarray(value) if not isinstance(value, list) or value else np.asarray(value, dtype=np.int64)
    return array[()] if form == "scalar" else array


def _outcome(make):
    try:
        return make()
    except HfaError as refused:
        return f"refused: {refused}"


@SETTINGS
@given(keyed=KEYED_VALUES, form=st.sampled_from(["scalar", "array"]))
def test_numpy_values_are_the_python_values_they_hold_everywhere_in_the_api(keyed, form):
    """As HfaClassifier takes np.float64 from a np.logspace grid, hfa.train, hfa.sweep and hfa.tune take NumPy values
    in overrides, config mappings and grids as the Python values they hold (the same config, or the same refusal)."""
    from hfa.api import _grid_items, _source
    from hfa.config import set_dotted
    from hfa.sweep import expand

    key, value = keyed
    wrapped = _numpy(value, form)
    assert _outcome(lambda: hfa.resolve_config(TINY, {key: wrapped})) == _outcome(
        lambda: hfa.resolve_config(TINY, {key: value})
    )
    trees = [json.loads(json.dumps(TINY)) for _ in range(2)]
    set_dotted(trees[0], key, value)
    trees[1] = {**trees[1], key.split(".")[0]: {**trees[1][key.split(".")[0]], key.split(".")[1]: wrapped}}
    assert _outcome(lambda: hfa.resolve_config(trees[1])) == _outcome(lambda: hfa.resolve_config(trees[0]))

    def grid(values):
        return [c.to_dict() for c in expand(_source(TINY), [], _grid_items({key: values})).configs]

    assert _outcome(lambda: grid(np.asarray([wrapped]))) == _outcome(lambda: grid([value]))


def test_numpy_arguments_are_the_python_values_they_hold():
    from hfa.preflight import check_arguments

    checked = check_arguments(workers=np.int64(2), force=np.bool_(True), budget=np.array(3), executor=np.str_("ray"))
    assert checked == {"workers": 2, "force": True, "budget": 3, "executor": "ray"}
    assert [type(v) for v in checked.values()] == [int, bool, int, str]
    names = check_arguments(methods=np.array(["bce", "f1"]), rule="tuned")
    assert names == {"methods": ["bce", "f1"], "rule": ["tuned"]}
    assert check_arguments(methods="bce") == {"methods": ["bce"]}  # one name, not the letters b, c, e


# ------------------------------------------------------------------------------------------ hfa.tune's config


def test_tune_reads_a_mapping_as_its_yaml_and_one_method_name_as_one_method(tmp_path):
    import yaml

    from hfa.search import load_plan

    (tmp_path / "study.yaml").write_text(yaml.safe_dump(TUNE))
    from_yaml, from_mapping = load_plan(tmp_path / "study.yaml"), load_plan(TUNE)
    assert from_mapping.base == from_yaml.base and from_mapping.methods == from_yaml.methods
    assert (from_mapping.budget, from_mapping.final_seeds) == (from_yaml.budget, from_yaml.final_seeds)
    assert TUNE["methods"] == {"bce": {"loss.name": "bce"}, "f1": {"loss.name": "f1"}}  # the caller's, untouched


@pytest.mark.slow
def test_tune_on_a_mapping_with_one_method_name(tmp_path):
    result = hfa.tune(TUNE, methods="f1", out=tmp_path)
    assert [choice.method for choice in result.choices] == ["f1"]
    assert (tmp_path / "api" / "report.md").is_file()
