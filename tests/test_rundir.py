"""Run folders (issue 12): atomic replace, "finished", staging clean-up, the umask, a full disk, data_s."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import hfa.data.splits
from hfa import io, rundir
from hfa.cli import app
from hfa.config import Config, load_config
from hfa.rundir import RUN_FILES, clean_staging, completed, run_dir_for, write_run

runner = CliRunner()


@pytest.fixture
def config(tiny_config: Path) -> Path:
    return tiny_config


def write_whole(run_dir, cfg=None, marker=1):
    cfg = cfg or Config()
    frame = pd.DataFrame(
        {"split": ["val", "test"], "rule": ["fixed", "fixed"], "threshold": [0.5, 0.5], "marker": [marker, marker]}
    )
    model, fitted = torch.nn.Linear(2, 1), {"columns": ["a", "b"]}
    write_run(
        run_dir, cfg, {"status": "ok"}, metrics=frame, history=frame, model=model, preprocessing=fitted, curves=frame
    )


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != rundir.LOCK_DIR)


# ---------------------------------------------------------------------------------------------- replace


def test_a_folder_is_replaced_whole_and_nothing_is_left_beside_it(tmp_path):
    run_dir = tmp_path / "exp" / "r1"
    write_whole(run_dir, marker=1)
    write_whole(run_dir, marker=2)
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(RUN_FILES)
    assert pd.read_csv(run_dir / "metrics.csv")["marker"].tolist() == [2, 2]
    assert hidden(run_dir.parent) == []


def test_a_replace_that_fails_midway_keeps_the_old_folder(tmp_path, monkeypatch):
    run_dir = tmp_path / "exp" / "r1"
    write_whole(run_dir, marker=1)
    real_rename = os.rename

    def rename(source, target):
        if ".staging." in str(source):  # the new folder cannot be renamed in: the old one must come back
            raise OSError(errno.EIO, "I/O error", str(source))
        real_rename(source, target)

    monkeypatch.setattr(rundir.os, "rename", rename)
    with pytest.raises(OSError):
        write_whole(run_dir, marker=2)
    assert completed(run_dir)
    assert pd.read_csv(run_dir / "metrics.csv")["marker"].tolist() == [1, 1]
    assert hidden(run_dir.parent) == []


def test_finished_means_every_file_and_an_ok_run_json(tmp_path):
    run_dir = tmp_path / "exp" / "r1"
    write_whole(run_dir)
    assert completed(run_dir)
    (run_dir / "model.pt").unlink()  # what an interrupted delete of the old folder used to leave
    assert not completed(run_dir)
    write_whole(run_dir)
    (run_dir / "run.json").write_text('{"status": "failed"}')
    assert not completed(run_dir)
    (run_dir / "run.json").write_text("[1, 2]")
    assert not completed(run_dir)


# ---------------------------------------------------------------------------------------------- staging clean-up


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_clean_up_removes_only_what_dead_processes_of_this_host_left(tmp_path):
    host = rundir._HOST
    live_parent = os.getppid()
    entries = {
        f".r1.staging.{host}.{dead_pid()}.0a1b2c3d": False,  # dead: removed
        f".r2.old.{host}.{dead_pid()}.0a1b2c3d": False,
        f".r3.staging.{host}.{live_parent}.0a1b2c3d": True,  # another live process: kept
        f".r4.staging.{host}.{os.getpid()}.0a1b2c3d": True,  # this process: kept
        f".r5.staging.otherhost.{dead_pid()}.0a1b2c3d": True,  # another host's: cannot be asked, kept
        ".hidden-by-the-user": True,
        rundir.LOCK_DIR: True,
    }
    rundir.claim(tmp_path)
    for name in entries:
        (tmp_path / name).mkdir(exist_ok=True)
    clean_staging(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {name for name, kept in entries.items() if kept}


def test_clean_up_deletes_only_what_it_can_prove_it_made(tmp_path):
    """A folder whose name fits the pattern but holds the user's files (the issue's photos) is kept."""
    rundir.claim(tmp_path)
    dead = dead_pid()
    photos = tmp_path / f".photos.old.{rundir._HOST}.{dead}.ab"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"jpeg")
    forged = tmp_path / f".r1.staging.{rundir._HOST}.{dead}.0a1b2c3d"
    forged.mkdir()
    (forged / "run.json").write_text('{"run_id": "someone-else", "status": "ok"}')
    staged = tmp_path / f".r2.staging.{rundir._HOST}.{dead}.0a1b2c3d"
    staged.mkdir()
    (staged / rundir.STAGING_MARK).write_text(rundir._MARK_TEXT)
    (staged / "config.yaml").write_text("seed: 0\n")
    assert clean_staging(tmp_path) == [staged]
    assert (photos / "holiday.jpg").read_bytes() == b"jpeg" and forged.is_dir()


# ---------------------------------------------------------------------------------------------- the umask


@pytest.mark.slow
def test_folders_and_files_honour_the_umask(config, tmp_path):
    previous = os.umask(0o022)
    try:
        sweep = runner.invoke(app, ["sweep", "-c", str(config), "--out", str(tmp_path / "runs"), "--grid", "seed=0,1"])
        assert sweep.exit_code == 0, sweep.output
    finally:
        os.umask(previous)
    root = tmp_path / "runs" / "tiny"
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(folders) == 2
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
        for name in RUN_FILES:
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE((root / "results.csv").stat().st_mode) == 0o644


def test_atomic_writes_honour_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        path = io.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# ---------------------------------------------------------------------------------------------- a full disk


def disk_fills_on(monkeypatch, call: int):
    """From the ``call``-th model file on, writing it fails as a full disk does."""
    real = rundir.io.write_bytes
    count = {"n": 0}

    def write_bytes(path, data):
        if Path(path).name != rundir.MODEL_FILE:
            return real(path, data)
        count["n"] += 1
        if count["n"] >= call:
            Path(path).write_bytes(b"partial")  # a half-written file, to be sure it is not kept
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(rundir.io, "write_bytes", write_bytes)


@pytest.mark.slow
def test_train_on_a_full_disk_exits_1_in_one_line_and_writes_nothing(config, tmp_path, monkeypatch):
    disk_fills_on(monkeypatch, call=1)
    result = runner.invoke(app, ["train", "-c", str(config), "--out", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "run the same command again" in lines[0]
    root = tmp_path / "runs" / "tiny"
    assert [p.name for p in root.iterdir() if p.name != rundir.LOCK_DIR] == []


@pytest.mark.slow
def test_sweep_on_a_full_disk_exits_1_and_results_match_the_folders(config, tmp_path, monkeypatch):
    disk_fills_on(monkeypatch, call=3)
    out = tmp_path / "runs"
    args = ["sweep", "-c", str(config), "--out", str(out), "--grid", "seed=0,1,2,3", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "results:" in lines[0], result.output
    root = out / "tiny"
    finished = sorted(p.name for p in root.iterdir() if completed(p))
    assert len(finished) == 2
    assert [p.name for p in root.iterdir() if p.is_dir() and p.name not in finished] == [rundir.LOCK_DIR]
    assert sorted(set(pd.read_csv(root / "results.csv")["run_id"])) == finished

    # Space freed: the same command finishes the rest.
    monkeypatch.undo()
    again = runner.invoke(app, args[:-1])
    assert again.exit_code == 0 and "2 trained, 2 already done" in again.output, again.output


def test_results_that_cannot_be_rewritten_are_removed_not_left_stale(tmp_path, monkeypatch):
    from hfa.cli.sweep import _rewrite_results

    root = tmp_path / "exp"
    write_whole(root / "r1", load_config(overrides=["name=exp"]))
    (root / "results.csv").write_text("stale\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io, "write_csv", full)
    assert "was removed" in _rewrite_results(root, None)
    assert not (root / "results.csv").exists()


# ---------------------------------------------------------------------------------------------- data_s


@pytest.mark.slow
def test_data_s_is_the_time_spent_on_the_data_when_it_was_prepared_before(config, tmp_path, monkeypatch):
    """`hfa train` prepares the data before the run starts; run.json must still record that time."""
    real = hfa.data.splits.load_raw

    def slow_load(cfg):
        time.sleep(0.5)
        return real(cfg)

    hfa.data.splits.clear_caches()
    monkeypatch.setattr(hfa.data.splits, "load_raw", slow_load)
    result = runner.invoke(app, ["train", "-c", str(config), "--out", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    cfg = load_config(config)
    info = json.loads((run_dir_for(cfg, tmp_path / "runs") / "run.json").read_text())
    assert info["timings"]["data_s"] >= 0.5
    hfa.data.splits.clear_caches()
