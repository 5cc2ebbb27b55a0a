"""Generated members of the classes "hfa predict never returns a number it cannot stand behind", "bounded
resources for any input size" and "reports and output never die half-way" (issue 22).

The promise for every generated case: an ``HfaError`` (exit 2) in one line naming the file or column, or a correct
result (finite probabilities, labels 0/1); no traceback; nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


@SETTINGS
@given(data=st.data(), file=st.sampled_from(["preprocessing.json", "run.json", "config.yaml"]), value=wrong)
def test_a_tampered_run_folder_is_refused_in_one_line_naming_the_file(tmp_path_factory, trained, data, file, value):
    run_dir = tmp_path_factory.mktemp("tampered") / trained.name
    shutil.copytree(trained, run_dir)
    path = run_dir / file
    original = yaml.safe_load(path.read_text()) if file.endswith(".yaml") else json.loads(path.read_text())
    where = data.draw(st.sampled_from(list(leaves(original))), label="where")
    tampered = replaced(original, where, value)
    if file.endswith(".yaml"):
        path.write_text(yaml.safe_dump(tampered) if tampered is not None else "")
    else:
        path.write_text(json.dumps(tampered))
    scored_or_refused(run_dir, ROWS, file)


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
