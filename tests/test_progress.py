"""Progress outside a terminal: a line per finished run of a sweep, a line every few epochs of a run."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from hfa.cli import app
from hfa.cli.app import err_console
from hfa.cli.progress import EpochLines, RunLines, clock

runner = CliRunner()

TINY = {
    "name": "lines",
    "data": {"name": "synthetic", "n_samples": 2000, "cluster_std": 2.0, "imbalance_ratio": 5},
    "model": {"hidden": [8]},
    "train": {"epochs": 20, "batch_size": 256, "lr": 0.01, "patience": 0, "device": "cpu"},
    "sweep": {"loss.name": ["bce", "f1"], "seed": [0, 1]},
}


def test_clock():
    assert [clock(s) for s in (0, 59.4, 75.2, 3723)] == ["0:00", "0:59", "1:15", "1:02:03"]


def test_run_lines_count_and_estimate(monkeypatch):
    times = iter([0.0, 10.0, 10.0])
    monkeypatch.setattr("hfa.cli.progress.time.perf_counter", lambda: next(times))
    lines = RunLines(err_console, 4)
    skipped = SimpleNamespace(status="skipped", run_dir=SimpleNamespace(name="a"))
    trained = SimpleNamespace(status="ok", run_dir=SimpleNamespace(name="b"))
    assert lines.line(skipped).endswith("elapsed 0:10, left ?")
    # 10 s on the one run trained here, two runs left: ~20 s
    assert lines.line(trained) == "[2/4] ok      b  elapsed 0:10, left ~0:20"


def test_epoch_lines_every_few_epochs(monkeypatch):
    printed = []
    monkeypatch.setattr(err_console, "print", lambda text, **_: printed.append(text))
    lines = EpochLines(err_console, 25, "run")
    for epoch in range(1, 26):
        lines(SimpleNamespace(epoch=epoch, train_loss=0.5, val_loss=0.4, val_f1=0.3))
    assert [int(re.search(r"epoch (\d+)/25", p).group(1)) for p in printed] == [1, 3, 6, 9, 12, 15, 18, 21, 24, 25]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "lines.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


@pytest.mark.slow
def test_a_logged_sweep_prints_a_line_per_run_and_quiet_prints_none(config, tmp_path):
    result = runner.invoke(app, ["sweep", "-c", str(config), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    done = re.findall(r"\[(\d)/4\] (ok|skipped) +\S+  elapsed \d+:\d\d, left \S+", result.stderr)
    assert [int(n) for n, _ in done] == [1, 2, 3, 4]
    again = runner.invoke(app, ["sweep", "-c", str(config), "--out", str(tmp_path / "runs"), "--quiet"])
    assert again.exit_code == 0 and again.stderr == "" and again.stdout.strip().endswith("results.csv")


@pytest.mark.slow
def test_a_logged_run_prints_a_line_every_few_epochs(config, tmp_path):
    result = runner.invoke(app, ["train", "-c", str(config), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    epochs = [int(n) for n in re.findall(r"lines: bce epoch (\d+)/20  loss", result.stderr)]
    assert epochs == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    quiet = runner.invoke(app, ["train", "-c", str(config), "--out", str(tmp_path / "runs"), "-q"])
    assert quiet.exit_code == 0 and "epoch" not in quiet.output


def _log(epoch, best):
    return SimpleNamespace(epoch=epoch, best=best)


def test_epoch_budget_expected_epochs_by_hand():
    from hfa.cli.progress import EpochBudget

    budget = EpochBudget({"a": (100, 10), "b": (100, 10), "c": (100, 10)})
    assert budget.left() is None and budget.estimate() == "left ?"
    for epoch in (1, 2, 3, 4):  # a and b train as a stack; a stopped improving after epoch 2, b still improves
        budget.on_epoch("a", _log(epoch, epoch <= 2))
        budget.on_epoch("b", _log(epoch, True))
    # Nothing finished: a's lower bound max(2 + 10, 2 * 4) = 12, b's max(4 + 10, 8) = 14, each against 100 on a
    # log scale; c, not started, as long as the running ones on average.
    a, b = math.sqrt(12 * 100), math.sqrt(14 * 100)
    expected, most = budget.left()
    assert expected == pytest.approx((a - 4) + (b - 4) + (a + b) / 2)
    assert most == 96 + 96 + 100
    budget.on_epoch("a", _log(5, False))
    budget.on_finished("a", trained=True)  # stopped at 5: now the typical stop
    expected, most = budget.left()
    assert expected == pytest.approx((14 - 4) + 5)  # b: its lower bound 14 beats the typical 5; c: the typical 5
    budget.on_finished("c", trained=False)  # skipped: already done, never work
    assert budget.left() == (10, 96)


def test_epoch_budget_estimate_uses_the_rate_since_the_first_epoch(monkeypatch):
    from hfa.cli import progress

    now = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    budget = progress.EpochBudget({"a": (10, 0)})  # patience 0: runs all 10 epochs
    now[0] = 130.0  # 30 s of data loading before the first epoch
    budget.on_epoch("a", _log(1, True))
    now[0] = 132.0
    budget.on_epoch("a", _log(2, True))  # 2 s an epoch since the first
    assert budget.estimate() == "left ~0:16 (at most 0:16)"


def test_a_sweep_in_a_log_reports_epochs_with_an_estimate(tmp_path):
    config = tmp_path / "lines.yaml"
    config.write_text(yaml.safe_dump(TINY))
    result = runner.invoke(app, ["sweep", "--config", str(config), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("epochs ")]
    assert lines[0].endswith("left ?") and len(lines) >= 5
    assert all(
        re.fullmatch(r"epochs \d+/~\d+  elapsed \d+:\d\d, left ~\d+:\d\d \(at most \d+:\d\d\)", x) for x in lines[1:]
    )


def test_a_baselines_fit_is_one_step_of_progress(tmp_path, tiny_config):
    """A sweep mixing the MLP and gradient boosting counts the gbdt run as one step, never past its total."""
    from typer.testing import CliRunner

    from hfa.cli import app

    result = CliRunner().invoke(
        app,
        ["sweep", "-c", str(tiny_config), "--out", str(tmp_path), "--grid", "model.name=mlp,gbdt", "loss.name=wbce"],
    )
    assert result.exit_code == 0, result.output
    counts = [tuple(map(int, m)) for m in re.findall(r"epochs (\d+)/~(\d+)", result.output)]
    assert counts and all(done <= total for done, total in counts) and counts[-1][0] == counts[-1][1]
    assert "~-" not in result.output
