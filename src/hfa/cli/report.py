"""`hfa report`: per data set, the fixed and the tuned threshold rule side by side, paired tests against BCE
(and against BCE with a tuned threshold), ranks across data sets, and figures."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hfa.cli.app import app, console, err_console, user_errors
from hfa.errors import HfaError

if TYPE_CHECKING:  # the report modules (pandas, scipy) are imported when the command runs, not at `hfa --help`
    from hfa.report import Report, Runs, Section

AUTO_BASELINE = "bce"
TABLE_WIDTH = 80


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    latex = "latex"


class Split(str, Enum):
    val = "val"
    test = "test"


@app.command()
@user_errors
def report(
    runs_dir: Path = typer.Argument(
        ...,
        metavar="RUNS_DIR",
        help="Folder searched recursively for runs (folders with run.json): a sweep folder or the whole out dir.",
    ),
    fmt: Format = typer.Option(
        Format.table, "--format", "-f", case_sensitive=False, help="table (on screen), markdown, csv or latex."
    ),
    out: str | None = typer.Option(
        None,
        "--out",
        "-o",
        metavar="FILE",
        help="Write the report to FILE instead of printing it (--format table writes markdown there and still "
        "shows the tables). CSV is one long table: summaries, paired tests and ranks, told apart by 'table'.",
    ),
    plot: str | None = typer.Option(
        None,
        "--plot",
        metavar="FILE.png",
        help="Also save figures (.png, .pdf or .svg): FILE (metrics per data set), FILE-learning, FILE-pr "
        "(precision-recall per loss) and FILE-cd (critical-difference diagram, with 2+ data sets or cells).",
    ),
    by: list[str] | None = typer.Option(
        None,
        "--by",
        metavar="KEY",
        help="Key(s) that make a row: 'loss', 'name' or any dotted config key. Repeat or comma-separate. "
        "(default: the data set, the loss and every other key that varies, except the seed)",
        show_default=False,
    ),
    split: Split = typer.Option(Split.test, "--split", help="Which split's metrics."),
    rule: list[str] | None = typer.Option(
        None,
        "--rule",
        metavar="RULE",
        help="Threshold rule(s): fixed (eval.threshold), tuned (on val), tuned_f<beta> (eval.tune_betas), mean "
        "(0.1..0.9). Repeat or comma-separate. (default: fixed,tuned)",
        show_default=False,
    ),
    metrics: str | None = typer.Option(
        None,
        "--metrics",
        "-m",
        metavar="LIST",
        help="Comma-separated metrics: any column of metrics.csv, or any metric of the counts: f<beta> (f1, f2, "
        "f0.5), precision, recall, specificity, npv, fpr, accuracy, balanced_accuracy, g_mean, mcc; also "
        "roc_auc, average_precision, brier, ece. (default: precision, recall and the F-beta of every beta "
        "the losses train for)",
        show_default=False,
    ),
    tests: str | None = typer.Option(
        None,
        "--test",
        "-t",
        metavar="LIST",
        help="Comma-separated metrics to test against the baseline, each among those shown. (default: the "
        "F-scores shown)",
        show_default=False,
    ),
    label: str | None = typer.Option(
        None,
        "--label",
        metavar="LIST",
        help="Multi-label runs: the rows to show, comma-separated: target columns, macro, micro. (default: "
        "every label, then macro and micro)",
        show_default=False,
    ),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        metavar="LOSS",
        help="Loss the others are tested against, paired on every key but the loss. (default: bce when "
        "present; 'none' hides the tests)",
        show_default=False,
    ),
) -> None:
    """Mean ± std over seeds per data set and setting, under the fixed and the tuned threshold rule.

    Failed runs are left out (and counted).

    Each loss is compared with the baseline under its rule and with the baseline at a tuned threshold.

    Tests: Δ, 95% bootstrap interval, Wilcoxon p, Holm; F-beta against BCE tuned for it (eval.tune_betas).

    Multi-label runs get a row per label and its macro and micro averages, each paired label by label.

    Examples:

      hfa report runs/quickstart

      hfa report runs/quickstart --format markdown --out results.md --plot results.png

      hfa report runs --metrics f1,f3,mcc,brier --rule tuned --baseline wbce

      hfa report runs/mulan-yeast --label macro,micro --test recall,precision
    """
    from hfa.report import DEFAULT_RULES, build_report, load_runs, render

    out, plot = _check_destinations(out, plot, fmt)  # both before either is written: a report never stops half-way
    metric_names = _split_list([metrics]) if metrics else None
    if metric_names is not None and len(metric_names) > MAX_METRICS:  # each one a column, test and figure panel
        raise HfaError(f"--metrics names {len(metric_names)} metrics; at most {MAX_METRICS} in one report")
    runs = load_runs(runs_dir, metrics=metric_names or (), labels=_split_list([label]) if label else ())
    rules = _split_list(rule) or list(DEFAULT_RULES)
    off = baseline is not None and baseline.lower() == "none"
    built = build_report(
        runs,
        split=split.value,
        rules=rules,
        metrics=metric_names,
        by=_split_list(by) or None,
        baseline=None if off else baseline or AUTO_BASELINE,
        explicit_baseline=baseline is not None,
        tests=_split_list([tests]) if tests else None,
    )
    figures = _figures(runs, built, plot) if plot is not None else []  # drawn (its files read) before any output
    _print_notes(runs, built)

    if fmt is Format.table:
        _print_rich(built, str(runs_dir))
    text = render(built, "markdown" if fmt is Format.table else fmt.value)
    if out is not None:
        _write(out, text)
        err_console.print(f"wrote {out}", highlight=False)
    elif fmt is not Format.table:
        typer.echo(text, nl=False)
    if plot is not None:
        for path in _plot(figures, plot):
            err_console.print(f"wrote {path}", highlight=False)


def _split_list(values: Iterable[str] | None) -> list[str]:
    """``["loss,data.name", "seed"]`` -> ``["loss", "data.name", "seed"]`` (repeatable and comma-separated)."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _print_notes(runs: Runs, built: Report) -> None:
    from hfa.report import report_notes

    table = runs.table
    every = table.drop_duplicates(subset=["name", "run_id"])
    not_ok = every[every["status"] != "ok"]
    if len(not_ok):
        statuses = ", ".join(sorted(set(not_ok["status"].astype(str))))
        _note(f"{len(not_ok)} of {len(every)} runs left out (status {statuses}); their errors are in run.json")
    multilabel = "label" in built.keys
    what = "label(s) of runs" if multilabel else "run(s)"
    for rule, summary in built.summaries.items():
        # The macro and micro rows average a run's labels: counting them again would count a run twice more.
        rows = summary[~summary["label"].isin(("macro", "micro"))] if multilabel else summary
        collapsed = int(rows["collapsed"].sum())
        if collapsed:
            _note(
                f"{collapsed} {what} collapsed under the {rule} rule: every {built.split} row predicted one class "
                "(see the coll. column)"
            )
    for text in report_notes(built):
        _note(text)


def _note(text: str) -> None:
    err_console.print(f"[yellow]note:[/] {text}", highlight=False, soft_wrap=True)


def _print_rich(built: Report, source: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from hfa.report import sections

    # A fixed width: the tables are laid out for 80 columns whatever the terminal, so a pasted report reads.
    screen = Console(width=min(console.width, TABLE_WIDTH)) if console.is_terminal else console
    screen.print(f"[bold]{source}[/]", highlight=False)
    for section in sections(built):
        for part in _fit(section, screen.width):
            # The title on its own lines: as a table title Rich would wrap it to the table's width.
            screen.print(part.title, highlight=False, style="bold")
            table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
            _columns(table, part)
            for row in part.rows:
                table.add_row(*row)
            screen.print(table)
        for note in section.notes:
            screen.print(f"  {note}", highlight=False, style="dim")
        screen.print()


def _fit(section: Section, width: int) -> list[Section]:
    """``section`` as tables that fit ``width``: the numeric columns split into groups, each group beside the
    key columns, when one table would be wider (a loss label squeezed to one character per line reads as noise)."""
    from dataclasses import replace

    keys = len(section.header) - section.numeric

    def column_width(i: int) -> int:
        return max(len(section.header[i]), *(len(row[i]) for row in section.rows)) if section.rows else 1

    widths = [column_width(i) for i in range(len(section.header))]
    gap = 2  # one space of padding either side of a column border; the box's two edges are one space each
    budget = width - 2 - sum(widths[:keys]) - gap * keys
    if sum(widths[keys:]) + gap * (section.numeric - 1) <= budget or section.numeric <= 1:
        return [section]
    groups: list[list[int]] = [[]]
    used = 0
    for i in range(keys, len(section.header)):
        if groups[-1] and used + widths[i] > budget:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += widths[i] + gap
    columns = [[*range(keys), *group] for group in groups]
    return [
        replace(
            section,
            title=section.title if n == 0 else "(continued)",
            header=[section.header[i] for i in cols],
            rows=[[row[i] for i in cols] for row in section.rows],
            numeric=len(cols) - keys,
        )
        for n, cols in enumerate(columns)
    ]


def _columns(table: object, section: Section) -> None:
    first_numeric = len(section.header) - section.numeric
    for i, name in enumerate(section.header):
        numeric = i >= first_numeric
        # Fold rather than truncate: a clipped loss label such as "fbeta(beta…" is ambiguous.
        table.add_column(name, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")


MAX_METRICS = 40  # far more than a table can show; 200 F-betas took 21 s, 3,000 over 300 s
_SUFFIX_FORMATS = {".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".tex": "latex"}
_FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def _check_destinations(out_text: str | None, plot_text: str | None, fmt: Format) -> tuple[Path | None, Path | None]:
    """Every place the report writes to (--out, --plot and the figures named after it), checked before any work;
    an --out whose suffix names another format than the one written (markdown in r.csv, text in r.png) is refused."""
    from hfa.outfile import check_out_file, file_path

    out = None if out_text is None else file_path(out_text, "--out")
    plot = None if plot_text is None else file_path(plot_text, "--plot")
    if out is not None:
        written = "markdown" if fmt is Format.table else fmt.value
        suffix = out.suffix.lower()
        if suffix in _FIGURE_SUFFIXES:
            raise HfaError(f"--out {out} names a figure; the report is text (--format): figures go to --plot FILE.png")
        if _SUFFIX_FORMATS.get(suffix, written) != written:
            wanted = _SUFFIX_FORMATS[suffix]
            ending = next(k for k, v in _SUFFIX_FORMATS.items() if v == written)
            raise HfaError(
                f"--out {out} would hold {written}, not {wanted}: pass --format {wanted}, or a file ending in {ending}"
            )

    siblings: list[Path] = []
    if plot is not None:
        from hfa.report.figures import image_format, siblings_of

        image_format(plot)
        siblings = siblings_of(plot)
    if out is not None and plot is not None:
        taken = next((p for p in (plot, *siblings) if out.absolute() == p.absolute()), None)
        if taken is not None:
            raise HfaError(f"--out {out} is also a figure --plot {plot} writes ({taken}); give two files")
    if out is not None:
        check_out_file(out, "--out")
    if plot is not None:
        check_out_file(plot, "--plot", derived=siblings)
    return out, plot


def _write(path: Path, text: str) -> None:
    from hfa import io

    try:
        io.write_text(path, text)
    except OSError as exc:
        raise HfaError(f"cannot write {path}: {exc.strerror or exc}") from None


def _figures(runs: Runs, built: Report, path: Path) -> list:
    from hfa.report.figures import make_figures

    return make_figures(runs, built, path)


def _plot(figures: list, path: Path) -> list[Path]:
    from hfa.report.figures import write_figures

    try:
        return write_figures(figures)
    except OSError as exc:
        raise HfaError(f"cannot write {path}: {exc.strerror or exc}") from None
