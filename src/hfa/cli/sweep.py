"""`hfa sweep`: every combination of the grid is one run; finished runs are skipped on the next call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hfa.cli.app import app, console, err_console, interruption, os_error_line, stop_on_sigterm, user_errors
from hfa.cli.progress import EpochBudget, EpochProgressLines, RunLines, bar
from hfa.cli.train import CONFIG_HELP, MLFLOW_HELP, OVERRIDES_HELP
from hfa.errors import HfaError

if TYPE_CHECKING:  # torch and scikit-learn arrive with these; imported when the command runs
    from hfa.sweep import RunReport


@app.command(
    epilog=(
        "Examples:\n\n"
        "  hfa sweep --config configs/quickstart.yaml\n\n"
        "  hfa sweep -c configs/paper-synthetic.yaml --grid seed=0,1,2,3,4 --workers 2\n\n"
        "  hfa sweep -c configs/quickstart.yaml train.epochs=5 --grid loss.name=bce,wbce,f1 --executor ray\n\n"
        "Re-running the same command finishes only the runs that are missing; --force re-runs them all."
    )
)
@user_errors
def sweep(
    overrides: list[str] | None = typer.Argument(None, metavar="[KEY=VALUE]...", help=OVERRIDES_HELP),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    grid: list[str] | None = typer.Option(
        None, "--grid", "-g", metavar="KEY=V1,V2,...", help="Add or replace a sweep axis (repeatable)."
    ),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Root folder; runs go to OUT/<name>/<run-id>/."),
    workers: int = typer.Option(1, "--workers", "-w", help="Runs trained in parallel (processes or Ray tasks)."),
    executor: str = typer.Option("local", "--executor", "-e", help="local (processes here) or ray (a Ray cluster)."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray instance)."
    ),
    force: bool = typer.Option(False, "--force", help="Re-run runs whose results already exist."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the results.csv path."),
    mlflow: str | None = typer.Option(None, "--mlflow", metavar="URI", help=MLFLOW_HELP),
) -> None:
    """Train every combination of the config's `sweep:` grid and write OUT/<name>/results.csv.

    In a terminal bars show the runs and the epochs; in a log, a line per finished run and, with one worker, a line
    per tenth of the expected epochs, each with the time left.
    With --mlflow the sweep is one MLflow run with a child run per run.
    """
    # Imported here so `hfa --help` answers without loading torch and scikit-learn.
    from hfa.preflight import check
    from hfa.results import write_results
    from hfa.sweep import check_options, execute, expand, result_keys

    check_options(workers, executor, ray_address)
    plan = expand(config, overrides or [], grid or [])
    configs, axes = plan.configs, plan.axes
    name = configs[0].name
    root = out / name
    uri = mlflow or configs[0].tracking.mlflow
    check(configs, out, mlflow=uri, workers=workers, executor=executor, ray_address=ray_address)
    tracker = None
    if uri:
        from hfa.tracking import SweepTracker

        tracker = SweepTracker(uri, root, len(configs), axes)
    if not quiet:
        axes_text = " x ".join(f"{key} ({size})" for key, size in plan.factors.items())
        console.print(
            f"[bold]{name}[/]: {plan.points} grid points = {axes_text}, {len(configs)} distinct runs -> {root}",
            highlight=False,
        )
        for line in plan.same_runs:
            console.print(f"[yellow]note:[/] {line}", highlight=False, soft_wrap=True)

    counts = {"ok": 0, "failed": 0, "skipped": 0}
    terminal = err_console.is_terminal
    progress = bar(err_console, "counts", enabled=terminal and not quiet)
    lines = RunLines(err_console, len(configs))
    # Epochs are seen where runs train in this process (one local worker): progress then moves by epochs, not by
    # stacks, whose runs all finish at once at the end.
    from hfa.config import run_id

    ids = {id(cfg): run_id(cfg) for cfg in configs}
    budget = None
    if executor == "local" and workers == 1 and not quiet:
        budget = EpochBudget({ids[id(cfg)]: (cfg.progress_epochs, cfg.train.patience) for cfg in configs})
    epoch_lines = EpochProgressLines(err_console, budget) if budget is not None else None

    def on_epoch(cfg: Any, log: Any) -> None:
        budget.on_epoch(ids.get(id(cfg)) or run_id(cfg), log)
        if terminal:
            progress.update(epochs, completed=budget.done, total=budget.total, counts=budget.estimate())
        else:
            epoch_lines()

    def on_report(report: RunReport) -> None:
        counts[report.status] += 1
        if budget is not None:
            budget.on_finished(report.run_dir.name, report.status != "skipped")
        progress.update(task, advance=1, counts=", ".join(f"{k} {v}" for k, v in counts.items() if v))
        if not quiet and not terminal:
            lines(report)
        if report.status == "failed" and not quiet:
            progress.console.print(f"[red]failed[/] {report.run_dir.name}: {report.error}", highlight=False)
        if tracker is not None:
            tracker.on_report(report)

    try:
        with progress, stop_on_sigterm():
            task = progress.add_task("runs", total=len(configs), counts="")
            if budget is not None:
                epochs = progress.add_task("epochs", total=budget.total, counts=budget.estimate())
            summary = execute(
                configs,
                out,
                workers,
                executor,  # type: ignore[arg-type]
                force,
                ray_address,
                on_report,
                on_epoch if budget is not None else None,
            )
    except KeyboardInterrupt as exc:
        if tracker is not None:
            tracker.close(interrupted=True)
        what, code = interruption(exc)
        left = len(configs) - sum(counts.values())
        err_console.print(
            f"interrupted by {what}: {_counted(counts)}, {left} not finished "
            "(a half-written run never counts as done); "
            f"{_rewrite_results(root, result_keys(plan))}; run the same command again to finish the rest",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=code) from None
    except OSError as exc:
        err_console.print(
            f"[bold red]error:[/] {os_error_line(exc)} ({_counted(counts)}; "
            f"{_rewrite_results(root, result_keys(plan))})",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from None

    if tracker is not None:
        tracker.close()
    results = write_results(root, keys=result_keys(plan))
    if quiet:
        console.print(str(results), highlight=False, soft_wrap=True)
    else:
        console.print(
            f"{counts['ok']} trained, {counts['skipped']} already done, {counts['failed']} failed; "
            f"results: {results}\nnext: hfa report {root}",
            highlight=False,
            soft_wrap=True,
        )
    if summary.failed:
        for report in summary.failed:
            err_console.print(f"[red]failed[/] {report.run_dir}: {report.error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)


def _counted(counts: dict[str, int]) -> str:
    return f"{counts['ok']} trained and {counts['failed']} failed in this call, {counts['skipped']} already done"


def _rewrite_results(root: Path, keys: Any) -> str:
    """Rebuild results.csv from the finished run folders after a sweep stopped early; say what became of it.

    When it cannot be rewritten (a full disk), a stale table is removed rather than left disagreeing with the
    folders: it is always rebuilt from them.
    """
    from hfa import io
    from hfa.results import RESULTS_FILE, results_frame
    from hfa.rundir import claim

    try:
        frame = results_frame(root, keys)
        finished = frame.loc[frame["status"] == "ok", "run_id"].nunique()
        claim(root)
        return f"results: {io.write_csv(root / RESULTS_FILE, frame)} ({finished} finished runs)"
    except HfaError:  # no finished run yet
        return "no run finished yet"
    except OSError as exc:
        stale = root / RESULTS_FILE
        try:
            stale.unlink(missing_ok=True)
        except OSError:
            return f"results.csv could not be rewritten ({exc.strerror}) and may be out of date"
        return f"results.csv could not be rewritten ({exc.strerror}) and was removed"
