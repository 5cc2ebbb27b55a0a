"""Signals and concurrent processes (issue 12): what only real processes can show.

Every wait is for an event (a folder appearing, worker processes existing, a process ending), bounded by a
generous deadline that only a hang reaches; nothing asserts how long something took.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hfa.rundir import LOCK_DIR, completed

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find worker processes"),
]

HFA = [sys.executable, "-c", "from hfa.cli import main; main()"]
DEADLINE_S = 240


@pytest.fixture
def config(tiny_config: Path) -> Path:
    return tiny_config


def start(*args: str) -> subprocess.Popen:
    # Its own session, so a signal reaches only the process the test sends it to; SIGINT restored in case the test
    # runner was started with it ignored (a child would inherit that).
    return subprocess.Popen(
        [*HFA, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(condition, what: str):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a container's init may not reap orphans at once)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def workers_of(pid: int) -> list[int]:
    """The spawned pool workers among ``pid``'s children (not multiprocessing's resource tracker)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in map(int, children):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(child)
    return found


def long_sweep(config: Path, out: Path) -> list[str]:
    # Two runs that cannot stack, so the two workers each train one, for far longer than the test lasts.
    return ["sweep", "-c", str(config), "--out", str(out), "--grid", "seed=0,1", "train.stack=false",
            "train.epochs=1000000", "--workers", "2"]  # fmt: skip


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_sweep_stops_its_workers_and_says_how_to_resume(config, tmp_path, sig, status):
    process = start(*long_sweep(config, tmp_path / "runs"))
    workers = wait_for(lambda: len(workers_of(process.pid)) == 2 and workers_of(process.pid), "two workers")
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr, stderr
    # One line says it all: nothing after it (multiprocessing's resource tracker, which outlives hfa, used to warn
    # of the stopped pool's semaphores; hfa now unlinks them before it exits).
    assert "resource_tracker" not in stderr and "leaked" not in stderr, stderr
    said = [line for line in stderr.splitlines() if "interrupted by" in line]
    assert len(said) == 1, stderr
    assert f"interrupted by {signal.Signals(sig).name}" in said[0]
    assert "0 trained and 0 failed in this call, 0 already done, 2 not finished" in said[0]
    assert "run the same command again to finish the rest" in said[0]
    for worker in workers:
        wait_for(lambda worker=worker: not running(worker), f"worker {worker} to exit")


def test_workers_exit_when_their_parent_is_killed(config, tmp_path):
    process = start(*long_sweep(config, tmp_path / "runs"))
    workers = wait_for(lambda: len(workers_of(process.pid)) == 2 and workers_of(process.pid), "two workers")
    process.kill()  # SIGKILL: nothing of the parent runs any more; the workers notice on their own
    process.communicate(timeout=DEADLINE_S)
    for worker in workers:
        wait_for(lambda worker=worker: not running(worker), f"orphaned worker {worker} to exit")


def test_sigint_of_train_says_what_happened(config, tmp_path):
    out = tmp_path / "runs"
    process = start("train", "-c", str(config), "--out", str(out), "train.epochs=1000000")
    # Nothing is created before training (checks create no folder): the first epoch's log line says it started.
    first = process.stderr.readline()
    assert "epoch 1/1000000" in first, first
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and " epoch " not in line]
    assert len(lines) == 1 and "interrupted by SIGINT" in lines[0] and "nothing of it was written" in lines[0]
    assert not (out / "tiny").exists() or [p.name for p in (out / "tiny").iterdir()] in ([], [LOCK_DIR])


def counts(stdout: str) -> tuple[int, int]:
    match = re.search(r"(\d+) trained, (\d+) already done", stdout)
    assert match, stdout
    return int(match[1]), int(match[2])


def test_two_sweeps_on_one_folder_train_each_run_once(config, tmp_path):
    out = tmp_path / "runs"
    args = ["sweep", "-c", str(config), "--out", str(out), "--grid", "seed=0,1,2,3", "train.stack=false"]
    processes = [start(*args) for _ in range(2)]
    outputs = [process.communicate(timeout=DEADLINE_S) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    trained = [counts(stdout)[0] for stdout, _ in outputs]
    assert sum(trained) == 4, outputs  # each of the four runs trained by exactly one of the sweeps
    assert len(set(pd.read_csv(out / "tiny" / "results.csv")["run_id"])) == 4


def test_concurrent_forced_sweeps_never_crash_one_another(config, tmp_path):
    out = tmp_path / "runs"
    args = ["sweep", "-c", str(config), "--out", str(out), "--grid", "seed=0,1,2", "train.stack=false"]
    first = subprocess.run([*HFA, *args], capture_output=True, text=True, timeout=DEADLINE_S)
    assert first.returncode == 0, first.stderr
    processes = [start(*args, "--force") for _ in range(3)]
    outputs = [process.communicate(timeout=DEADLINE_S) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    root = out / "tiny"
    runs = [p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()]
    assert len(runs) == 3 and all(completed(p) for p in runs)
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == [LOCK_DIR]
    assert os.path.getsize(root / "results.csv") > 0


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_predict_leaves_no_temporary_file(config, tmp_path, sig, status):
    """SIGTERM unwinds like Ctrl-C: the temporary file beside --out is removed, and the exit status says which."""
    import numpy as np

    trained = subprocess.run([*HFA, "train", "-c", str(config), "--out", str(tmp_path / "runs"), "--quiet"],
                             capture_output=True, text=True, timeout=DEADLINE_S)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    run = trained.stdout.strip().splitlines()[-1]
    rows = tmp_path / "rows.csv"
    pd.DataFrame(np.random.default_rng(0).normal(size=(2_000_000, 2)), columns=["x0", "x1"]).to_csv(rows, index=False)
    place = tmp_path / "scored"
    place.mkdir()
    process = start("predict", run, str(rows), "--out", str(place / "pk3.csv"))
    wait_for(lambda: any(place.iterdir()), "the temporary file of --out")
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == status, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"interrupted by {signal.Signals(sig).name}" in lines[0], stderr
    assert list(place.iterdir()) == []
