"""hfa reads and writes only what it made, and says so in one line (issue 22, third pass).

- The files hfa reads back (run.json, metrics.csv, config.yaml, the locks, results.csv) are read only as the regular
  files it writes: a FIFO, a device or a folder in their place is one line, never a command that blocks for ever or
  fills the memory (``hfa.io.read_regular``), and a run that cannot be read never silently leaves the counts.
- ``--out`` never lies inside a run folder, a locks folder or another experiment folder (``rundir.check_output``).
- A name the file system refuses (too long, a link loop) is bad input: exit 2, wherever it is met.
- Every grid point's column selection is checked before the first run trains (``preflight.check_runs``).
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hfa.runs
from helpers_properties import SETTINGS
from helpers_runs import make_sweep
from hfa import rundir
from hfa.cli import app

runner = CliRunner()
TINY = {
    "name": "tiny",
    "data": {"name": "synthetic", "n_samples": 600, "imbalance_ratio": 5},
    "model": {"hidden": [4]},
    "train": {"epochs": 2, "batch_size": 64, "device": "cpu"},
    "sweep": {"seed": [0, 1]},
}

STUDY = {
    "name": "tt",
    "data": {"name": "synthetic", "n_samples": 400, "imbalance_ratio": 4},
    "model": {"hidden": [4]},
    "train": {"epochs": 2, "batch_size": 64, "device": "cpu"},
    "methods": {"bce": {"loss.name": "bce"}, "f1": {"loss.name": "f1"}},
    "tune": {"budget": 1, "batch": 1, "seeds": [0], "final_seeds": [100]},
}


def one_line(result, status: int = 2) -> str:
    assert result.exit_code == status, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@contextlib.contextmanager
def deadline(seconds: int = 20):
    """A command that blocks (a FIFO opened for reading) fails the test instead of hanging it."""

    def expire(signum, frame):
        raise TimeoutError(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(hfa.runs, "train", refuse)


@pytest.fixture(scope="module")
def sweep_root(tmp_path_factory) -> Path:
    """A fake experiment folder of finished runs (hfa.results reads them as a sweep's)."""
    root = tmp_path_factory.mktemp("own")
    make_sweep(root, with_failed=False)
    return root


def replace_with(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)  # a link to itself


# ---------------------------------------------------------------------------------------------- reading back


@settings(SETTINGS, max_examples=24)
@given(
    file=st.sampled_from(["run.json", "metrics.csv", "config.yaml"]),
    kind=st.sampled_from(["fifo", "zero", "folder", "loop"]),
    which=st.integers(0, 100),
)
def test_a_run_file_that_is_not_a_regular_file_is_one_line_not_a_hang(tmp_path_factory, sweep_root, file, kind, which):
    root = tmp_path_factory.mktemp("report") / "copy"
    shutil.copytree(sweep_root, root)
    runs = sorted(p.parent for p in root.rglob("run.json"))
    replace_with(runs[which % len(runs)] / file, kind)
    with deadline():
        result = runner.invoke(app, ["report", str(root)])
    line = one_line(result)
    assert file in line, line


def damaged(lines: list[str], edit: str, at: int) -> list[str]:
    header, rows = lines[0], lines[1:]
    row = at % len(rows)
    if edit in ("no-test", "no-val"):
        split = edit[3:]
        return [header, *(r for r in rows if not r.startswith(f"{split},"))]
    if edit == "quote":  # an opening quote: the csv reader swallows the rows after it into one cell
        rows[row] = '"' + rows[row]
    elif edit == "short":
        rows[row] = ",".join(rows[row].split(",")[:-2])
    elif edit == "split":
        rows[row] = "train" + rows[row][rows[row].index(",") :]
    elif edit == "rule":
        cells = rows[row].split(",")
        cells[1] = "best"
        rows[row] = ",".join(cells)
    elif edit == "twice":
        rows.insert(row, rows[row])
    return [header, *rows]


@settings(SETTINGS, max_examples=30)
@given(
    edit=st.sampled_from(["no-test", "no-val", "quote", "short", "split", "rule", "twice"]),
    at=st.integers(0, 50),
    which=st.integers(0, 100),
)
def test_a_damaged_metrics_file_is_one_line_never_a_run_left_out(tmp_path_factory, sweep_root, edit, at, which):
    """A run whose rows were lost (a split, a rule, a row swallowed by a stray quote) would leave a report's counts
    and its bottom line changed without a word; every such file is refused naming it."""
    root = tmp_path_factory.mktemp("damaged") / "copy"
    shutil.copytree(sweep_root, root)
    path = sorted(root.rglob("metrics.csv"))[which % 12]
    path.write_text("\n".join(damaged(path.read_text().splitlines(), edit, at)) + "\n")
    result = runner.invoke(app, ["report", str(root)])
    line = one_line(result)
    assert "metrics.csv" in line, line


def test_a_report_with_stdout_closed_still_does_its_work(sweep_root, tmp_path):
    """``hfa report >&-``: Python starts with sys.stdout None; the command runs and exits 0, the file written."""
    out = tmp_path / "r.md"
    code = "from hfa.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "report", str(sweep_root), "--out", str(out)],
        preexec_fn=lambda: os.close(1),  # noqa: PLW1509  the point: a child started without a stdout
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert out.stat().st_size > 0


# ---------------------------------------------------------------------------------------------- names and places


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--config", "{long}.yaml"],
        ["sweep", "--config", "{long}.yaml"],
        ["tune", "--config", "{long}.yaml"],
        ["config", "--config", "{long}.yaml"],
        ["report", "{tmp}/{long}"],
        ["predict", "{tmp}/{long}", "rows.csv"],
    ],
)
def test_a_name_too_long_is_bad_input_wherever_it_is_met(tmp_path, args, no_training):
    long = "a" * 300
    result = runner.invoke(app, [a.format(long=long, tmp=tmp_path) for a in args])
    line = one_line(result)
    assert "too long" in line.lower() or "exceeds" in line, line


@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("inside", ["run", "run/deeper", "locks", "experiment"])
def test_out_inside_a_folder_of_hfas_is_refused_before_any_work(tmp_path, command, inside, no_training):
    root = tmp_path / "runs"
    make_sweep(root, with_failed=False)
    experiment = next(root.iterdir())
    rundir.claim(experiment)  # marked as hfa's, as a sweep leaves it
    run = sorted(p.parent for p in experiment.rglob("run.json"))[0]
    out = {
        "run": run,
        "run/deeper": run / "deeper",
        "locks": experiment / rundir.LOCK_DIR,
        "experiment": experiment,
    }[inside]
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    line = one_line(runner.invoke(app, [command, "--config", str(config), "--out", str(out)]))
    assert "lies inside" in line, line
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before


@settings(SETTINGS, max_examples=12)
@given(
    entry=st.sampled_from(["results.csv", ".locks/owner.json", ".locks/tiny.lock"]),
    kind=st.sampled_from(["fifo", "folder", "link"]),
)
def test_an_experiment_folders_own_files_are_checked_before_any_work(tmp_path_factory, entry, kind, monkeypatch):
    monkeypatch.setattr(hfa.runs, "train", lambda *a, **k: pytest.fail("training started before the check"))
    base = tmp_path_factory.mktemp("place")
    experiment = base / "runs" / "tiny"
    rundir.claim(experiment)
    (experiment / "results.csv").write_text("loss\nbce\n")
    precious = base / "precious.txt"
    precious.write_text("mine")
    path = experiment / entry
    path.unlink(missing_ok=True)
    if kind == "link":
        if entry == "results.csv":  # a link there is replaced, not followed: hfa's own table may be one
            return
        path.symlink_to(precious)
    else:
        replace_with(path, kind)
    config = base / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    with deadline():
        result = runner.invoke(app, ["sweep", "--config", str(config), "--out", str(base / "runs")])
    line = one_line(result)
    assert Path(entry).name in line, line
    assert precious.read_text() == "mine"


# ---------------------------------------------------------------------------------------------- every grid point


@pytest.mark.parametrize(
    ("axis", "named"), [("data.features=[a],[zz]", "data.features"), ("data.drop=[a],[zz]", "data.drop")]
)
def test_a_grid_points_missing_column_is_refused_before_any_run_trains(tmp_path, axis, named, no_training):
    table = tmp_path / "t.csv"
    pd.DataFrame({"a": range(200), "b": range(200), "y": ["yes", "no"] * 100}).to_csv(table, index=False)
    overrides = ["name=cols", f"data.name={table}", "data.target=y", "data.positive=yes", "train.epochs=1"]
    result = runner.invoke(app, ["sweep", "--out", str(tmp_path / "runs"), "--grid", axis, *overrides])
    line = one_line(result)
    assert named in line and "'zz'" in line, line
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------- said once


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["seed=1", "seed=2"], "override 'seed' is given twice"),
        (["train.lr=0.1", "train.lr=0.1"], "override 'train.lr' is given twice"),
        (["--grid", "seed=0,1", "--grid", "seed=2"], "--grid seed is given twice"),
        (["seed=3", "--grid", "seed=0,1"], "seed is both an override"),
        # a section and a key inside it are one setting
        (["--grid", "train.epochs=2,3", "--grid", "train={epochs: 4}"], "sets what --grid train.epochs sets"),
        (["--grid", "train.epochs=2", "train={epochs: 4}"], "sets what the override train=... sets"),
        (["train={epochs: 5}", "train.epochs=2"], "set the same setting"),
    ],
)
def test_a_setting_given_twice_is_refused_not_guessed(tmp_path, args, says, no_training):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    line = one_line(runner.invoke(app, ["sweep", "--config", str(config), "--out", str(tmp_path / "runs"), *args]))
    assert says in line, line
    assert not (tmp_path / "runs").exists()


@given(digit=st.characters(categories=["Nd"]).filter(lambda c: not c.isascii()))
@settings(SETTINGS, max_examples=20)
def test_an_f_beta_name_takes_ascii_digits_only(digit):
    from hfa.metrics import fbeta_of, is_count_metric

    assert fbeta_of(f"f{digit}") is None and not is_count_metric(f"f{digit}")
    assert fbeta_of("f2") == 2.0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--out", "newdir/"], "names a folder (it ends in '/')"),
        (["--plot", "figures/"], "names a folder (it ends in '/')"),
        (["--out", "r.csv"], "would hold markdown, not csv"),
        (["--out", "r.tex", "--format", "csv"], "would hold csv, not latex"),
        (["--out", "r.png"], "figures go to --plot"),
        (["--metrics", ",".join(f"f{b}" for b in range(1, 60))], "at most 40"),
    ],
)
def test_a_report_destination_that_contradicts_itself_is_refused_before_any_work(
    tmp_path, monkeypatch, sweep_root, args, says
):
    monkeypatch.chdir(tmp_path)
    line = one_line(runner.invoke(app, ["report", str(sweep_root), *args]))
    assert says in line, line
    assert list(tmp_path.iterdir()) == []


def test_a_predict_out_ending_in_a_slash_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.csv").write_text("a\n1\n")
    line = one_line(runner.invoke(app, ["predict", str(tmp_path), "rows.csv", "--out", "scored/"]))
    assert "names a folder" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_a_ray_address_without_the_ray_executor_is_refused_not_ignored(tmp_path, no_training):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    args = ["sweep", "--config", str(config), "--out", str(tmp_path / "runs"), "--ray-address", "127.0.0.1:6379"]
    line = one_line(runner.invoke(app, args))
    assert "--ray-address applies to --executor ray" in line, line


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished")
    result = runner.invoke(app, ["train", "--quiet", "--out", str(out), "train.epochs=1", "model.hidden=[4]"])
    assert result.exit_code == 0, result.output
    return next(out.rglob("run.json")).parent


@pytest.mark.parametrize("kind", ["fifo", "folder", "loop", "zero"])
@pytest.mark.parametrize("role", ["config", "data", "rows"])
def test_an_input_that_is_not_a_file_says_what_it_is(tmp_path, kind, role, request):
    path = tmp_path / {"config": "c.yaml", "data": "d.csv", "rows": "r.csv"}[role]
    replace_with(path, kind)
    if role == "rows":
        args = ["predict", str(request.getfixturevalue("finished_run")), str(path)]
    else:
        request.getfixturevalue("no_training")
        given = ["--config", str(path)] if role == "config" else [f"data.name={path}", "data.target=y"]
        args = ["train", *given, "--out", str(tmp_path / "out")]
    with deadline():
        line = one_line(runner.invoke(app, args))
    said = {"fifo": "is a FIFO", "folder": "is a folder", "loop": "loop of symbolic links", "zero": "is a device"}
    assert said[kind] in line, line


# ---------------------------------------------------------------------------------------------- fourth pass


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory) -> Path:
    """Two finished runs written by hfa itself (run.json records every file's sha256)."""
    out = tmp_path_factory.mktemp("real")
    config = out / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "sweep": {"seed": [0, 1]}}))
    result = runner.invoke(app, ["sweep", "--config", str(config), "--out", str(out / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return out / "runs" / "tiny"


@pytest.mark.parametrize("file", ["metrics.csv", "config.yaml"])
def test_a_run_file_edited_after_the_run_is_refused_by_the_report(tmp_path, real_sweep, file):
    """run.json holds each file's sha256: an edited metrics.csv would be reported as the run's numbers."""
    root = tmp_path / "tiny"
    shutil.copytree(real_sweep, root)
    path = sorted(root.rglob(file))[0]
    path.write_text(path.read_text().replace("0.", "0.9", 1))
    line = one_line(runner.invoke(app, ["report", str(root)]))
    assert file in line and "changed after the run was written" in line, line


@pytest.mark.parametrize("command", ["sweep", "report"])
@pytest.mark.parametrize(
    "text", ["[" * 100_000 + "]" * 100_000, '{"status": "ok", "data": "x"}', '{"status": "ok", "data": {"source": 1}}']
)
def test_a_run_json_edited_into_another_shape_is_one_line_or_trained_again(tmp_path, real_sweep, command, text):
    root = tmp_path / "runs" / "tiny"
    shutil.copytree(real_sweep, root)
    sorted(root.rglob("run.json"))[0].write_text(text)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "sweep": {"seed": [0, 1]}}))
    if command == "report":
        one_line(runner.invoke(app, ["report", str(root)]))
        return
    # A folder of hfa's files whose run.json is out of shape is not a finished run: the sweep trains it again.
    result = runner.invoke(app, ["sweep", "--config", str(config), "--out", str(root.parent), "--quiet"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert runner.invoke(app, ["report", str(root)]).exit_code == 0


def test_no_run_goes_into_a_tune_studys_folder_and_its_own_runs_still_do(tmp_path):
    study = copy.deepcopy(STUDY)
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(study))
    first = runner.invoke(app, ["tune", "--config", str(config), "--out", str(tmp_path / "o"), "-q"])
    assert first.exit_code == 0, first.output
    before = sorted(str(p) for p in (tmp_path / "o").rglob("*"))
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(yaml.safe_dump(TINY))
    for args in (
        ["tune", "--config", str(config), "--out", str(tmp_path / "o" / "tt" / "final")],
        ["sweep", "--config", str(tiny), "--out", str(tmp_path / "o" / "tt" / "trials")],
        ["train", "--config", str(tiny), "--out", str(tmp_path / "o" / "tt")],
    ):
        line = one_line(runner.invoke(app, args))
        assert "lies inside a tune study's folder" in line, line
    assert sorted(str(p) for p in (tmp_path / "o").rglob("*")) == before
    # The study's own resume (one more final seed) trains into its folders, and reports only the current finals.
    study["tune"]["final_seeds"] = [101]
    config.write_text(yaml.safe_dump(study))
    again = runner.invoke(app, ["tune", "--config", str(config), "--out", str(tmp_path / "o"), "-q"])
    assert again.exit_code == 0, again.output
    rows = [r for r in (tmp_path / "o" / "tt" / "report.md").read_text().splitlines() if r.startswith("| bce ")]
    assert rows and all(r.rstrip(" |").endswith("| 1") or "| 1 |" in r for r in rows), rows
    # A journal that is a link is never appended to.
    journal = tmp_path / "o" / "tt" / "tune.journal"
    mine = tmp_path / "mine.txt"
    mine.write_bytes(journal.read_bytes())
    journal.unlink()
    journal.symlink_to(mine)
    size = mine.stat().st_size
    line = one_line(runner.invoke(app, ["tune", "--config", str(config), "--out", str(tmp_path / "o"), "-q"]))
    assert "is a link" in line and mine.stat().st_size == size, line


def test_predict_refuses_an_id_named_like_an_output_and_an_out_in_a_copied_run(tmp_path, finished_run):
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"x0": [0.0, 1.0], "x1": [1.0, 0.0], "score": [7, 8]}).to_csv(rows, index=False)
    line = one_line(runner.invoke(app, ["predict", str(finished_run), str(rows), "--id", "score"]))
    assert "has the name of an output column" in line, line
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    line = one_line(runner.invoke(app, ["predict", str(copy), str(rows), "--out", str(copy / "metrics.csv")]))
    assert "inside the run folder" in line, line


# ---------------------------------------------------------------------------------------------- fifth pass


@pytest.fixture(scope="module")
def study_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("study")
    study = {**STUDY, "methods": {"bce": {"loss.name": "bce"}}}
    (base / "study.yaml").write_text(yaml.safe_dump(study))
    result = runner.invoke(app, ["tune", "--config", str(base / "study.yaml"), "--out", str(base / "o"), "-q"])
    assert result.exit_code == 0, result.output
    return base


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "csv", "--out", "tt/tune.journal"],
        ["--out", "tt/notes.md"],
        ["--format", "csv", "--out", "tt/choices.csv"],
        ["--plot", "tt/final/p.png"],
    ],
)
def test_a_report_never_writes_into_a_tune_studys_folder(study_root, args):
    root = study_root / "o"
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    out = [a if not a.startswith("tt/") else str(root / a) for a in args]
    line = one_line(runner.invoke(app, ["report", str(root / "tt" / "final"), *out]))
    assert "a tune study's folder" in line, line
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_journal_whose_last_line_lacks_its_newline_is_refused_before_optuna_appends(tmp_path, study_root):
    out = tmp_path / "o"
    shutil.copytree(study_root / "o", out)
    journal = out / "tt" / "tune.journal"
    journal.write_bytes(journal.read_bytes().rstrip(b"\n"))
    before = journal.read_bytes()
    result = runner.invoke(app, ["tune", "--config", str(study_root / "study.yaml"), "--out", str(out), "-q"])
    assert "lacks its newline" in one_line(result)
    assert journal.read_bytes() == before


def test_rows_to_score_naming_a_column_twice_are_refused_as_training_refuses_them(tmp_path, finished_run):
    rows = tmp_path / "rows.csv"
    rows.write_text("x0,x0,x1\n1.0,2.0,3.0\n")
    line = one_line(runner.invoke(app, ["predict", str(finished_run), str(rows)]))
    assert "has 2 columns named 'x0'" in line, line


# ---------------------------------------------------------------------------------------------- sixth pass


def test_a_tracking_uri_without_a_host_is_refused_at_once(tmp_path, no_training):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    for uri in ("http://", "https://"):
        line = one_line(runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path), "--mlflow", uri]))
        assert "names no host" in line, line


def test_a_tracking_server_that_accepts_and_never_answers_is_given_up_on(tmp_path, monkeypatch, no_training):
    """A port that takes the connection and says nothing (a proxy, a firewall) left MLflow retrying for minutes."""
    import socket
    import threading

    import hfa.preflight

    monkeypatch.setattr(hfa.preflight, "TRACKING_CONNECT_TIMEOUT_S", 0.5)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []
    stop = threading.Event()

    def accept_and_hold():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    try:
        config = tmp_path / "tiny.yaml"
        config.write_text(yaml.safe_dump(TINY))
        uri = f"http://127.0.0.1:{server.getsockname()[1]}"
        with deadline(30):
            line = one_line(
                runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "o"), "--mlflow", uri])
            )
        assert "nothing answers" in line and "no answer" in line, line
        assert not (tmp_path / "o").exists()
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()
