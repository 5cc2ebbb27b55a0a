"""Generated members of the classes "hfa predict never returns a number it cannot stand behind", "bounded
resources for any input size" and "reports and output never die half-way" (issue 22).

The promise for every generated case: an ``HfaError`` (exit 2) in one line naming the file or column, or a correct
result (finite probabilities, labels 0/1); no traceback; nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hfa
from helpers_properties import SETTINGS, one_line
from helpers_runs import make_sweep
from hfa import predict as predict_module
from hfa.cli import app
from hfa.data import checks
from hfa.errors import HfaError
from hfa.predict import load_run
from hfa.report.stats import smallest_p
from hfa.results import collect_results
from hfa.rundir import FILES_KEY, FORMAT_KEY

runner = CliRunner()


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 5, size=n).astype(float),
            "c": rng.choice(["red", "green", "blue"], size=n),
            "y": (rng.random(n) < 0.3).astype(int),
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished run on a table with numbers and a text column: two epochs of a 4-unit MLP."""
    base = tmp_path_factory.mktemp("trained")
    path = base / "train.csv"
    table(300).to_csv(path, index=False)
    overrides = {
        "name": "props",
        "data.name": str(path),
        "data.target": "y",
        "model.hidden": [4],
        "train.epochs": 2,
        "train.device": "cpu",
    }
    return hfa.train(None, overrides, out=base / "runs").run_dir


ROWS = table(50, seed=1).drop(columns="y")


def scored_or_refused(run_dir: Path, rows: pd.DataFrame, what: str) -> None:
    """The promise of predict: one line naming ``what``, or finite probabilities in [0, 1] and labels 0/1."""
    try:
        scored = load_run(run_dir).score(rows, threshold="tuned")
    except HfaError as refused:
        assert one_line(str(refused)), str(refused)
        assert what in str(refused), (what, str(refused))
        return
    probability = scored["score"].to_numpy()  # an uncalibrated run writes a score
    assert len(scored) == len(rows)
    assert np.isfinite(probability).all() and ((probability >= 0) & (probability <= 1)).all()
    assert set(scored["label"]) <= {0, 1}


def leaves(tree, prefix=()):
    """Every path into a JSON or YAML tree, the containers included."""
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from leaves(value, (*prefix, index))


def replaced(tree, path, value):
    if not path:
        return value
    tree = json.loads(json.dumps(tree))
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return tree


wrong = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e308, 0.5, 2.0]),
    st.text(max_size=4),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text("ab", min_size=1, max_size=2), st.integers(0, 2), max_size=2),
)


# ------------------------------------------------------------------------------------------ 4. predict


def without_hashes(run_dir: Path) -> None:
    """The run as an hfa before run.json's sha256s wrote it: only the readers' own checks stand."""
    info = json.loads((run_dir / "run.json").read_text())
    info.pop(FILES_KEY)
    info.pop(FORMAT_KEY)
    (run_dir / "run.json").write_text(json.dumps(info))


def predict_exit(run_dir: Path) -> tuple[int, str]:
    rows = run_dir.parent / "rows.csv"
    ROWS.to_csv(rows, index=False)
    result = runner.invoke(app, ["predict", str(run_dir), str(rows)])
    return result.exit_code, result.stderr


@SETTINGS
@given(
    data=st.data(),
    file=st.sampled_from(["preprocessing.json", "run.json", "config.yaml"]),
    value=wrong,
    hashed=st.booleans(),
)
def test_a_tampered_run_folder_is_refused_in_one_line_naming_the_file(
    tmp_path_factory, trained, data, file, value, hashed
):
    run_dir = tmp_path_factory.mktemp("tampered") / trained.name
    shutil.copytree(trained, run_dir)
    if not hashed:
        without_hashes(run_dir)
    path = run_dir / file
    original = yaml.safe_load(path.read_text()) if file.endswith(".yaml") else json.loads(path.read_text())
    where = data.draw(st.sampled_from(list(leaves(original))), label="where")
    tampered = replaced(original, where, value)
    if file.endswith(".yaml"):
        path.write_text(yaml.safe_dump(tampered) if tampered is not None else "")
    else:
        path.write_text(json.dumps(tampered))
    scored_or_refused(run_dir, ROWS, file)


HASHED = ("config.yaml", "metrics.csv", "history.csv", "curves.csv", "model.pt", "preprocessing.json")


def test_run_json_records_the_sha256_of_every_file_written(trained):
    recorded = json.loads((trained / "run.json").read_text())[FILES_KEY]
    assert sorted(recorded) == sorted(HASHED)
    for name, digest in recorded.items():
        assert hashlib.sha256((trained / name).read_bytes()).hexdigest() == digest


@SETTINGS
@given(file=st.sampled_from(HASHED), at=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_any_changed_byte_of_a_hashed_file_is_refused_naming_it(tmp_path_factory, trained, file, at, flip):
    run_dir = tmp_path_factory.mktemp("byte") / trained.name
    shutil.copytree(trained, run_dir)
    data = bytearray((run_dir / file).read_bytes())
    index = int(at * len(data))
    data[index] ^= flip  # a different byte, anywhere in the file
    (run_dir / file).write_bytes(bytes(data))
    code, stderr = predict_exit(run_dir)
    assert code == 2 and one_line(stderr), stderr
    assert f"{file} was changed after the run was written" in stderr, stderr
    with pytest.raises(HfaError, match=file.replace(".", r"\.")):
        load_run(run_dir)


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def edit_config(path: Path, key: str, value) -> None:
    config = yaml.safe_load(path.read_text())
    config["model"][key] = value
    path.write_text(yaml.safe_dump(config))


def edit_state(path: Path, change) -> None:
    state = torch.load(path, weights_only=True)
    torch.save({k: change(v) for k, v in state.items()}, path)


TAMPERINGS = {  # the independent tester's reproductions: what each changed, and what names it without hashes
    "scale": (
        lambda d: edit_json(d / "preprocessing.json", lambda p: p["numeric"][0].update(scale=1e-300)),
        "is within rounding of 0",  # standard_scaler_fit writes 1 there
    ),
    "mean": (
        lambda d: edit_json(d / "preprocessing.json", lambda p: p["numeric"][0].update(mean=1e300)),
        "'numeric.0' mean 1e+300 exceeds 1e+30",  # training's bound
    ),
    "levels": (
        lambda d: edit_json(d / "preprocessing.json", lambda p: p["categorical"][0].update(categories=["a", "a", "c"])),
        "lists a category level twice",
    ),
    "order": (lambda d: edit_json(d / "preprocessing.json", lambda p: p["numeric"].reverse()), "feature_names"),
    "int64": (lambda d: edit_state(d / "model.pt", lambda v: v.to(torch.int64)), "torch.int64"),
    "float16": (lambda d: edit_state(d / "model.pt", lambda v: v.to(torch.float16)), "torch.float16"),
    "gbdt": (lambda d: edit_config(d / "config.yaml", "name", "gbdt"), "lacks the tensor 'value'"),
    "empty": (lambda d: (d / "model.pt").write_bytes(b""), "it is empty or cut short"),
    "x1e30": (lambda d: edit_state(d / "model.pt", lambda v: v * 1e30), None),
    "tanh": (lambda d: edit_config(d / "config.yaml", "activation", "tanh"), None),
}
FILE_OF = {"scale": "preprocessing.json", "mean": "preprocessing.json", "levels": "preprocessing.json"}
FILE_OF |= {"order": "preprocessing.json", "int64": "model.pt", "float16": "model.pt", "gbdt": "config.yaml"}
FILE_OF |= {"empty": "model.pt", "x1e30": "model.pt", "tanh": "config.yaml"}


@pytest.mark.parametrize("hashed", [True, False], ids=["hashed", "older-run"])
@pytest.mark.parametrize("what", sorted(TAMPERINGS))
def test_the_testers_tamperings_exit_2_in_one_line(tmp_path, trained, what, hashed):
    run_dir = tmp_path / trained.name
    shutil.copytree(trained, run_dir)
    tamper, legacy = TAMPERINGS[what]
    if not hashed:
        if what in ("x1e30", "tanh"):
            pytest.skip("a plausible weight or setting: only run.json's sha256 tells it from the run's own")
        without_hashes(run_dir)
    tamper(run_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the library prints nothing, not even a RuntimeWarning
        code, stderr = predict_exit(run_dir)
    assert code == 2 and one_line(stderr), stderr
    file = "model.pt" if what == "gbdt" and not hashed else FILE_OF[what]
    expected = "was changed after the run was written" if hashed else (legacy or "not a finite float32")
    assert file in stderr and expected in stderr, stderr


def test_a_run_json_without_status_says_so_in_one_line(tmp_path, trained):
    run_dir = tmp_path / trained.name
    shutil.copytree(trained, run_dir)
    edit_json(run_dir / "run.json", lambda info: info.pop("status"))
    code, stderr = predict_exit(run_dir)
    assert code == 2 and one_line(stderr) and "run.json has no 'status'" in stderr, stderr


@pytest.mark.parametrize("rows", [np.zeros((2, 3)), {"a": [1.0]}, [[1.0, 2.0, 3.0]]])
def test_score_takes_a_data_frame_only(trained, rows):
    with pytest.raises(HfaError, match="rows=.* is not allowed; pass the rows to score as a pandas DataFrame"):
        load_run(trained).score(rows)


@SETTINGS
@given(data=st.data(), value=st.sampled_from([float("nan"), float("inf"), -float("inf")]))
def test_non_finite_weights_in_model_pt_are_refused(tmp_path_factory, trained, data, value):
    run_dir = tmp_path_factory.mktemp("weights") / trained.name
    shutil.copytree(trained, run_dir)
    state = torch.load(run_dir / "model.pt", weights_only=True)
    name = data.draw(st.sampled_from(sorted(state)), label="tensor")
    flat = state[name].view(-1)
    flat[data.draw(st.integers(0, flat.numel() - 1), label="index")] = value
    torch.save(state, run_dir / "model.pt")
    with pytest.raises(HfaError, match="model.pt") as refused:
        load_run(run_dir)
    assert one_line(str(refused.value))


@SETTINGS
@given(junk=st.binary(max_size=64))
def test_a_model_pt_that_is_not_a_state_dict_is_refused(tmp_path_factory, trained, junk):
    run_dir = tmp_path_factory.mktemp("junk") / trained.name
    shutil.copytree(trained, run_dir)
    (run_dir / "model.pt").write_bytes(junk)
    with pytest.raises(HfaError, match="model.pt"):
        load_run(run_dir)


cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**18), 10**18),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
)


@SETTINGS
@given(column=st.sampled_from(["a", "b", "c"]), values=st.lists(cell, min_size=1, max_size=6))
def test_input_rows_are_checked_as_training_checks_them(trained, column, values):
    rows = ROWS.iloc[: len(values)].copy()
    rows[column] = pd.Series(values, dtype=object).infer_objects()
    scored_or_refused(trained, rows, repr(column) if column != "c" else "")


@SETTINGS
@given(cells=st.integers(1, 200))
def test_batched_scoring_gives_the_unbatched_numbers(trained, cells, monkeypatch_module):
    predictor = load_run(trained)
    whole = predictor.predict_proba(ROWS)
    monkeypatch_module.setattr(predict_module, "BATCH_CELLS", cells)
    np.testing.assert_array_equal(predictor.predict_proba(ROWS), whole)
    monkeypatch_module.undo()


@pytest.fixture
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


# ------------------------------------------------------------------------------------------ 6. bounds


@SETTINGS
@given(n=st.one_of(st.integers(1, 60), st.integers(1000, 1100), st.integers(1, 100_000)))
def test_smallest_p_is_exact_for_any_number_of_pairs(n):
    assert smallest_p(n) == min(1.0, float(Fraction(2, 2**n)))


@SETTINGS
@given(rows=st.integers(1, 40), levels=st.integers(1, 30), bound=st.integers(1, 400))
def test_one_hot_encoding_is_bounded_by_rows_times_levels(monkeypatch_module, rows, levels, bound):
    monkeypatch_module.setattr(checks, "MAX_ONE_HOT_CELLS", bound)
    frame = pd.DataFrame({"n": np.arange(rows, dtype=float), "id": [f"v{i % levels}" for i in range(rows)]})
    distinct = min(rows, levels)
    if rows * distinct > bound:
        with pytest.raises(HfaError, match="'id'") as refused:
            checks.check_features(frame, "t.csv")
        assert one_line(str(refused.value)) and "drop that column" in str(refused.value)
    else:
        checks.check_features(frame, "t.csv")
    monkeypatch_module.undo()


# ------------------------------------------------------------------------------------------ 7. reports


@pytest.fixture(scope="module")
def fake_sweep(tmp_path_factory):
    return make_sweep(tmp_path_factory.mktemp("sweep"), with_failed=False)


@SETTINGS
@given(
    row=st.integers(0, 12),
    edit=st.sampled_from(["extra", "fewer", "text", "empty", "header-only", "binary", "blank-line"]),
)
def test_a_malformed_metrics_file_is_one_line_or_a_table(tmp_path_factory, fake_sweep, row, edit):
    root = tmp_path_factory.mktemp("metrics")
    shutil.copytree(fake_sweep.root, root / "fake")
    path = sorted((root / "fake").glob("*/metrics.csv"))[0]
    lines = path.read_text().splitlines()
    at = 1 + row % (len(lines) - 1)
    if edit == "extra":
        lines[at] += ",1,2"
    elif edit == "fewer":
        lines[at] = ",".join(lines[at].split(",")[:3])
    elif edit == "text":
        cells = lines[at].split(",")
        cells[-1] = "lots"
        lines[at] = ",".join(cells)
    elif edit == "empty":
        lines = []
    elif edit == "header-only":
        lines = lines[:1]
    elif edit == "blank-line":
        lines.insert(at, "")
    path.write_text("\n".join(lines) + "\n") if edit != "binary" else path.write_bytes(b"\xff\xfe\x00junk")
    try:
        frame = collect_results(root)
    except HfaError as refused:
        assert one_line(str(refused)) and "metrics.csv" in str(refused)
        return
    assert len(frame) > 0


destinations = st.sampled_from(["r.md", "r.csv", "r.tex", "dir", "file/r.md", "same", "new/r.md"])
plots = st.sampled_from(["r.png", "r.svg", "r.jpg", "r.xyz", "dir", "file/r.png", None])


@settings(SETTINGS, max_examples=12)
@given(out=destinations, plot=plots)
def test_report_writes_both_outputs_or_neither(tmp_path_factory, fake_sweep, out, plot):
    base = tmp_path_factory.mktemp("report")
    (base / "dir").mkdir()
    (base / "file").write_text("the user's")

    def place(name):
        return None if name is None else base / ("r.png" if name == "same" else name)

    out_path = place(out)
    plot_path = place("r.png" if out == "same" and plot is None else plot)
    args = ["report", str(fake_sweep.root), "--out", str(out_path)]
    if plot_path is not None:
        args += ["--plot", str(plot_path)]
    before = sorted(p.name for p in base.rglob("*"))
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert one_line(result.stderr)
        assert sorted(p.name for p in base.rglob("*")) == before  # neither was written
        assert (base / "file").read_text() == "the user's"
    else:
        assert out_path.is_file() and (plot_path is None or plot_path.is_file())


def test_output_in_an_ascii_terminal_does_not_die(fake_sweep):
    """PYTHONIOENCODING=ascii: the report's ± and box lines print as '?', not as a UnicodeEncodeError."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": str(Path(hfa.__file__).parents[1])}
    code = "import sys; from hfa.cli import main; sys.argv[0] = 'hfa'; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "report", str(fake_sweep.root)], env=env, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr and b"?" in done.stdout


def test_a_run_json_that_says_it_lists_its_files_and_lists_none_is_refused(tmp_path, trained):
    """Deleting run.json's sha256s so that an edited config.yaml passes as an older run's: the format says
    otherwise."""
    run_dir = tmp_path / trained.name
    shutil.copytree(trained, run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    info.pop(FILES_KEY)
    (run_dir / "run.json").write_text(json.dumps(info))
    config = run_dir / "config.yaml"
    config.write_text(config.read_text().replace("activation: relu", "activation: tanh"))
    status, stderr = predict_exit(run_dir)
    assert status == 2 and "edited by hand" in stderr and len(stderr.strip().splitlines()) == 1, stderr


@SETTINGS
@given(value=st.floats(checks.MAX_ABS_FEATURE, 1e300, exclude_min=True), negative=st.booleans())
def test_a_too_large_number_is_shown_with_the_digits_that_tell_it_from_the_bound(value, negative):
    """M11: 1.0000001e30 was shown as 1e+30, the bound itself; the message now reads back as the number."""
    value = -value if negative else value
    with pytest.raises(HfaError, match="allowed: finite numbers of magnitude at most 1e\\+30") as refused:
        checks.check_magnitudes(np.array([0.0, value]), "t.csv", ["a"])
    shown = str(refused.value).split(" holds ")[1].split(" in data row ")[0]
    assert float(shown) == value and shown != "1e+30", shown


# ------------------------------------------------------------- run.json is the root of trust: its fields checked


def train_like(tmp_path_factory, name: str, **extra) -> Path:
    """A run as ``trained``, with other settings (calibration, a baseline, several targets)."""
    base = tmp_path_factory.mktemp(name)
    path = base / "train.csv"
    frame = table(300)
    if isinstance(extra.get("data.target"), list):  # a second target column
        frame["z"] = (frame["a"] + np.random.default_rng(2).normal(size=len(frame)) > 0.3).astype(int)
    frame.to_csv(path, index=False)
    overrides = {"name": name, "data.name": str(path), "data.target": "y", "model.hidden": [4], "train.epochs": 2}
    return hfa.train(None, {**overrides, "train.device": "cpu", **extra}, out=base / "runs").run_dir


@pytest.fixture(scope="module")
def platt_run(tmp_path_factory) -> Path:
    return train_like(tmp_path_factory, "platt", **{"eval.calibrate": "platt"})


@pytest.fixture(scope="module")
def multilabel_run(tmp_path_factory) -> Path:
    return train_like(tmp_path_factory, "multi", **{"data.target": ["y", "z"], "loss.name": "f1"})


@pytest.fixture(scope="module")
def baseline_runs(tmp_path_factory) -> dict[str, Path]:
    return {name: train_like(tmp_path_factory, name, **{"model.name": name}) for name in ("logistic", "gbdt")}


def copied(tmp_path_factory, run_dir: Path, hashed: bool = True) -> Path:
    copy = tmp_path_factory.mktemp("copy") / run_dir.name
    shutil.copytree(run_dir, copy)
    if not hashed:
        without_hashes(copy)
    return copy


def refused(run_dir: Path, *named: str) -> str:
    """load_run and score refuse the folder in one line naming each of ``named``; the CLI exits 2 with it."""
    with pytest.raises(HfaError) as no:
        load_run(run_dir).score(ROWS)
    message = str(no.value)
    assert one_line(message) and all(n in message for n in named), (named, message)
    return message


calibrations = st.one_of(
    st.none(),
    st.just({"method": "none"}),
    st.just({"method": "platt", "coef": 1.0, "intercept": 0.0}),
    st.just({"method": "isotonic", "x": [0.2, 0.8], "y": [0.1, 0.9]}),
)


@SETTINGS
@given(stored=calibrations, calibrated=st.booleans(), hashed=st.booleans())
def test_run_json_calibration_must_be_the_one_config_yaml_asks_for(
    tmp_path_factory, trained, platt_run, stored, calibrated, hashed
):
    """B11: a map removed from a calibrated run (its raw scores printed as probabilities) or added to an
    uncalibrated one changed the output silently."""
    run_dir = copied(tmp_path_factory, platt_run if calibrated else trained, hashed)
    edit_json(run_dir / "run.json", lambda info: info.update(calibration=stored))
    matches = stored is not None and stored["method"] == "platt" if calibrated else stored is None
    if matches:
        predictor = load_run(run_dir)
        assert predictor.score_column == ("probability" if calibrated else "score")
        assert (predictor.calibration is not None) == calibrated
        return
    refused(run_dir, "run.json", "'calibration'", "eval.calibrate")


@SETTINGS
@given(key=st.sampled_from(["coef", "intercept"]), value=wrong)
def test_a_calibrated_runs_map_is_checked_when_the_run_is_loaded(tmp_path_factory, platt_run, key, value):
    run_dir = copied(tmp_path_factory, platt_run)
    edit_json(run_dir / "run.json", lambda info: info["calibration"].update({key: value}))
    try:
        scored = load_run(run_dir).score(ROWS)
    except HfaError as no:
        assert one_line(str(no)) and f"'calibration.{key}'" in str(no), str(no)
        return
    assert np.isfinite(scored["probability"]).all() and scored["probability"].between(0, 1).all()
    assert abs(value) <= 1e12 and not isinstance(value, bool)  # only a number a fit can give is taken


@SETTINGS
@given(dropped=st.sets(st.sampled_from(["config.yaml", "model.pt", "preprocessing.json"]), min_size=1))
def test_a_format_2_run_json_lists_every_file_predict_reads(tmp_path_factory, trained, dropped):
    """B12: ``"files": {}`` switched the sha256 check off, and a negated model.pt was scored."""
    run_dir = copied(tmp_path_factory, trained)
    edit_json(run_dir / "run.json", lambda info: [info["files"].pop(name) for name in dropped])
    edit_state(run_dir / "model.pt", lambda v: -v)
    message = refused(run_dir, "run.json", "'files' lists no sha256 for")
    assert all(name in message for name in dropped)


def test_an_empty_files_map_is_refused_in_the_cli(tmp_path_factory, trained):
    run_dir = copied(tmp_path_factory, trained)
    edit_json(run_dir / "run.json", lambda info: info.update(files={}))
    code, stderr = predict_exit(run_dir)
    assert code == 2 and one_line(stderr) and "config.yaml, model.pt, preprocessing.json" in stderr, stderr


@SETTINGS
@given(file=st.sampled_from(["run.json", "preprocessing.json"]), depth=st.integers(1000, 200_000))
def test_deeply_nested_json_is_one_line(tmp_path_factory, trained, file, depth):
    """B13: '[' * 100000 + ']' * 100000 was a RecursionError traceback."""
    run_dir = copied(tmp_path_factory, trained, hashed=False)
    (run_dir / file).write_text("[" * depth + "]" * depth)
    refused(run_dir, file)


label_lists = st.one_of(
    st.lists(st.text(max_size=3), max_size=4),
    st.lists(st.sampled_from(["y", "z", "", " "]), max_size=4),
    wrong,
)


@SETTINGS
@given(labels=label_lists)
def test_labels_on_a_single_label_run_are_refused(tmp_path_factory, trained, labels):
    """B13: data.labels=['y'] on a single-label run was an IndexError traceback."""
    run_dir = copied(tmp_path_factory, trained)
    edit_json(run_dir / "run.json", lambda info: info["data"].update(labels=labels))
    if labels is None:
        load_run(run_dir).score(ROWS)  # what a single-label run's run.json may say
        return
    refused(run_dir, "run.json", "'data.labels'")


@SETTINGS
@given(change=st.sampled_from(["twice", "rename", "empty", "blank", "drop", "add", "swap", "number", "none"]))
def test_a_multilabel_runs_labels_are_its_targets_each_once(tmp_path_factory, multilabel_run, change):
    """B14, M12: ["l1", "l1", "l3"] gave wrong columns; renamed or empty labels were taken."""
    run_dir = copied(tmp_path_factory, multilabel_run)
    changed = {
        "twice": ["y", "y"],
        "rename": ["y", "w"],
        "empty": ["y", ""],
        "blank": [" ", "z"],
        "drop": ["y"],
        "add": ["y", "z", "w"],
        "swap": ["z", "y"],
        "number": ["y", 1],
        "none": None,
    }[change]
    edit_json(run_dir / "run.json", lambda info: info["data"].update(labels=changed))
    message = refused(run_dir, "run.json")
    assert "'data.labels'" in message or "'thresholds." in message, message


def test_a_multilabel_run_scores_one_column_per_target(multilabel_run):
    scored = load_run(multilabel_run).score(ROWS)
    assert list(scored.columns) == ["score_y", "label_y", "score_z", "label_z"]


# ------------------------------------------------------------- model.pt of an older run (no sha256s): loaded or refused


def sparse(v):
    return v.to_sparse() if v.dim() else v


STATE_EDITS = {
    "sparse": sparse,
    "complex": lambda v: v.to(torch.complex128) if v.is_floating_point() else v,
    "x1e37": lambda v: v * 1e37 if v.is_floating_point() else v,
    "1e300": lambda v: torch.full_like(v, 1e300) if v.dtype == torch.float64 else v,
    "cut": lambda v: v.reshape(-1)[:1].clone(),
    "transposed": lambda v: v.T.contiguous() if v.dim() == 2 else v,
    "scalar": lambda v: v.reshape(-1)[0].clone(),
}


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(["mlp", "logistic", "gbdt"]), edit=st.sampled_from(sorted(STATE_EDITS)))
def test_any_failure_of_an_older_runs_model_pt_names_it(tmp_path_factory, trained, baseline_runs, data, kind, edit):
    """B15, M10: a sparse tensor, a cut coef, complex numbers, huge weights: one line naming model.pt, or scores."""
    run_dir = copied(tmp_path_factory, trained if kind == "mlp" else baseline_runs[kind], hashed=False)
    state = torch.load(run_dir / "model.pt", weights_only=True)
    name = data.draw(st.sampled_from(sorted(state)), label="tensor")
    state[name] = STATE_EDITS[edit](state[name])
    torch.save(state, run_dir / "model.pt")
    scored_or_refused(run_dir, ROWS, "model.pt")


def tree_edit(state, how: str) -> None:
    if how == "self-loop":  # the root of tree 0 points at itself
        state["left"][0, 0] = state["right"][0, 0] = 0
        state["is_leaf"][0, 0] = False
    elif how == "no-leaves":
        state["is_leaf"].fill_(False)
    elif how == "value":
        state["value"].fill_(1e300)
    elif how == "out-of-range":
        state["left"][0, 0] = state["left"].shape[1]


@pytest.mark.parametrize("how", ["self-loop", "no-leaves", "value", "out-of-range"])
def test_a_gbdt_whose_trees_are_broken_is_refused_naming_model_pt(tmp_path_factory, baseline_runs, how):
    run_dir = copied(tmp_path_factory, baseline_runs["gbdt"], hashed=False)
    edit_state_dict(run_dir / "model.pt", lambda state: tree_edit(state, how))
    code, stderr = predict_exit(run_dir)
    assert code == 2 and one_line(stderr) and "model.pt" in stderr, stderr


@SETTINGS
@given(tree=st.integers(0, 10**6), node=st.integers(0, 10**6), to=st.integers(0, 10**6), side=st.booleans())
def test_a_rewired_tree_is_scored_only_when_every_walk_ends_at_a_leaf(
    tmp_path_factory, baseline_runs, tree, node, to, side
):
    """Any child index anywhere: a loop is refused naming model.pt; a tree that still ends at leaves is scored."""
    run_dir = copied(tmp_path_factory, baseline_runs["gbdt"], hashed=False)

    def rewire(state):
        trees, width = state["left"].shape
        state["left" if side else "right"][tree % trees, node % width] = to % width

    edit_state_dict(run_dir / "model.pt", rewire)
    scored_or_refused(run_dir, ROWS, "model.pt")


def edit_state_dict(path: Path, change) -> None:
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


def test_the_testers_older_run_tamperings_are_one_line(tmp_path_factory, trained, baseline_runs):
    run_dir = copied(tmp_path_factory, trained, hashed=False)
    edit_state(run_dir / "model.pt", sparse)
    assert predict_exit(run_dir)[0] == 2 and "is a torch.sparse_coo tensor" in predict_exit(run_dir)[1]
    run_dir = copied(tmp_path_factory, baseline_runs["logistic"], hashed=False)
    edit_state_dict(run_dir / "model.pt", lambda state: state.update(coef=state["coef"][:1].clone()))
    code, stderr = predict_exit(run_dir)
    assert code == 2 and one_line(stderr) and "model.pt" in stderr and "size mismatch" in stderr, stderr
    run_dir = copied(tmp_path_factory, trained, hashed=False)
    edit_state(run_dir / "model.pt", lambda v: v * 1e37)
    code, stderr = predict_exit(run_dir)
    assert code == 2 and one_line(stderr) and "model.pt gives row 1" in stderr, stderr


# ------------------------------------------------------------- the rows to score: as training checks its table


@SETTINGS
@given(column=st.sampled_from(["a", "b", "c"]), row=st.integers(0, 49), kind=st.sampled_from([list, tuple, dict]))
def test_a_cell_holding_a_list_is_refused_as_training_refuses_it(trained, column, row, kind):
    """B16: a Parquet column of one-element lists was scored (as text); training refuses it."""
    rows = ROWS.copy()
    rows[column] = rows[column].astype(object)
    rows.at[row, column] = kind([rows.at[row, column]]) if kind is not dict else {"v": 1}
    with pytest.raises(HfaError, match=f"column '{column}' of the input holds {kind.__name__} values") as no:
        load_run(trained).score(rows)
    assert one_line(str(no.value))


def test_a_parquet_column_of_lists_exits_2(tmp_path, trained):
    rows = ROWS.assign(c=[[value] for value in ROWS["c"]])
    path = tmp_path / "rows.parquet"
    rows.to_parquet(path)
    result = runner.invoke(app, ["predict", str(trained), str(path)])
    assert result.exit_code == 2 and one_line(result.stderr) and "holds ndarray values" in result.stderr


@SETTINGS
@given(columns=st.lists(st.sampled_from(["a", "b", "c", "extra"]), min_size=1, max_size=3))
def test_a_column_given_twice_is_named(trained, columns):
    """B21: pd.concat([d, d[['a']]], axis=1) was an AttributeError."""
    rows = pd.concat([ROWS.assign(extra=1), *(ROWS.assign(extra=1)[[c]] for c in columns)], axis=1)
    first = next(c for c in rows.columns if c in columns)  # the first name, in the table's order, seen twice
    for call in (lambda p: p.score(rows), lambda p: p.predict_proba(rows), lambda p: p.predict(rows)):
        with pytest.raises(HfaError, match=f"hold the column '{first}' [0-9] times") as no:
            call(load_run(trained))
        assert one_line(str(no.value))
