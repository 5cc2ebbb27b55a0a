"""`hfa report` through Typer's test runner: output, files written, and one-line errors with exit status 2."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import hfa.cli.report  # noqa: F401  registers the command until hfa.cli imports it
from helpers_runs import FakeSweep, config_dict, metrics_frame, write_run
from hfa.cli.app import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["report", *map(str, args)])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    for fragment in fragments:
        assert fragment in lines[0]


def test_table_shows_both_rules_and_the_tests(sweep: FakeSweep) -> None:
    result = invoke(sweep.root)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "synthetic · test split · fixed rule (τ = 0.5)" in out
    assert "synthetic · test split · tuned rule" in out
    values = sweep.cell("bce", 5.0, "precision")
    assert f"{values.mean():.3f}±{values.std(ddof=1):.3f}" in out
    assert "Δ f1 = loss − bce" in out and "Δ f2 = loss − bce" in out and "Holm" in out
    assert "1 of 13 runs left out (status failed)" in result.stderr
    assert max(len(line) for line in out.splitlines()) <= 80


def test_markdown_to_stdout_and_baseline_none(sweep: FakeSweep) -> None:
    result = invoke(sweep.root, "--format", "markdown", "--baseline", "none", "--rule", "fixed")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("**Bottom line") and "\n**synthetic · test split · fixed rule" in result.stdout
    assert "| loss | ratio | precision | recall | f1 | f2 | runs |" in result.stdout
    assert "Δ" not in result.stdout and "tuned rule" not in result.stdout


def test_csv_out_and_plot(sweep: FakeSweep, tmp_path: Path) -> None:
    out, plot = tmp_path / "summary.csv", tmp_path / "summary.png"
    result = invoke(sweep.root, "-f", "csv", "--out", out, "--plot", plot, "--split", "val", "--rule", "tuned")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    back = pd.read_csv(out)
    values = sweep.cell("fbeta(beta=2)", 5.0, "recall", "val", "tuned")
    row = back[
        (back["table"] == "summary") & (back["loss"] == "fbeta(beta=2)") & (back["data.imbalance_ratio"] == 5)
        & (back["metric"] == "recall")
    ].iloc[0]  # fmt: skip
    assert row["mean"] == pytest.approx(values.mean()) and row["rule"] == "tuned"
    assert set(back["table"]) == {"summary", "paired", "ranking"}  # the tests travel with the CSV
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"wrote {plot}" in result.stderr


def test_table_out_writes_markdown(sweep: FakeSweep, tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    result = invoke(sweep.root, "--out", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("**Bottom line") and "\n**synthetic" in text and "| Δ | 95% CI | p | Holm | n |" in text


def test_by_rules_and_metrics_lists(sweep: FakeSweep) -> None:
    args = ("-f", "csv", "--by", "loss,seed", "--by", "loss", "--metrics", "mcc, roc_auc, f3", "--rule", "fixed,mean")
    result = invoke(sweep.root, *args)
    assert result.exit_code == 0, result.output
    back = pd.read_csv(io.StringIO(result.stdout))
    summary = back[back["table"] == "summary"]
    assert set(summary["metric"]) == {"mcc", "roc_auc", "f3"} and set(summary["rule"]) == {"fixed", "mean"}
    assert (summary["n_runs"] == 2).all()  # each loss x seed cell holds the two ratios
    assert (summary["pooled"] == "data.imbalance_ratio").all()
    assert "rows average over runs that differ in data.imbalance_ratio" in result.stderr


def test_explicit_baseline_with_single_seed_still_shows(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    write_run(tmp_path, "a", "wbce", config_dict("wbce", 10.0, 0), metrics_frame(rng))
    write_run(tmp_path, "b", "f1", config_dict("f1", 10.0, 0), metrics_frame(rng))
    auto = invoke(tmp_path, "-f", "markdown")
    assert auto.exit_code == 0 and "Δ" not in auto.stdout  # no bce: the automatic comparison stays quiet
    explicit = invoke(tmp_path, "-f", "markdown", "--baseline", "wbce")
    assert explicit.exit_code == 0 and "| f1 |" in explicit.stdout and "Δ f1 = loss − wbce" in explicit.stdout


def test_no_runs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_one_line_error(invoke(tmp_path / "empty"), "no runs under", "run.json")


def test_missing_dir(tmp_path: Path) -> None:
    assert_one_line_error(invoke(tmp_path / "nope"), "no such folder")


def test_unknown_by_column(sweep: FakeSweep) -> None:
    assert_one_line_error(invoke(sweep.root, "--by", "data.ratio"), "unknown grouping key 'data.ratio'", "available:")


def test_unknown_metric(sweep: FakeSweep) -> None:
    assert_one_line_error(invoke(sweep.root, "--metrics", "f1,auc"), "unknown metric 'auc'", "f<beta>")


def test_unknown_rule(sweep: FakeSweep) -> None:
    assert_one_line_error(invoke(sweep.root, "--rule", "best"), "unknown rule 'best'; allowed: fixed, tuned, mean")


def test_baseline_not_present(sweep: FakeSweep) -> None:
    assert_one_line_error(invoke(sweep.root, "--baseline", "focal"), "baseline loss 'focal'", "bce, fbeta(beta=2)")


@pytest.mark.parametrize(("option", "value"), [("--format", "html"), ("--split", "train")])
def test_bad_choice_lists_the_allowed_values(sweep: FakeSweep, option: str, value: str) -> None:
    result = invoke(sweep.root, option, value)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    allowed = {"--format": "'table', 'markdown', 'csv', 'latex'", "--split": "'val', 'test'"}[option]
    assert allowed in " ".join(result.stderr.replace("│", " ").split())


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0
    assert "hfa report runs/quickstart --format markdown" in result.stdout


@pytest.mark.parametrize("file", ["config.yaml", "run.json", "metrics.csv", "history.csv", "curves.csv"])
def test_a_run_file_that_is_not_utf8_is_one_line_naming_it_before_any_output(
    fresh_sweep: FakeSweep, tmp_path: Path, file: str
) -> None:
    folder = next(p.parent for p in sorted(fresh_sweep.root.glob("*/run.json")) if '"ok"' in p.read_text())
    (folder / file).write_bytes(b"\xff\xfe\x00not utf-8 \xe9")
    plot = tmp_path / "plot.png"
    result = invoke(fresh_sweep.root, "--plot", plot)
    assert_one_line_error(result, str(folder / file), "not UTF-8")
    assert result.stdout == "" and not plot.exists()  # refused before the table was printed or a figure written


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_replaces_only_figures_hfa_wrote(sweep: FakeSweep, tmp_path: Path, suffix: str) -> None:
    """--plot FILE may replace FILE (the user named it) and the figures named after it only where hfa wrote them
    (they carry its mark); a sibling of the user's is refused, naming it, and nothing is written."""
    from hfa.outfile import marked

    plot = tmp_path / f"r{suffix}"
    first = invoke(sweep.root, "--rule", "fixed", "--plot", plot)
    assert first.exit_code == 0, first.output
    written = sorted(tmp_path.iterdir())
    assert plot in written and all(marked(p) for p in written), written
    (tmp_path / f"r-learning{suffix}").write_bytes(plot.read_bytes())  # a sibling hfa wrote: it carries the mark
    again = invoke(sweep.root, "--rule", "fixed", "--plot", plot)
    assert again.exit_code == 0, again.output  # hfa's own figures are replaced
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    theirs = tmp_path / f"r-cd{suffix}"  # named after --plot, but the user's
    theirs.write_bytes(b"the user's own diagram")
    result = invoke(sweep.root, "--rule", "fixed", "--plot", plot)
    assert_one_line_error(result, str(theirs), "hfa did not write it", "--plot")
    assert theirs.read_bytes() == b"the user's own diagram"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p != theirs} == before


def test_out_naming_a_figure_of_plot_is_refused(sweep: FakeSweep, tmp_path: Path) -> None:
    result = invoke(sweep.root, "--out", tmp_path / "r-pr.png", "--plot", tmp_path / "r.png")
    assert_one_line_error(result, "--out", "r-pr.png")
    assert not any(tmp_path.iterdir())


def test_out_not_writable_is_refused_before_the_report_is_shown(sweep: FakeSweep, tmp_path: Path) -> None:
    """The place is checked before any work: nothing of the report is printed first."""
    (tmp_path / "file").write_text("the user's")
    result = invoke(sweep.root, "--out", tmp_path / "file" / "x.md")
    assert_one_line_error(result, "--out", "is a file, not a folder")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("column", "value"), [("f1", "5.0"), ("precision", "-0.1"), ("tp", "-3"), ("mcc", "1.5"), ("tn", "inf")]
)
def test_an_impossible_metric_value_is_one_line_naming_it(fresh_sweep, tmp_path, column, value):
    """A metrics.csv edited by hand (F1 of 5) was averaged into the tables and broke --plot with a traceback."""
    import pandas as pd

    metrics = sorted(fresh_sweep.root.glob("*/metrics.csv"))[0]
    frame = pd.read_csv(metrics, dtype=str, keep_default_na=False)
    frame.loc[0, column] = value
    frame.to_csv(metrics, index=False)
    plot = tmp_path / "r.png"
    result = runner.invoke(app, ["report", str(fresh_sweep.root), "--plot", str(plot)])
    assert_one_line_error(result, str(metrics), f"column {column!r} holds")
    assert result.stdout == "" and not plot.exists()
