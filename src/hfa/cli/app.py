"""The Typer application object and what every command shares: the consoles and user-error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hfa import __version__
from hfa.errors import HfaError

if TYPE_CHECKING:  # pandas is imported by the commands that print frames, not at `hfa --help`
    import pandas as pd

app = typer.Typer(
    name="hfa",
    help=(
        "Train neural binary classifiers on imbalanced data with losses that optimise the metric you report.\n\n"
        "Examples:\n\n"
        "  hfa train --config configs/quickstart.yaml loss.name=f1 data.imbalance_ratio=20\n\n"
        "  hfa sweep --config configs/quickstart.yaml --workers 2\n\n"
        "  hfa report runs/quickstart --format markdown"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn an ``HfaError`` raised anywhere below a command into one red line and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HfaError as exc:
            # Escaped: a message such as "pip install 'hfa[mlflow]'" is text, not Rich markup.
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.print(f"hfa {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """hfa: metric-optimising losses for imbalanced binary classification."""


def _cell(value: object, digits: int) -> str:
    import pandas as pd  # loaded already: cells come from frame_table

    if value is pd.NA:  # a nullable integer column's gap (e.g. positives of a multi-label data set)
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.{digits}f}"  # NaN -> blank
    return str(value)


def frame_table(frame: pd.DataFrame, title: str | None = None, digits: int = 3) -> Table:
    """A Rich table of a DataFrame: numbers right-aligned, floats rounded, NaN blank."""
    import pandas as pd

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(value, digits) for value in row))
    return table
