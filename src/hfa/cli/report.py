"""`hfa report`: mean ± std per loss x imbalance ratio over a folder of runs, a paired test, a plot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from hfa.cli.app import app, console, err_console, user_errors
from hfa.errors import HfaError

if TYPE_CHECKING:  # pandas and the report modules are imported when the command runs, not at `hfa --help`
    import pandas as pd

DEFAULT_BY = ("loss", "data.imbalance_ratio")
DEFAULT_METRICS = "precision,recall,f1"
AUTO_BASELINE = "bce"
PAIR_ON = "seed"


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    latex = "latex"


class Split(str, Enum):
    val = "val"
    test = "test"


class Rule(str, Enum):
    fixed = "fixed"
    tuned = "tuned"
    mean = "mean"


@app.command()
@user_errors
def report(
    runs_dir: Path = typer.Argument(
        ...,
        metavar="RUNS_DIR",
        help="Folder searched recursively for runs (folders with run.json): a sweep folder or the whole out dir.",
    ),
    fmt: Format = typer.Option(
        Format.table, "--format", "-f", case_sensitive=False, help="table (Rich, on screen), markdown, csv or latex."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        metavar="FILE",
        help="Write the table to FILE instead of printing it (--format table writes markdown there and still "
        "shows the table).",
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        metavar="FILE.png",
        help="Also save a figure (.png, .pdf or .svg): one panel per metric, one line per loss.",
    ),
    by: list[str] | None = typer.Option(
        None,
        "--by",
        metavar="KEY",
        help="Key(s) that make a row: 'loss', 'name' or any dotted config key. Repeat or comma-separate. "
        "(default: loss,data.imbalance_ratio)",
        show_default=False,
    ),
    split: Split = typer.Option(Split.test, "--split", help="Which split's metrics."),
    rule: Rule = typer.Option(
        Rule.fixed, "--rule", help="Threshold rule: fixed (eval.threshold), tuned (on val) or mean (0.1..0.9)."
    ),
    metrics: str = typer.Option(
        DEFAULT_METRICS,
        "--metrics",
        "-m",
        metavar="LIST",
        help="Comma-separated metric columns, e.g. precision,recall,f1,mcc.",
    ),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        metavar="LOSS",
        help="Loss the others are tested against (paired on seed, Wilcoxon signed-rank). "
        "(default: bce when present and seeds repeat; 'none' hides the comparison)",
        show_default=False,
    ),
) -> None:
    """Mean ± std of precision, recall and F1 per loss x imbalance ratio, over seeds.

    Failed runs are left out (and counted). Each loss is then compared with the baseline on seed-paired runs.

    Examples:

      hfa report runs/quickstart

      hfa report runs/quickstart --format markdown --out results.md --plot results.png

      hfa report runs --by loss --by data.name --metrics f1,mcc --rule tuned --baseline wbce
    """
    from hfa.report import format_comparison, format_summary, summarize
    from hfa.results import collect_results

    keys = _split_list(by) or list(DEFAULT_BY)
    metric_names = _split_list([metrics])
    table = collect_results(runs_dir)
    summary = summarize(table, keys, split.value, rule.value, metric_names, baseline=_sort_baseline(baseline))
    paired = _comparison(table, baseline, keys, metric_names, split.value, rule.value)
    _print_notes(table, keys)

    if fmt is Format.table:
        _print_rich(summary, paired, f"{runs_dir} · split={split.value} · rule={rule.value}")
    text_format = "markdown" if fmt is Format.table else fmt.value
    text = format_summary(summary, text_format)
    # CSV stays one table so it parses; the other formats carry the comparison beneath the summary.
    if paired is not None and text_format != "csv":
        text += "\n" + format_comparison(paired, text_format)
    if out is not None:
        _write(out, text)
        err_console.print(f"wrote {out}", highlight=False)
    elif fmt is not Format.table:
        typer.echo(text, nl=False)
    if plot is not None:
        _plot(summary, plot, keys, metric_names)
        err_console.print(f"wrote {plot}", highlight=False)


def _split_list(values: Iterable[str] | None) -> list[str]:
    """``["loss,data.name", "seed"]`` -> ``["loss", "data.name", "seed"]`` (repeatable and comma-separated)."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _baseline_off(baseline: str | None) -> bool:
    return baseline is not None and baseline.lower() == "none"


def _sort_baseline(baseline: str | None) -> str | None:
    return None if _baseline_off(baseline) else baseline or AUTO_BASELINE


def _comparison(
    table: pd.DataFrame, baseline: str | None, keys: list[str], metrics: list[str], split: str, rule: str
) -> pd.DataFrame | None:
    """The paired comparison to show, or None.

    An explicit ``--baseline`` must work (errors are the user's to fix). The automatic one (bce) is shown
    only when it applies cleanly and some loss has at least two seeds paired with it; otherwise it would
    turn a plain table request into an error or a column of undefined p-values.
    """
    from hfa.report import paired_comparison

    if _baseline_off(baseline):
        return None
    metric = "f1" if "f1" in metrics else metrics[0]
    if baseline is not None:
        return paired_comparison(table, baseline, keys, metric, split, rule, pair_on=PAIR_ON)
    try:
        paired = paired_comparison(table, AUTO_BASELINE, keys, metric, split, rule, pair_on=PAIR_ON)
    except HfaError:
        return None
    return paired if (paired["pairs"] >= 2).any() else None


def _print_notes(table: pd.DataFrame, keys: Sequence[str]) -> None:
    from hfa.report import pooled_keys

    runs = table.drop_duplicates(subset=["name", "run_id"])
    not_ok = runs[runs["status"] != "ok"]
    if len(not_ok):
        statuses = ", ".join(sorted(set(not_ok["status"].astype(str))))
        err_console.print(
            f"[yellow]note:[/] {len(not_ok)} of {len(runs)} runs left out (status {statuses}); "
            "their errors are in run.json",
            highlight=False,
            soft_wrap=True,
        )
    pooled = pooled_keys(table, keys, ignore=(PAIR_ON,))
    if pooled:
        err_console.print(
            f"[yellow]note:[/] rows average over runs that differ in {', '.join(pooled)}; "
            f"add them with --by to separate them",
            highlight=False,
            soft_wrap=True,
        )


def _header(key: str) -> str:
    """A column title that fits a terminal: the ratio as 'ratio', other dotted keys by their last part."""
    return "ratio" if key == "data.imbalance_ratio" else key.rpartition(".")[2]


def _print_rich(summary: pd.DataFrame, paired: pd.DataFrame | None, title: str) -> None:
    from hfa.report import comparison_rows, format_cell, format_value, summary_layout

    keys, metrics = summary_layout(summary)
    table = Table(title=title, caption="mean ± std over runs; n = runs per row", title_justify="left")
    for key in keys:
        # Fold rather than truncate: a clipped loss label such as "fbeta(beta…" is ambiguous.
        table.add_column(_header(key), overflow="fold")
    for metric in metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    table.add_column("n", justify="right")
    for _, row in summary.iterrows():
        cells = [format_cell(row[f"{m}_mean"], row[f"{m}_std"]) for m in metrics]
        table.add_row(*(format_value(row[k]) for k in keys), *cells, str(int(row["n"])))
    console.print(table)
    if paired is None:
        return
    header, rows = comparison_rows(paired)
    baseline = paired["baseline"].iloc[0] if len(paired) else ""
    small = Table(
        title=f"Δ = loss − {baseline}, paired on {PAIR_ON}; Wilcoxon signed-rank p",
        title_justify="left",
    )
    for i, name in enumerate(header):
        small.add_column(
            _header(name), justify="right" if i >= len(header) - 3 else "left", no_wrap=i >= len(header) - 3
        )
    for cells in rows:
        small.add_row(*cells)
    console.print(small)


def _write(path: Path, text: str) -> None:
    from hfa import io

    try:
        io.write_text(path, text)
    except OSError as exc:
        raise HfaError(f"cannot write {path}: {exc.strerror or exc}") from None


def _plot(summary: pd.DataFrame, path: Path, keys: list[str], metrics: list[str]) -> None:
    from hfa.plots import plot_summary

    # The imbalance ratio is the natural x axis; without it, the first key that is not the loss.
    candidates = [k for k in keys if k not in ("loss", "loss.name")] or keys
    x = "data.imbalance_ratio" if "data.imbalance_ratio" in keys else candidates[0]
    try:
        plot_summary(summary, path, x=x, metrics=metrics)
    except OSError as exc:
        raise HfaError(f"cannot write {path}: {exc.strerror or exc}") from None
