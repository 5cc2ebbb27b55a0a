"""Generated members of the classes "hfa writes and deletes only what it made", "a run's identity includes its
data", "every check before any work" and "the API validates as the CLI does" (issue 22).

Each property states the promise for every generated case: exit 2 (an ``HfaError``) with one line before any work,
or a correct result; nothing of the user's overwritten or deleted; nothing half-written.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import hfa
from helpers_properties import SETTINGS, one_line
from helpers_runs import config_dict, metrics_frame, write_run
from hfa import rundir
from hfa.cli import app
from hfa.config import Config, config_keys, load_config, read_yaml
from hfa.data.fingerprint import data_fingerprint
from hfa.errors import HfaError, clip
from hfa.estimator import HfaClassifier
from hfa.preflight import check_outputs
from hfa.report import build_report, load_runs
from hfa.sweep import expand

runner = CliRunner()


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry below ``root``: a file's bytes, a link's target, None for a folder."""
    seen: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            seen[key] = os.readlink(path).encode()
        elif path.is_file():
            seen[key] = path.read_bytes()
        else:
            seen[key] = None
    return seen


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12).filter(
    lambda n: n not in (".", "..")
)
user_entries = st.dictionaries(
    names,
    st.one_of(st.binary(max_size=20), st.just(None), st.sampled_from(["results.csv", "run.json", "model.pt"])),
    min_size=1,
    max_size=4,
)


def make_entries(folder: Path, entries: dict[str, bytes | str | None]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in entries.items():
        path = folder / name
        if content is None:
            path.mkdir(exist_ok=True)
        elif isinstance(content, str):  # a folder holding a file with an hfa-like name
            path.mkdir(exist_ok=True)
            (path / content).write_bytes(b"the user's")
        else:
            path.write_bytes(content)


# ------------------------------------------------------------------------------------------ 1. ownership


@SETTINGS
@given(entries=user_entries, with_results=st.booleans())
def test_a_folder_holding_what_hfa_did_not_write_is_refused_untouched(tmp_path_factory, entries, with_results):
    out = tmp_path_factory.mktemp("out")
    folder = out / "exp"
    make_entries(folder, entries)
    if with_results:
        (folder / "results.csv").write_text("the user's own table\n")
    before = snapshot(folder)
    ids = [rundir.run_dir_for(Config(name="exp", seed=s), "").name for s in range(2)]
    with pytest.raises(HfaError) as refused:
        rundir.check_output(folder, ids)
    assert one_line(str(refused.value))
    assert snapshot(folder) == before
    with pytest.raises(HfaError):
        hfa.results.write_results(folder)
    assert snapshot(folder) == before


def test_sweep_into_a_users_folder_with_results_csv_is_refused(tmp_path, tiny_config):
    """Issue 22's reproduction: `hfa sweep --out home name=thesis` over home/thesis/results.csv."""
    home = tmp_path / "home"
    (home / "thesis").mkdir(parents=True)
    (home / "thesis" / "results.csv").write_text("my,own\n")
    result = runner.invoke(app, ["sweep", "-c", str(tiny_config), "--out", str(home), "name=thesis", "-g", "seed=0,1"])
    assert result.exit_code == 2, result.output
    assert (home / "thesis" / "results.csv").read_text() == "my,own\n"
    assert sorted(p.name for p in (home / "thesis").iterdir()) == ["results.csv"]


patterned = st.builds(
    lambda run, kind, suffix: f".{run}.{kind}.{rundir._HOST}.{{pid}}.{suffix}",
    names,
    st.sampled_from(["staging", "old"]),
    st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
)
contents = st.dictionaries(
    st.one_of(st.sampled_from([*rundir.RUN_FILES, rundir.STAGING_MARK]), names),
    st.one_of(st.binary(max_size=10), st.just(rundir._MARK_TEXT.encode())),
    max_size=4,
)


@SETTINGS
@given(name=patterned, files=contents, subfolder=st.booleans())
def test_the_clean_up_deletes_only_what_it_can_prove_it_made(tmp_path_factory, name, files, subfolder):
    root = tmp_path_factory.mktemp("exp")
    rundir.claim(root)
    process = subprocess.Popen(["true"])
    process.wait()  # a process id that is no longer alive
    entry = root / name.format(pid=process.pid)
    entry.mkdir()
    for file, data in files.items():
        (entry / file).write_bytes(data)
    if subfolder:
        (entry / "photos").mkdir()
    run_files_only = not subfolder and set(files) <= {*rundir.RUN_FILES, rundir.STAGING_MARK}
    marked = files.get(rundir.STAGING_MARK) == rundir._MARK_TEXT.encode()
    before = snapshot(root)
    removed = rundir.clean_staging(root)
    if removed:
        assert removed == [entry] and run_files_only and (not files or marked)
    else:
        assert snapshot(root) == before
        assert not (run_files_only and (not files or marked))


@SETTINGS
@given(entries=user_entries)
def test_a_run_folder_is_replaced_only_when_it_is_hfas(tmp_path_factory, entries):
    root = tmp_path_factory.mktemp("exp")
    cfg = Config(name="exp")
    run_dir = rundir.run_dir_for(cfg, root)
    make_entries(run_dir, entries)
    before = snapshot(run_dir)
    try:
        rundir.write_run(run_dir, cfg, {"status": "ok", "run_id": run_dir.name})
    except HfaError as refused:
        assert one_line(str(refused)) and snapshot(run_dir) == before
    else:  # it was a run folder hfa could have written: only run files' names, no subfolders
        assert all(Path(k).parts[0] in rundir.RUN_FILES for k in before if before[k] is not None)


@SETTINGS
@given(entries=user_entries.filter(lambda e: not set(e) <= set(rundir.RUN_FILES)))
def test_a_run_folder_holding_a_users_entry_is_never_replaced(tmp_path_factory, entries):
    """A finished run hfa wrote, then a user's file, folder or hfa-like name put into it: every command that could
    retrain it refuses in one line before any work, and the folder stays as it is."""
    root = tmp_path_factory.mktemp("out")
    cfg = Config(name="exp")
    run_dir = rundir.run_dir_for(cfg, root)
    rundir.write_run(run_dir, cfg, {"status": "ok", "run_id": run_dir.name})
    make_entries(run_dir, {k: v for k, v in entries.items() if k not in rundir.RUN_FILES})
    before = snapshot(root)
    with pytest.raises(HfaError) as refused:
        check_outputs([cfg], root)
    assert one_line(str(refused.value)) and "which hfa did not write" in str(refused.value)
    assert snapshot(root) == before


def test_a_finished_run_is_replaced_only_by_a_finished_one(tmp_path):
    cfg = Config(name="exp")
    run_dir = rundir.run_dir_for(cfg, tmp_path)
    info = {"status": "ok", "run_id": run_dir.name}
    files = {name: b"x" for name in rundir.RUN_FILES if name != rundir.RUN_FILE}
    run_dir.mkdir(parents=True)
    for name, data in files.items():
        (run_dir / name).write_bytes(data)
    (run_dir / rundir.RUN_FILE).write_text(json.dumps(info))
    before = snapshot(run_dir)
    assert rundir.write_run(run_dir, cfg, {"status": "failed", "run_id": run_dir.name, "error": "moved"}) is False
    assert snapshot(run_dir) == before


# ------------------------------------------------------------------------------------------ 2. data identity

cells = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False), st.text("abc", max_size=3))


@SETTINGS
@given(
    rows=st.lists(st.tuples(cells, cells), min_size=2, max_size=20),
    at=st.integers(0, 19),
    value=cells,
)
def test_a_tables_fingerprint_changes_with_its_content_and_only_with_it(tmp_path_factory, rows, at, value):
    folder = tmp_path_factory.mktemp("data")
    table = pd.DataFrame(rows, columns=["a", "b"]).assign(y=[0, 1] * (len(rows) // 2) + [0] * (len(rows) % 2))
    path = folder / "t.csv"
    table.to_csv(path, index=False)
    cfg = load_config(overrides=[f"data.name={path}", "data.target=y"]).data
    first = data_fingerprint(cfg)
    copy = folder / "copy.csv"
    shutil.copy(path, copy)
    assert data_fingerprint(cfg.model_copy(update={"name": str(copy)})) == first
    edited = table.astype(object)  # a cell of any type may replace any other
    edited.iloc[at % len(rows), 0] = value
    edited.to_csv(path, index=False)
    same = path.read_bytes() == copy.read_bytes()
    assert (data_fingerprint(cfg) == first) == same


def fake_run(root: Path, run_id: str, seed: int, fingerprint: str | None, metric: float) -> Path:
    metrics = metrics_frame(__import__("numpy").random.default_rng(seed))
    metrics["f1"] = metric
    folder = write_run(root, run_id, "bce", config_dict("bce", 5.0, seed), metrics)
    info = json.loads((folder / "run.json").read_text())
    info["data"] = {"fingerprint": fingerprint}
    (folder / "run.json").write_text(json.dumps(info))
    return folder


@settings(SETTINGS, max_examples=20)
@given(
    fingerprints=st.lists(st.sampled_from(["sha256:aaaa", "sha256:bbbb", None]), min_size=2, max_size=6),
    copies=st.integers(0, 2),
    shared_ids=st.booleans(),
)
def test_a_report_never_pools_runs_of_different_data_nor_counts_a_copy_twice(
    tmp_path_factory, fingerprints, copies, shared_ids
):
    """``shared_ids``: the runs of each data version live in their own experiment folders (A/fake, B/fake...) and
    reuse the same run ids and seeds, as two sweeps of one config before and after an edit of the table do."""
    root = tmp_path_factory.mktemp("runs")
    versions = sorted({str(f) for f in fingerprints})
    for seed, fingerprint in enumerate(fingerprints):
        if shared_ids:  # the k-th run of each data version is run id bce-s<k>, seed k, in that version's folder
            k = [str(f) for f in fingerprints[:seed]].count(str(fingerprint))
            fake_run(root / f"v{versions.index(str(fingerprint))}", f"bce-s{k}", k, fingerprint, 0.1 * (seed + 1))
        else:
            fake_run(root, f"bce-s{seed}", seed, fingerprint, 0.1 * (seed + 1))
    for n in range(copies if not shared_ids else 0):  # a copy of the sweep folder inside the runs folder
        shutil.copytree(root / "fake", root / f"copy{n}" / "fake")
    report = build_report(load_runs(root), rules=["fixed"], baseline=None)
    summary = report.summaries["fixed"]
    assert int(summary["n"].sum()) == len(fingerprints)  # each run once, copies or not
    groups = {str(f) for f in fingerprints}
    assert len(summary) == len(groups)
    for fingerprint in groups:
        seeds = [s for s, f in enumerate(fingerprints) if str(f) == fingerprint]
        expected = sum(0.1 * (s + 1) for s in seeds) / len(seeds)
        assert any(math.isclose(m, expected) for m in summary["f1_mean"])


# ------------------------------------------------------------------------------------------ 3. preflight

LEAVES = [k for k in config_keys() if k not in ("data", "model", "loss", "train", "eval", "tracking", "sweep")]
odd_values = st.one_of(
    st.booleans(),
    st.none(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.one_of(st.booleans(), st.integers(-3, 3), st.floats(-2, 2), st.text(max_size=2)), max_size=3),
    st.dictionaries(st.text("ab", min_size=1, max_size=2), st.integers(0, 3), max_size=2),
)


def same_value(given_value, kept) -> bool:
    if isinstance(given_value, bool) or isinstance(kept, bool):
        return type(given_value) is type(kept) and given_value == kept
    if isinstance(given_value, list):
        return isinstance(kept, list) and len(kept) == len(given_value) and all(map(same_value, given_value, kept))
    if isinstance(given_value, dict) or kept is None or given_value is None:
        return True  # a mapping merges into a section; null keeps a default where null means "unset"
    if isinstance(given_value, int | float) and isinstance(kept, int | float):
        return given_value == kept and not (isinstance(kept, int) and isinstance(given_value, float))
    return given_value == kept


@SETTINGS
@given(key=st.sampled_from(LEAVES), value=odd_values)
def test_every_key_takes_a_value_as_written_or_refuses_it_in_one_line(key, value):
    try:
        cfg = load_config(overrides=[f"{key}={json.dumps(value)}"])
    except HfaError as refused:
        assert one_line(str(refused))
        return
    kept = cfg.model_dump()
    for part in key.split("."):
        kept = kept[part]
    assert same_value(value, kept), (key, value, kept)


@SETTINGS
@given(
    key=st.sampled_from(LEAVES),
    value=odd_values,
    entry=st.sampled_from(["train", "sweep"]),
)
def test_a_refused_value_exits_2_in_one_line_before_any_work(tmp_path_factory, key, value, entry):
    out = tmp_path_factory.mktemp("cli") / "out"
    item = f"{key}={json.dumps(value)}"
    try:
        load_config(overrides=[item])
    except HfaError:
        args = [entry, item, "--out", str(out)] + (["-g", "seed=0,1"] if entry == "sweep" else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert one_line(result.stderr) and not out.exists()


mapping_keys = st.sampled_from(["name", "seed", "loss", "train", "data", "model"])


@SETTINGS
@given(keys=st.lists(mapping_keys, min_size=2, max_size=5), nested=st.booleans())
def test_a_yaml_key_written_twice_is_refused(tmp_path_factory, keys, nested):
    path = tmp_path_factory.mktemp("yaml") / "c.yaml"
    lines = [f"  {k}: 1" if nested else f"{k}: 1" for k in keys]
    text = ("train:\n" if nested else "") + "\n".join(lines) + "\n"
    path.write_text(text)
    if len(set(keys)) < len(keys):
        with pytest.raises(HfaError, match="appears twice"):
            read_yaml(path)
    else:
        read_yaml(path)


@SETTINGS
@given(key=st.sampled_from([*LEAVES, "name"]), values=st.lists(st.text("ab", min_size=1, max_size=2), min_size=2))
def test_grid_keys_are_checked_before_any_run_exists(key, values):
    try:
        plan = expand(None, [], [f"{key}={','.join(values)}"])
    except HfaError as refused:
        assert one_line(str(refused))
        return
    assert key != "name" and len({cfg.name for cfg in plan.configs}) == 1


place_kinds = st.sampled_from(["file", "locks-file", "run-file", "link-loop", "long", "fine"])


@SETTINGS
@given(kind=place_kinds, depth=st.integers(1, 3))
def test_output_places_are_checked_before_training(tmp_path_factory, kind, depth):
    base = tmp_path_factory.mktemp("places")
    out = base.joinpath(*[f"d{i}" for i in range(depth)])
    cfg = Config(name="exp")
    run_id = rundir.run_dir_for(cfg, "").name
    if kind == "file":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("the user's")
    elif kind == "locks-file":
        (out / "exp").mkdir(parents=True)
        (out / "exp" / rundir.LOCK_DIR).write_text("the user's")
    elif kind == "run-file":
        (out / "exp").mkdir(parents=True)
        (out / "exp" / run_id).write_text("the user's")
    elif kind == "link-loop":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.symlink_to(out)
    elif kind == "long":
        out = base / "/".join(["d" * 250] * 17)
    before = snapshot(base)
    if kind == "fine":
        check_outputs([cfg], out)
        assert snapshot(base) == before  # checking creates nothing: the folder is made and marked when training starts
        return
    with pytest.raises(HfaError) as refused:
        check_outputs([cfg], out)
    assert one_line(str(refused.value))
    assert snapshot(base) == before


# ------------------------------------------------------------------------------------------ 5. the API

PARAMETERS = {
    "hidden": "model.hidden",
    "lr": "train.lr",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "dropout": "model.dropout",
    "beta": "loss.beta",
    "gamma": "loss.gamma",
    "threshold": "eval.threshold",
    "thresholds": "loss.thresholds",
    "loss": "loss.name",
    "patience": "train.patience",
}
api_values = st.one_of(
    odd_values,
    st.tuples(st.one_of(st.booleans(), st.floats(0, 64), st.integers(1, 64))),
    st.just("32"),
)


@SETTINGS
@given(parameter=st.sampled_from(sorted(PARAMETERS)), value=api_values)
def test_classifier_parameters_are_validated_as_the_config_is(parameter, value):
    """HfaClassifier(p=v) is accepted exactly when the config accepts v at its key (a tuple standing for a list)."""
    as_config = list(value) if isinstance(value, tuple) else value
    try:
        expected = load_config(overrides=[f"{PARAMETERS[parameter]}={json.dumps(as_config)}"])
    except HfaError:
        expected = None
    try:
        cfg = HfaClassifier(**{parameter: value})._config(0)
    except HfaError as refused:
        assert one_line(str(refused))
        assert expected is None or parameter == "thresholds" and value is None
        return
    assert expected is not None or (parameter == "thresholds" and value is None)
    kept = cfg.model_dump()
    for part in PARAMETERS[parameter].split("."):
        kept = kept[part]
    if value is not None:
        assert same_value(as_config, kept)


junk = st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2), st.just(object()))


@SETTINGS
@given(argument=st.sampled_from(["config", "overrides", "out", "mlflow"]), value=junk)
def test_api_functions_answer_wrong_types_with_hfa_error(tmp_path_factory, argument, value):
    kwargs = {"out": tmp_path_factory.mktemp("api") / "out", "overrides": ["train.epochs=1"]}
    kwargs[argument] = value
    if argument == "overrides" and isinstance(value, list) and not value:
        return  # an empty list of overrides is fine (and would train)
    for function in (hfa.train, hfa.sweep):
        with pytest.raises(HfaError) as refused:
            function(**kwargs)
        assert one_line(str(refused.value))


def test_yaml_dump_of_a_config_reads_back(tmp_path):
    """The duplicate-key check leaves ordinary documents alone (a generated config round-trips)."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(Config().to_dict()))
    assert load_config(path) == Config()


# ------------------------------------------------------------------------------------------ 6. user-named files

# (command, option, suffix) x the kinds of place each can be given. Every one is refused before any work (the run
# folder predict is given is fake: scoring never starts), with one line naming the path, and nothing changes.
OUT_OPTIONS = {"report --out": ".md", "report --plot": ".png", "predict --out": ".csv"}
EVERY_COMMAND = ["fifo", "folder", "symlink", "run-file", "run-deeper", "locks", "long-name", "long-folder"]
EVERY_COMMAND += ["long-path"]
OUT_PLACES = [
    *((command, kind) for command in OUT_OPTIONS for kind in EVERY_COMMAND),
    ("report --out", "results"),
    ("predict --out", "results"),
    ("predict --out", "input"),
    ("predict --out", "input-hardlink"),
    ("predict --out", "input-symlink"),
    ("report --plot", "sibling"),
]


def entries_of(root: Path) -> dict[str, object]:
    """Every entry below ``root``: a file's bytes, a link's target, 'fifo', or None for a folder."""
    seen: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            seen[key] = os.readlink(path)
        elif path.is_fifo():
            seen[key] = "fifo"
        elif path.is_file():
            seen[key] = path.read_bytes()
        else:
            seen[key] = None
    return seen


def out_place(base: Path, kind: str, suffix: str, length: int, rows: Path) -> tuple[Path, Path, str]:
    """Make the place of ``kind`` under ``base``; returns (the option's value, the input FILE, what the line names)."""
    from helpers_runs import make_sweep

    sweep = make_sweep(base / "runs", seeds=(0,), with_failed=False)
    run = next(p for p in sorted(sweep.root.iterdir()) if p.is_dir())
    target = base / f"out{suffix}"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    elif kind == "symlink":
        (base / f"real{suffix}").write_text("the user's")
        target.symlink_to(f"real{suffix}")
    elif kind == "run-file":
        target = run / f"metrics{suffix}"
    elif kind == "run-deeper":
        target = run / "sub" / f"x{suffix}"
    elif kind in ("results", "locks"):
        rundir.claim(sweep.root)
        target = sweep.root / ("results.csv" if kind == "results" else f"{rundir.LOCK_DIR}/x{suffix}")
        if kind == "results":
            (sweep.root / "results.csv").write_text("hfa's table\n")
    elif kind == "input":
        target = rows
    elif kind == "input-hardlink":
        os.link(rows, target)
    elif kind == "input-symlink":
        link = base / "link.csv"
        link.symlink_to(rows.name)
        return rows, link, str(rows)
    elif kind == "sibling":
        (base / f"out-pr{suffix}").write_bytes(b"the user's own figure")
        return target, rows, f"out-pr{suffix}"
    elif kind == "long-name":
        target = base / ("a" * length + suffix)
    elif kind == "long-folder":
        target = base / ("d" * (length + 14)) / f"x{suffix}"
    elif kind == "long-path":
        target = base / "/".join(["d" * 200] * 21) / f"x{suffix}"
    return target, rows, clip(str(target))


@pytest.mark.parametrize("place", OUT_PLACES, ids="/".join)
@settings(SETTINGS, max_examples=3)
@given(length=st.integers(242, 300))
def test_a_user_named_output_replaces_nothing_hfa_did_not_make(tmp_path_factory, place, length):
    command, kind = place
    suffix = OUT_OPTIONS[command]
    base = tmp_path_factory.mktemp("outfile")
    rows = base / "rows.csv"
    rows.write_text("x0,x1\n0.5,1.5\n")
    target, source, named = out_place(base, kind, suffix, length, rows)
    run = next(p for p in sorted((base / "runs" / "fake").iterdir()) if p.is_dir())
    before = entries_of(base)
    verb, option = command.split()
    args = [verb, str(run.parent) if verb == "report" else str(run)]
    args += [str(source)] if verb == "predict" else []
    result = runner.invoke(app, [*args, option, str(target)])
    assert result.exit_code == 2, (kind, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.output, result.output
    assert named in lines[0] and option in lines[0], lines[0]
    assert entries_of(base) == before  # the FIFO still a FIFO, every file's bytes as they were, nothing new
