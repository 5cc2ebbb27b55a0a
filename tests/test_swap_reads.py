"""Reading runs while another process swaps one in (``--force``): every read sees a whole run, never a crash.

A swap renames the run folder aside and the new one in, under the run's lock (hfa.rundir._replace). A helper
process holds that lock and keeps the folder renamed aside until told to put it back, so each moment of a swap
is met on purpose, not by chance: the folder missing when runs are listed, and gone between reading run.json
and metrics.csv.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from hfa import results
from hfa.rundir import lock

# Holds the run's lock, renames the folder aside as a swap does, says so, and on a line from the test (or after
# a deadline only a hang reaches) renames it back and lets go.
SWAPPER = """
import os, sys, threading
from pathlib import Path
from hfa.rundir import lock
run = Path(sys.argv[1])
aside = run.parent / f".{run.name}.old.testhost.{os.getpid()}.0123abcd"
with lock(run):
    sys.stdin.readline()
    os.rename(run, aside)
    print("aside", flush=True)
    ready = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), ready.set()), daemon=True).start()
    ready.wait(timeout=120)
    os.rename(aside, run)
"""


class Swapper:
    def __init__(self, run: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", SWAPPER, str(run)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def say(self, line: str = "go") -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def swap_aside(self) -> None:
        self.say()
        assert self.process.stdout.readline().strip() == "aside"

    def finish(self) -> None:
        self.say()
        assert self.process.wait(timeout=120) == 0


@pytest.fixture
def swapped(fresh_sweep) -> tuple[Path, Path, pd.DataFrame]:
    root = fresh_sweep.root
    run = sorted(p for p in root.iterdir() if (p / "run.json").is_file())[0]
    with lock(run):  # the lock file a run written by hfa has
        pass
    return root, run, results.collect_results(root)


def put_back_soon(swapper: Swapper) -> threading.Timer:
    # The reader blocks on the run's lock until the swap is over: that is the point, so the swap ends meanwhile.
    timer = threading.Timer(0.3, swapper.finish)
    timer.start()
    return timer


def test_a_run_aside_when_runs_are_listed_is_read_after_the_swap(swapped):
    root, run, before = swapped
    swapper = Swapper(run)
    swapper.swap_aside()
    assert not run.exists()
    timer = put_back_soon(swapper)
    after = results.collect_results(root)
    timer.join()
    pd.testing.assert_frame_equal(after, before)


def test_a_run_swapped_between_its_files_is_read_again_whole(swapped, monkeypatch):
    root, run, before = swapped
    swapper = Swapper(run)
    read_config = results._read_config
    started = []

    def read_then_swap(path, required, digest=None):
        config = read_config(path, required, digest)
        if path.parent == run and not started:  # run.json and config.yaml read: the folder goes before metrics.csv
            started.append(True)
            swapper.swap_aside()
            put_back_soon(swapper)
        return config

    monkeypatch.setattr(results, "_read_config", read_then_swap)
    after = results.collect_results(root)
    assert started
    swapper.process.wait(timeout=120)
    pd.testing.assert_frame_equal(after, before)


def test_a_run_folder_that_is_missing_for_good_is_not_waited_for(swapped):
    # No swap: a run deleted between listing and reading is the folder's own failure, named, not a hang.
    root, run, _ = swapped
    listed = results.find_runs(root)
    shutil.rmtree(run)
    with pytest.raises(results.HfaError, match=run.name):
        results._settled_records(run, {"status": "ok", "run_id": run.name})
    assert run in listed
