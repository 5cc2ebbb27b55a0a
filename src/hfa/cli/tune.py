"""`hfa tune`: every method tuned with the same budget on validation, the choices retrained on fresh seeds.

Named ``tune`` because it is what a user asks for ("tune each method fairly"); the config blocks it reads,
``methods:``, ``search:`` and ``tune:``, name what they hold (see ``hfa.search``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from hfa.cli.app import app, console, err_console, interruption, stop_on_sigterm, user_errors
from hfa.cli.train import CONFIG_HELP, OVERRIDES_HELP


@app.command(
    epilog=(
        "Examples:\n\n"
        "  hfa tune --config configs/keel-contest-tiny.yaml\n\n"
        "  hfa tune -c configs/keel-contest.yaml --method bce --method focal tune.budget=8 --workers 2\n\n"
        "Re-running the same command resumes: finished runs are kept, the studies continue from tune.journal."
    )
)
@user_errors
def tune(
    overrides: list[str] | None = typer.Argument(None, metavar="[KEY=VALUE]...", help=OVERRIDES_HELP),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    method: list[str] | None = typer.Option(None, "--method", "-m", help="Tune only this method (repeatable)."),
    budget: int | None = typer.Option(None, "--budget", "-b", help="Trials per method and sweep point."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Root folder; the study goes to OUT/<name>/."),
    workers: int = typer.Option(1, "--workers", "-w", help="Stacks trained in parallel (processes or Ray tasks)."),
    executor: str = typer.Option("local", "--executor", "-e", help="local (processes here) or ray (a Ray cluster)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address (with --executor ray)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the report's path."),
) -> None:
    """Tune every method of the config's `methods:` over its `search:` ranges with `tune.budget` trials each,
    choose on validation, train the choices on `tune.final_seeds`, and write OUT/<name>/report.md.

    Trials are run folders under OUT/<name>/trials/<method>/, the chosen settings' runs under OUT/<name>/final/
    (the only runs whose test numbers are reported), the choices in OUT/<name>/choices.csv.
    """
    from hfa.api import tune_report
    from hfa.search import load_plan
    from hfa.sweep import check_options
    from hfa.tune import describe
    from hfa.tune import tune as run_tune

    check_options(workers, executor, ray_address)
    plan = load_plan(config, overrides or [], method or [], budget)

    def on_start() -> None:  # once the study's checks passed: a refusal is one line
        if not quiet:
            console.print(describe(plan), highlight=False, soft_wrap=True)

    def on_round(number: int, runs: int) -> None:
        if not quiet:
            err_console.print(f"round {number + 1}: {runs} trial runs", highlight=False)

    try:
        with stop_on_sigterm():
            result = run_tune(plan, out, workers, executor, ray_address, on_round=on_round, on_start=on_start)
    except KeyboardInterrupt as exc:
        what, code = interruption(exc)
        err_console.print(
            f"interrupted by {what}; run the same command again to resume the study", highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=code) from None
    report = tune_report(plan, result)
    if quiet:
        console.print(str(report), highlight=False, soft_wrap=True)
    else:
        console.print(
            f"{result.trained} runs trained, {result.skipped} already done, {result.failed} failed; "
            f"choices: {result.root / 'choices.csv'}; report: {report}",
            highlight=False,
            soft_wrap=True,
        )
    if result.failed:
        raise typer.Exit(code=1)
