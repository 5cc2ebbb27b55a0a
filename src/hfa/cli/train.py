"""`hfa train`: one config in, one trained model and its metric tables out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from hfa.cli.app import app, console, err_console, frame_table, interruption, stop_on_sigterm, user_errors
from hfa.cli.progress import EpochLines, bar

if TYPE_CHECKING:
    import pandas as pd

OVERRIDES_HELP = "Dotted config overrides, read as YAML values, e.g. train.epochs=5 loss.name=f1 model.hidden=[32,32]."
CONFIG_HELP = "YAML config file (unknown keys are an error). Without it, the built-in defaults."
# The brackets escaped: Rich markup would take [mlflow] for a style and print "needs hfa".
MLFLOW_HELP = (
    "Also log to this MLflow tracking URI: sqlite:///mlflow.db for a local store, or http://HOST:PORT "
    "(default: tracking.mlflow; needs hfa\\[mlflow])."
)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  hfa train --config configs/quickstart.yaml\n\n"
        "  hfa train --config configs/quickstart.yaml loss.name=f1 data.imbalance_ratio=20\n\n"
        "  hfa train -c configs/keel-yeast4.yaml loss.name=wbce train.device=cpu --out /tmp/runs"
    )
)
@user_errors
def train(
    overrides: list[str] | None = typer.Argument(None, metavar="[KEY=VALUE]...", help=OVERRIDES_HELP),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Root folder; the run goes to OUT/<name>/<run-id>/."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the run folder (for scripts)."),
    mlflow: str | None = typer.Option(None, "--mlflow", metavar="URI", help=MLFLOW_HELP),
) -> None:
    """Train one model and write config.yaml, metrics.csv, history.csv, model.pt, preprocessing.json and run.json.

    In a terminal a progress bar shows the epochs; in a log, a line every few epochs.
    """
    with stop_on_sigterm():
        try:
            _train(config, overrides or [], out, quiet, mlflow)
        except KeyboardInterrupt as exc:
            what, code = interruption(exc)
            err_console.print(
                f"interrupted by {what}: the run did not finish and nothing of it was written to {out}; "
                "run the same command again to train it",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(code=code) from None


def _train(config: Path | None, overrides: list[str], out: Path, quiet: bool, mlflow: str | None) -> None:
    # Imported here so `hfa --help` answers without loading torch, scikit-learn or pydantic; a bad config is
    # answered before torch and scikit-learn load (seconds).
    from hfa.config import load_config

    cfg = load_config(config, overrides)
    from hfa.data import clear_caches
    from hfa.devices import resolve_device
    from hfa.metrics import fbeta_of
    from hfa.preflight import check
    from hfa.runs import execute_run, load_splits
    from hfa.training import EpochLog, TrainingError

    uri = mlflow or cfg.tracking.mlflow
    # Bad output places, data, tracking or device settings fail here, before a progress bar has drawn anything.
    check([cfg], out, mlflow=uri)
    resolve_device(cfg.train.device)
    splits = load_splits(cfg)
    # One run in this process: the data caches (the source table, the cached splits: twice the data) would only
    # hold memory while it trains.
    clear_caches()
    label = f"{cfg.name}: {cfg.loss.name}"
    terminal = err_console.is_terminal
    with bar(err_console, "stats", enabled=terminal and not quiet, transient=True) as progress:
        task = progress.add_task(label, total=cfg.progress_epochs, stats="")
        lines = EpochLines(err_console, cfg.progress_epochs, label)

        def on_epoch(log: EpochLog) -> None:
            if quiet:
                return
            if not terminal:
                lines(log)
                return
            stats = f"loss {log.train_loss:.4f}  val loss {log.val_loss:.4f}  val F1 {log.val_f1:.3f}"
            progress.update(task, completed=log.epoch, stats=stats)

        try:
            outcome = execute_run(cfg, out, on_epoch=on_epoch, splits=splits)
        except TrainingError as exc:
            err_console.print(f"[bold red]run failed:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None
    if uri:
        from hfa.tracking import log_run

        log_run(uri, outcome.run_dir)

    if quiet:
        console.print(str(outcome.run_dir), highlight=False, soft_wrap=True)
        return
    info = outcome.info
    test = outcome.metrics[outcome.metrics["split"] == "test"]
    # F-beta of the beta the loss trains for (f2 for fbeta(beta=2)) beside F1: the number the run optimised.
    trained = [c for c in test.columns if fbeta_of(c) not in (None, 1.0)]
    columns = ["rule", "threshold", "precision", "recall", "f1", *trained, "balanced_accuracy", "roc_auc"]
    method = info["loss_label"] if cfg.model.name == "mlp" else f"{cfg.model.name} ({info['loss_label']})"
    title = f"{method} on {cfg.data.name} — test split"
    if "label" in test.columns:  # multi-label: a row per label and rule, then macro and micro
        test = test[test["rule"] != "mean"]
        _print_multilabel(test, ["rule", "label", *columns[1:]], title)
    else:
        console.print(frame_table(test[columns], title=title))
    _flag_collapsed(test)
    for line in info["warnings"]:
        err_console.print(f"[bold yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
    timings = info["timings"]
    # A baseline has no epochs: its solver's iterations (logistic) or its trees (gbdt).
    fitted = {"mlp": f"best epoch {info['best_epoch']} of", "logistic": "iterations:", "gbdt": "trees:"}
    console.print(
        f"{fitted[cfg.model.name]} {info['epochs_run']} ({info['stopped'].replace('_', ' ')}), "
        f"{timings['total_s']:.1f} s on {info['device']}\n"
        f"wrote {outcome.run_dir}",
        highlight=False,
        soft_wrap=True,
    )


# Short headers so a row per label fits 80 columns (long ones made Rich cut every number to "0.7…").
_SHORT = {"threshold": "thr", "precision": "prec", "recall": "rec", "balanced_accuracy": "bal_acc", "roc_auc": "auc"}


def _print_multilabel(test: pd.DataFrame, columns: list[str], title: str) -> None:
    """The per-label table with short headers, then the whole-set metrics of each rule on a line of their own."""
    console.print(frame_table(test[columns].rename(columns=_SHORT), title=title))
    whole = test[test["label"] == "macro"]
    for row in whole.itertuples(index=False):
        console.print(
            f"{row.rule}: hamming loss {row.hamming_loss:.3f}, subset accuracy {row.subset_accuracy:.3f}",
            highlight=False,
        )
    console.print("thr threshold, prec precision, rec recall, bal_acc balanced accuracy, auc ROC AUC", highlight=False)


def _flag_collapsed(test: pd.DataFrame) -> None:
    """One line per threshold rule under which the model predicted a single class for every test row."""
    from hfa.metrics import collapsed

    rows = test[test["rule"] != "mean"]
    flags = collapsed(rows["tp"], rows["fp"], rows["fn"], rows["tn"])
    for row in rows[flags].itertuples(index=False):
        label = "negative" if row.tp + row.fp == 0 else "positive"
        undefined = "precision undefined" if label == "negative" else "specificity 0"
        err_console.print(
            f"[bold yellow]collapsed:[/] under the {row.rule} rule (threshold {row.threshold:.3g}) every test row "
            f"is predicted {label} ({undefined}); the model has not learnt to separate the classes",
            highlight=False,
            soft_wrap=True,
        )
