"""The `hfa` command line: a thin Typer layer that owns every line the user sees.

Each command lives in its own module and registers itself on ``app``; the library underneath never prints
or exits.
"""

from __future__ import annotations

import os
import sys

import typer

from hfa.cli.app import app, console, console_environ, err_console

# Importing the command modules registers their commands on ``app``.
# In the order `hfa --help` lists them: the main job first.
from hfa.cli import train, sweep, tune, report, predict, info, config  # noqa: E402,F401  isort: skip

__all__ = ["app", "main"]


def _usage_errors() -> tuple[type[Exception], ...]:
    """Recent Typer vendors its own copy of Click; older ones use Click itself. Catch whichever is in use.

    Only the first found is imported: Click itself, when Typer does not use it, would cost start-up time.
    """
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            return (__import__(module, fromlist=["UsageError"]).UsageError,)
        except ImportError:
            continue
    return ()


USAGE_ERRORS = _usage_errors()


def main(args: list[str] | None = None) -> None:
    """The console script: like ``app()``, but a usage error is one line (exit 2), not a framed box.

    Called without ``args`` (the ``hfa`` script, ``python -c "...main()"``), the process ends with ``os._exit``
    once the output is flushed: every file is written and closed, every worker and Ray session shut down by then,
    and the interpreter's own teardown of torch, scikit-learn and pandas would add about half a second to every
    command. With ``args`` it raises ``SystemExit`` as usual, for callers in the same process.
    """
    _closed_streams_to_devnull()
    code = _run(args)
    if args is None:
        sys.stdout.flush()
        sys.stderr.flush()
        _multiprocessing_exit()
        os._exit(code)
    sys.exit(code)


def _closed_streams_to_devnull() -> None:
    """``hfa report >&-`` starts Python with ``sys.stdout`` None: what would be printed goes nowhere, as the user
    asked, and the command still does its work and exits with its own status (no AttributeError on flush)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115  lives as long as the process


def _multiprocessing_exit() -> None:
    """What multiprocessing's own atexit hook would do, which ``os._exit`` skips: unlink the semaphores of a worker
    pool stopped early (SIGTERM or Ctrl-C of ``--workers N``), so its resource tracker, outliving hfa, does not
    print a leaked-semaphore warning after hfa's one line."""
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util._exit_function()


def _tolerant_output() -> None:
    """A character the terminal's encoding lacks (PYTHONIOENCODING=ascii, a latin-1 locale) prints as '?', so a
    table's dash or box line never stops a command half-way with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
            reconfigure(errors="replace")


def _sane_help_width() -> None:
    """Typer's help pages use Rich consoles of their own: give them the width ours fell back to when COLUMNS is
    not a sane width (see ``console_environ``), so ``COLUMNS=0 hfa --help`` is not blank."""
    if "COLUMNS" in os.environ and "COLUMNS" not in console_environ():
        from typer import rich_utils

        if getattr(rich_utils, "MAX_WIDTH", 0) is None:
            rich_utils.MAX_WIDTH = console.width


def _run(args: list[str] | None) -> int:
    _tolerant_output()
    _sane_help_width()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="hfa", standalone_mode=False)
    except USAGE_ERRORS as exc:
        hint = f" (see 'hfa {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.parent else " (see 'hfa --help')"
        err_console.print(f"[bold red]error:[/] {exc.format_message()}{hint}", highlight=False, soft_wrap=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted", highlight=False)
        return 130
    except SystemExit as exc:  # typer.Exit and the commands' own exits
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code if isinstance(code, int) else 0
