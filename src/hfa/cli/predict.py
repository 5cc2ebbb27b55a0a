"""`hfa predict`: score raw rows of a CSV/Parquet file with a finished run's preprocessing, model and threshold."""

from __future__ import annotations

from pathlib import Path

import typer

from hfa.cli.app import app, err_console, user_errors


@app.command(
    epilog=(
        "Examples:\n\n"
        "  hfa predict runs/credit/bce_irnatural_s0_1a2b3c4d datasets/credit_example.csv --out scored.csv\n\n"
        "  hfa predict RUN_DIR new.parquet --threshold tuned --id customer_id --out scored.parquet"
    )
)
@user_errors
def predict(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A finished run folder: OUT/<name>/<run-id>."),
    file: Path = typer.Argument(..., metavar="FILE", help="Rows to score (.csv or .parquet)."),
    out: str | None = typer.Option(
        None, "--out", "-o", metavar="FILE", help="Write .csv or .parquet here instead of CSV to standard output."
    ),
    threshold: str = typer.Option(
        "fixed",
        "--threshold",
        "-t",
        metavar="fixed|tuned|NUMBER",
        help="fixed (eval.threshold), tuned (chosen on validation at training), tuned_f<beta> (where the run "
        "has eval.tune_betas) or a number in (0, 1).",
    ),
    id_column: str | None = typer.Option(
        None, "--id", metavar="COLUMN", help="Carry this column through (default: the run's data.id, if given)."
    ),
) -> None:
    """Score raw rows of a CSV/Parquet file with a finished run: `score` and `label` per row.

    One row out per row in; `label` is 1 where the score reaches the threshold. The score ranks rows but is not a
    probability (metric losses push it to 0 and 1); a run calibrated on validation (eval.calibrate) writes
    `probability` instead. Extra columns (the label column, say) are ignored; a missing feature column is an error.
    """
    from hfa.outfile import file_path
    from hfa.predict import check_out, load_run, read_rows, write_rows

    if out is not None:
        out = check_out(file_path(out, "--out"), inputs=[file])  # before any work: a place hfa may write
    predictor = load_run(run_dir)
    cut = predictor.threshold(threshold)  # a bad --threshold fails before the file is read
    rows = read_rows(file)
    scored = predictor.score(rows, cut, id_column, source=str(file))
    if id_column is None and predictor.id_column is not None and predictor.id_column not in rows.columns:
        err_console.print(
            f"note: {file} has no column {predictor.id_column!r} (the run's data.id); rows are scored in their "
            "order, without ids (name another with --id COLUMN)",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if out is None:
        typer.echo(scored.to_csv(index=False), nl=False)
        return
    write_rows(scored, out)
    shown = f"{cut:g}" if isinstance(cut, float) else "per label " + ", ".join(f"{t:g}" for t in cut)
    err_console.print(f"wrote {len(scored)} rows to {out} (threshold {shown})", highlight=False, soft_wrap=True)
