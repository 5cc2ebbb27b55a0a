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
    "scale": (lambda d: edit_json(d / "preprocessing.json", lambda p: p["numeric"][0].update(scale=1e-300)), None),
    "mean": (lambda d: edit_json(d / "preprocessing.json", lambda p: p["numeric"][0].update(mean=1e300)), None),
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
