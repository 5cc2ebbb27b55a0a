"""The Typer application object and what every command shares: the consoles and user-error handling."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hfa import __version__
from hfa.errors import HfaError, clip

if TYPE_CHECKING:  # pandas is imported by the commands that print tables, not at `hfa --help`
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

MIN_WIDTH = 20
MAX_WIDTH = 1000  # columns: wider than any terminal; beyond it COLUMNS is ignored
"""Narrowest COLUMNS the consoles take; a narrower one, or one that is not a whole number, is ignored."""


def console_environ(environ: Mapping[str, str] = os.environ) -> Mapping[str, str]:
    """The environment the consoles read: without a COLUMNS below ``MIN_WIDTH`` (Rich would print nothing at
    COLUMNS=0) or above ``MAX_WIDTH`` (help pages would pad every line to it: gigabytes at COLUMNS=100000000),
    or a LINES that is not a positive whole number, so Rich falls back to the terminal's size (80
    columns off a terminal), as it does for a COLUMNS that is not a number."""
    columns, lines = environ.get("COLUMNS"), environ.get("LINES")
    bad = {
        name
        for name, text, least in (("COLUMNS", columns, MIN_WIDTH), ("LINES", lines, 1))
        if text is not None and not (text.strip().isdigit() and least <= int(text) <= MAX_WIDTH)
    }
    return {k: v for k, v in environ.items() if k not in bad} if bad else environ


# Rich's `_environ` (since Rich 12) is the mapping it reads COLUMNS, LINES, TERM and NO_COLOR from.
console = Console(_environ=console_environ())
err_console = Console(stderr=True, _environ=console_environ())

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn an ``HfaError`` raised anywhere below a command into one red line and exit status 2, and a failing
    file system (a full disk, a vanished mount) into one line and exit status 1. SIGTERM unwinds the command like
    Ctrl-C (``finally`` blocks run: temporary files are removed), which exits 128 + the signal's number."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        main_thread = threading.current_thread() is threading.main_thread()  # where signal handlers can be set
        try:
            with stop_on_sigterm() if main_thread else contextlib.nullcontext():
                return func(*args, **kwargs)
        except HfaError as exc:
            # Escaped: a message such as "pip install 'hfa[mlflow]'" is text, not Rich markup.
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except OSError as exc:
            err_console.print(f"[bold red]error:[/] {os_error_line(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2 if exc.errno in NAME_ERRORS else 1) from None
        except KeyboardInterrupt as exc:  # the commands that train say more themselves
            what, code = interruption(exc)
            err_console.print(f"interrupted by {what}; nothing half-written was kept", highlight=False)
            raise typer.Exit(code=code) from None

    return wrapper  # type: ignore[return-value]


NAME_ERRORS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR, errno.EISDIR})
"""Errors of a name the user gave (too long, a link loop, a file where a folder must be, or the reverse): bad input,
exit 2, wherever the file system first says so. Others (a full disk, a vanished mount) are the machine's: exit 1."""


def os_error_line(exc: OSError) -> str:
    """``OSError(ENOSPC)`` -> "cannot write runs/x/.tmp: No space left on device; nothing half-written was kept"."""
    where = f" {clip(str(exc.filename))}" if exc.filename else ""
    if exc.errno in NAME_ERRORS:
        return f"{where.strip()}: {exc.strerror or exc}; give another path"
    text = f"file system error{where}: {exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        text += "; nothing half-written was kept: free some space and run the same command again"
    return text


class Stopped(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so it unwinds (stopping workers, cleaning up) like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """While the block runs, SIGTERM raises ``Stopped``; a second SIGTERM ends the process at once."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interruption(exc: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped the command, for the message, and the exit status a shell expects (128 + signal number)."""
    if isinstance(exc, Stopped):
        return signal.Signals(exc.signum).name, 128 + exc.signum
    return "SIGINT (Ctrl-C)", 128 + signal.SIGINT


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
    import pandas as pd  # loaded already by the frame being shown

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
