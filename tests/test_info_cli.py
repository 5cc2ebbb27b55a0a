"""`hfa datasets`: full names at any width, untrainable sets marked with why, csv/json, exit 1 on no match."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from hfa.cli import app
from hfa.cli.app import console
from hfa.data import list_datasets

runner = CliRunner()


@pytest.mark.parametrize("width", [60, 80, 200])
def test_every_name_is_shown_whole_at_any_width(width, monkeypatch):
    monkeypatch.setattr(console, "_width", width)
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0, result.output
    shown = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert set(list_datasets()["name"]) <= shown


def test_untrainable_sets_are_marked_with_why():
    result = runner.invoke(app, ["datasets", "german"])
    assert result.exit_code == 0
    assert "keel/german: 1 positive cannot be split in three" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith(" keel/german "))
    assert row.split()[-1] == "no"
    assert "trains" in result.stdout.splitlines()[2] + result.stdout.splitlines()[3]
    table = list_datasets().set_index("name")
    assert table.loc["keel/glass5", "untrainable"] == "2 positives in val, 5 needed"
    assert table.loc["keel/yeast4", "untrainable"] == ""


def test_a_filter_that_matches_nothing_says_so_and_exits_1():
    result = runner.invoke(app, ["datasets", "zzz"])
    assert result.exit_code == 1 and "no data set name contains 'zzz'" in result.output


def test_csv_and_json_hold_the_listing():
    expected = list_datasets()
    expected = expected[expected["name"].str.contains("yeast")].reset_index(drop=True)
    as_csv = pd.read_csv(io.StringIO(runner.invoke(app, ["datasets", "yeast", "--format", "csv"]).stdout))
    assert as_csv["name"].tolist() == expected["name"].tolist()
    assert as_csv["positives"].tolist() == expected["positives"].tolist()
    records = json.loads(runner.invoke(app, ["datasets", "yeast", "-f", "json"]).stdout)
    assert [r["name"] for r in records] == expected["name"].tolist()
    assert {"rows", "features", "positives", "ratio", "positive", "untrainable"} <= set(records[0])


def test_the_listing_says_which_sets_k_fold_makes_trainable():
    result = runner.invoke(app, ["datasets", "keel"])
    assert result.exit_code == 0
    assert "keel/glass5: 2 positives in val, 5 needed; trainable under data.folds=5" in result.stdout
    assert "keel/zoo_3: 1 positive in val, 5 needed\n" in result.stdout
    table = list_datasets().set_index("name")
    keel = table[table.index.str.startswith("keel/")]
    blocked = keel[keel["untrainable"] != ""]
    rescued = blocked[blocked["untrainable_5fold"] == ""]
    assert f"{len(rescued)} of those {len(blocked)} can be trained under stratified 5-fold" in result.stdout


@pytest.mark.parametrize("columns", ["0", "5", "-3", "100000000"])
def test_a_columns_that_is_not_a_sane_width_is_ignored(columns, tmp_path):
    """COLUMNS=0 made Rich print nothing (exit 0) and left a refused command's stderr empty."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import hfa

    env = {**os.environ, "COLUMNS": columns, "PYTHONPATH": str(Path(hfa.__file__).parents[1])}
    code = "import sys; from hfa.cli import main; sys.argv[0] = 'hfa'; main()"
    for args, status in ((["losses"], 0), (["--help"], 0), (["train", "train.lr=true", "--out", str(tmp_path)], 2)):
        done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == status, done.stderr
        if status == 0:
            assert len(done.stdout) < 100_000  # a help page padded to COLUMNS=100000000 was gigabytes
            assert ("focal" in done.stdout or "Usage" in done.stdout) and max(map(len, done.stdout.splitlines())) >= 20
        else:
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "train.lr" in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_console_environ_keeps_a_sane_columns_and_drops_the_rest():
    from hfa.cli.app import MAX_WIDTH, MIN_WIDTH, console_environ

    assert console_environ({"COLUMNS": "120", "TERM": "x"}) == {"COLUMNS": "120", "TERM": "x"}
    for bad in ("0", str(MIN_WIDTH - 1), "-1", "wide", str(MAX_WIDTH + 1)):
        assert console_environ({"COLUMNS": bad, "TERM": "x"}) == {"TERM": "x"}
    assert console_environ({"LINES": "0"}) == {}
