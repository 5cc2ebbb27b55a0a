"""Figures of a report: metrics per data set, learning curves, precision-recall curves, critical differences.

Built on ``matplotlib.figure.Figure`` with the Agg canvas rather than pyplot, so drawing never opens a window,
needs no display and leaves a caller's pyplot backend alone. Every figure says in its titles what it shows
(data set, split, threshold rule) and labels its axes in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hfa import io
from hfa.errors import HfaError
from hfa.metrics import count_metric
from hfa.outfile import FIGURE_MARK, check_out_file
from hfa.report.build import Report
from hfa.report.collect import DATA_KEY, LABEL_KEY, LOSS_KEY, RATIO_KEY, Runs, select_rows
from hfa.report.stats import Ranking
from hfa.report.tables import block_words, data_title, format_key, fullest, method_column, p_equals, pooled_words
from hfa.results import CURVES_COLUMNS, HISTORY_COLUMNS, read_run_csv

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

IMAGE_FORMATS = ("png", "pdf", "svg")
PANEL = (4.0, 3.2)  # inches per panel
MIN_WIDTH = 8.0
LEGEND_CHAR_INCHES = 0.075  # one character of a 10-point label, roughly
MAX_PANELS = 24
RULE_STYLES = {"fixed": "-", "tuned": "--", "mean": ":"}
OPERATING_MARKERS = {"fixed": "o", "tuned": "s"}
WORDS = {
    RATIO_KEY: "negatives per positive (imbalance ratio)",
    DATA_KEY: "data set (negatives per positive)",
    "model.hidden": "hidden layer widths",
    "model.dropout": "dropout",
    "train.lr": "learning rate",
    "train.batch_size": "batch size",
    "loss.delta": "Heaviside slope δ",
    "precision": "precision",
    "recall": "recall",
    "specificity": "specificity",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "g_mean": "G-mean",
    "mcc": "Matthews correlation",
    "roc_auc": "ROC AUC",
    "average_precision": "average precision",
    "brier": "Brier score (lower is better)",
    "ece": "expected calibration error",
    "npv": "negative predictive value",
    "fpr": "false positive rate",
}
_BOUNDED = {"mcc": (-1.0, 1.0)}


def words(name: str) -> str:
    """A key or metric in words: ``f2`` -> ``F2 score``, ``train.lr`` -> ``learning rate``."""
    if name in WORDS:
        return WORDS[name]
    if name.startswith("f") and name[1:].replace(".", "", 1).isdigit():
        return f"F{name[1:]} score"
    return name


def save_figures(runs: Runs, report: Report, path: str | Path) -> list[Path]:
    """Write every figure of ``report`` next to ``path``: ``path`` itself (metrics per data set), then
    ``<stem>-learning``, ``<stem>-pr`` and, when there are rankings with 3+ losses, ``<stem>-cd``."""
    return write_figures(make_figures(runs, report, path))


def write_figures(figures: list[tuple[Path, Figure]]) -> list[Path]:
    """Save figures made by ``make_figures``, each atomically, in the format its suffix names, with hfa's mark;
    the derived ones only where no figure hfa did not write stands (``hfa.outfile.check_out_file``)."""
    if figures:
        check_out_file(figures[0][0], "--plot", derived=[p for p, _ in figures[1:]])  # before any figure is written
    return [
        io.atomic_write(
            p, lambda tmp, f=f, fmt=image_format(p): f.savefig(tmp, format=fmt, dpi=150, metadata=_mark(fmt))
        )
        for p, f in figures
    ]


def make_figures(runs: Runs, report: Report, path: str | Path) -> list[tuple[Path, Figure]]:
    """Every figure of ``report`` and where it goes (see ``save_figures``), drawn in memory: the run files they read
    (history.csv, curves.csv) are read, and refused in one line, before anything is printed or written."""
    path = Path(path)
    image_format(path)
    figures: list[tuple[Path, Figure]] = [(path, metrics_figure(report))]
    learning = learning_figure(runs, report)
    if learning is not None:
        figures.append((_sibling(path, "learning"), learning))
    pr = pr_figure(runs, report)
    if pr is not None:
        figures.append((_sibling(path, "pr"), pr))
    cd = cd_figure(report)
    if cd is not None:
        figures.append((_sibling(path, "cd"), cd))
    return figures


def _mark(fmt: str) -> dict[str, str]:
    """hfa's mark in a figure's metadata (see ``hfa.outfile.FIGURE_MARK``): a sibling figure that exists is
    replaced only when it carries it."""
    return {"Software" if fmt == "png" else "Creator": FIGURE_MARK}


def image_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in IMAGE_FORMATS:
        allowed = ", ".join(f".{s}" for s in IMAGE_FORMATS)
        raise HfaError(f"cannot write a plot to {path}: unknown suffix {path.suffix!r}; allowed: {allowed}")
    return suffix


SIBLINGS = ("learning", "pr", "cd")
"""The figures named after --plot FILE: FILE-learning, FILE-pr, FILE-cd (each where the report has one)."""


def _sibling(path: Path, part: str) -> Path:
    return path.with_name(f"{path.stem}-{part}{path.suffix}")


def siblings_of(path: Path) -> list[Path]:
    """Every file ``save_figures`` may write beside ``path``, whether or not this report draws it."""
    return [_sibling(Path(path), part) for part in SIBLINGS]


def _figure(rows: int, cols: int, extra_height: float = 0.9) -> tuple[Figure, np.ndarray]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = PANEL
    figure = Figure(figsize=(width * cols, height * rows + extra_height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, cols, squeeze=False)


def _legend(figure: Figure, axes: np.ndarray, extra: Sequence[Any] = ()) -> None:
    handles, labels = list(extra), [h.get_label() for h in extra]
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if labels:
        # As many columns as the widest entry leaves room for: a long loss label must not run off the figure.
        entry = LEGEND_CHAR_INCHES * max(map(len, labels)) + 0.6
        ncol = max(1, min(len(labels), 4, int(figure.get_figwidth() // entry)))
        figure.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)


# ----------------------------------------------------------------------------------------------------------
# Metrics per data set


def _x_key(report: Report) -> str:
    """The x axis: the first row key that varies inside a data set (usually the ratio), else the data set."""
    summary = report.summaries[report.rules[0]]
    # The method (the loss, or a tune report's `name`) is the hue, never the axis.
    inner = [k for k in report.keys if k not in (DATA_KEY, LOSS_KEY, method_column(report))]
    groups = summary.groupby(DATA_KEY, dropna=False) if DATA_KEY in summary.columns else [(None, summary)]
    for key in inner:
        if any(rows[key].nunique(dropna=False) > 1 for _, rows in groups):
            return key
    return DATA_KEY if DATA_KEY in report.keys else (inner[0] if inner else LOSS_KEY)


def metrics_figure(report: Report) -> Figure:
    """One row of panels per data set (or one row with the data sets as categories), one panel per metric."""
    x = _x_key(report)
    first = report.summaries[report.rules[0]]
    by_data = x != DATA_KEY and DATA_KEY in report.keys
    datasets = list(dict.fromkeys(first[DATA_KEY].astype(str))) if by_data else ["all"]
    categories = first[x].nunique(dropna=False)
    # Many categories (20 KEEL sets) need width: then one metric per row, the panel as wide as they need.
    tall = not _numeric_x(report, x) and categories > 8
    if tall:
        figure, axes = _figure(len(report.metrics), 1)
        figure.set_size_inches(max(PANEL[0], 0.55 * categories), PANEL[1] * len(report.metrics) + 1.6)
    else:
        figure, axes = _figure(len(datasets), len(report.metrics))
    hue = [k for k in report.keys if k not in (x, DATA_KEY)]
    few = False
    for row, data in enumerate(datasets):
        for col, metric in enumerate(report.metrics):
            ax = axes[col, 0] if tall else axes[row, col]
            for rule in report.rules:
                summary = report.summaries[rule]
                full = fullest(summary)
                if by_data:
                    summary = summary[summary[DATA_KEY].astype(str) == data]
                few |= _draw_metric(ax, report, summary, x, hue, metric, rule, full)
            ax.set_title(f"{words(metric)}" + (f" · {data}" if by_data else ""), fontsize=10)
            ax.set_ylabel(f"{words(metric)}, mean ± std")
            ax.set_xlabel(words(x))
            ax.grid(True, alpha=0.3)
    if tall:  # one category axis for the stacked panels: its labels once, under the last
        for ax in axes[:-1, 0]:
            ax.tick_params(labelbottom=False)
            ax.set_xlabel("")
    over = f"seeds and {pooled_words(report)}" if report.pooled else "seeds"
    title = f"{report.split} split · mean ± std over {over} (band or bar, cut at the metric's range)"
    figure.suptitle(title, fontsize=10)
    handles = _rule_handles(report, numeric=x != DATA_KEY and _numeric_x(report, x))
    _legend(figure, axes, handles + (_few_handle() if few else []))
    return figure


def _few_handle() -> list[Any]:
    from matplotlib.lines import Line2D

    label = "ring, k/n beside it: a mean over k runs, fewer than the n of the fullest cells (the others undefined)"
    return [Line2D([], [], color="black", marker="o", markersize=9, mfc="none", linestyle="none", label=label)]


def _mark_few(ax: Axes, xs: np.ndarray, mean: np.ndarray, defined: np.ndarray, full: int, color: str) -> bool:
    """Ring the points whose mean rests on fewer runs than the fullest cells, and write ``k/n`` beside them."""
    few = (defined < full) & ~np.isnan(mean)
    if not few.any():
        return False
    ax.plot(xs[few], mean[few], "o", markersize=9, mfc="none", mec=color, linestyle="none")
    for x, y, k in zip(xs[few], mean[few], defined[few], strict=True):
        ax.annotate(f"{int(k)}/{full}", (x, y), xytext=(5, 4), textcoords="offset points", fontsize=7, color=color)
    return True


def _numeric_x(report: Report, x: str) -> bool:
    return _positions(report, report.summaries[report.rules[0]], x)[2]


def _rule_handles(report: Report, numeric: bool) -> list[Any]:
    """Legend entries that say which line style (or marker) is which threshold rule."""
    from matplotlib.lines import Line2D

    markers = {"fixed": "o", "tuned": "s", "mean": "^"}
    handles = []
    for rule in report.rules:
        text = report.thresholds.get(rule, rule)
        if numeric:
            handles.append(Line2D([], [], color="black", linestyle=RULE_STYLES.get(rule, "-."), label=text))
        else:
            face = "black" if rule == "fixed" else "white"
            marker = markers.get(rule, "D")
            handles.append(Line2D([], [], color="black", marker=marker, mfc=face, linestyle="none", label=text))
    return handles


def _draw_metric(
    ax: Axes, report: Report, summary: pd.DataFrame, x: str, hue: list[str], metric: str, rule: str, full: int
) -> bool:
    """Draw one rule's points of ``metric``; True when a point rests on fewer runs than ``full`` (ringed)."""
    positions, labels, numeric = _positions(report, summary, x)
    few = False
    low, high = _BOUNDED.get(metric, (0.0, 1.0))  # a band or bar past a metric's range shows impossible values
    lines = summary.groupby(hue, dropna=False, sort=False) if hue else [((), summary)]
    n_lines = len(lines) if hasattr(lines, "__len__") else 1
    colors = _colors()
    for i, (key, rows) in enumerate(lines):
        xs = positions.loc[rows.index].to_numpy(dtype=float)
        order = np.argsort(xs, kind="stable")
        xs = xs[order]
        mean = rows[f"{metric}_mean"].to_numpy(dtype=float)[order]
        std = np.nan_to_num(rows[f"{metric}_std"].to_numpy(dtype=float)[order], nan=0.0)
        defined = rows[f"{metric}_n"].to_numpy(dtype=int)[order]
        label = _label(hue, key)
        color = colors[i % len(colors)]
        below, above = np.clip(mean - std, low, high), np.clip(mean + std, low, high)
        if numeric:
            ax.plot(xs, mean, RULE_STYLES.get(rule, "-."), marker="o", markersize=4, color=color, label=label)
            ax.fill_between(xs, below, above, color=color, alpha=0.12)
            few |= _mark_few(ax, xs, mean, defined, full, color)
        else:
            # Categories are not a scale: markers with error bars, side by side, no connecting line.
            offset = (i - (n_lines - 1) / 2) * 0.8 / max(n_lines, 1)
            offset += 0.06 if rule == "tuned" else 0.0
            marker = "o" if rule == "fixed" else ("s" if rule == "tuned" else "^")
            ax.errorbar(
                xs + offset,
                mean,
                yerr=np.stack((mean - below, above - mean)),
                fmt=marker,
                markersize=4,
                color=color,
                mfc=color if rule == "fixed" else "white",
                capsize=2,
                label=label,
                linestyle="none",
            )
            few |= _mark_few(ax, xs + offset, mean, defined, full, color)
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 4 else 0, ha="right")
    else:
        values = sorted(set(positions.dropna()))
        if values and values[0] > 0 and values[-1] / values[0] >= 10:
            ax.set_xscale("log")
        ax.set_xticks(values, [_tick(report, summary, x, v) for v in values])
        ax.minorticks_off()
    return few


def _colors() -> list[str]:
    return [f"C{i}" for i in range(10)]


def _positions(report: Report, summary: pd.DataFrame, x: str) -> tuple[pd.Series, list[str] | None, bool]:
    """x positions; a natural ratio sits at its value; non-numeric keys become categories (labels)."""
    values = summary[x]
    if x == RATIO_KEY:
        naturals = summary[DATA_KEY].astype(str).map(report.natural_ratios) if DATA_KEY in summary else None
        filled = values.astype(float)
        if naturals is not None:
            filled = filled.fillna(naturals.astype(float))
        if not filled.isna().any():
            return filled, None, True
    elif pd.api.types.is_numeric_dtype(values) and not values.isna().any():
        return values.astype(float), None, True
    labels = []
    for _, row in summary.iterrows():
        text = _category(report, row, x)
        if text not in labels:
            labels.append(text)
    if x == DATA_KEY:  # data sets from the most balanced to the most imbalanced
        by_label = {_category(report, row, x): str(row[x]) for _, row in summary.iterrows()}
        labels.sort(key=lambda label: report.natural_ratios.get(by_label[label], math.inf))
    return summary.apply(lambda row: float(labels.index(_category(report, row, x))), axis=1), labels, False


def _category(report: Report, row: pd.Series, x: str) -> str:
    natural = report.natural_ratios.get(str(row.get(DATA_KEY)))
    if x == DATA_KEY:
        name = str(row[x]).rpartition("/")[2]
        return f"{name} ({natural:.3g})" if natural is not None else name
    return format_key(x, row[x], natural)


def _tick(report: Report, summary: pd.DataFrame, x: str, value: float) -> str:
    if x == RATIO_KEY:
        naturals = {v for k, v in report.natural_ratios.items() if k in set(summary.get(DATA_KEY, []))}
        if value in naturals and summary[x].isna().any():
            return f"{value:.3g}\n(natural)"
    return f"{value:g}"


def _label(hue: list[str], key: Any) -> str:
    values = key if isinstance(key, tuple) else (key,)
    parts = [
        str(v) if name == LOSS_KEY else f"{words(name)} {format_key(name, v)}"
        for name, v in zip(hue, values, strict=True)
    ]
    return ", ".join(parts) or "all runs"


# ----------------------------------------------------------------------------------------------------------
# Learning and precision-recall curves, one panel per cell (data set x the other row keys but the loss)


def _cell_runs(runs: Runs, report: Report) -> list[tuple[str, pd.DataFrame]]:
    """(panel title, the runs of the cell) for each cell: the row keys but the loss, at most ``MAX_PANELS``."""
    rows = select_rows(runs.table, report.split, report.rules[0])
    # A run's history and curves are the run's, not a label's: a multi-label run is one line in its cell.
    cell_keys = [k for k in report.keys if k not in (LOSS_KEY, LABEL_KEY)]
    if LABEL_KEY in report.keys:
        rows = rows.drop_duplicates(subset=["name", "run_id"])
    groups = rows.groupby(cell_keys, dropna=False, sort=False) if cell_keys else [((), rows)]
    out = []
    for key, cell in groups:
        values = key if isinstance(key, tuple) else (key,)
        natural = report.natural_ratios.get(str(cell[DATA_KEY].iloc[0])) if DATA_KEY in cell else None
        parts = [
            data_title(report, str(v)) if k == DATA_KEY else f"{_short(k)} {format_key(k, v, natural)}"
            for k, v in zip(cell_keys, values, strict=True)
        ]
        out.append((tuple(format_key(k, v) for k, v in zip(cell_keys, values, strict=True)), " · ".join(parts), cell))
    # The report's row order (ratios numerically), not the order the runs were found in.
    order: dict[tuple[str, ...], int] = {}
    for _, row in report.summaries[report.rules[0]].iterrows():
        order.setdefault(tuple(format_key(k, row[k]) for k in cell_keys), len(order))
    out.sort(key=lambda item: order.get(item[0], len(order)))
    return [(title or "all runs", cell) for _, title, cell in out[:MAX_PANELS]]


def _short(key: str) -> str:
    return "ratio" if key == RATIO_KEY else key.rpartition(".")[2]


def _finish_panels(figure: Figure, axes: np.ndarray, used: int, title: str, extra: Sequence[Any] = ()) -> Figure:
    """Hide the unused panels of a grid, title the figure and put one legend beneath it."""
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)
    # A single panel is too narrow for the title that names the split, the rule and the data set.
    figure.set_figwidth(max(figure.get_figwidth(), MIN_WIDTH, LEGEND_CHAR_INCHES * max(map(len, title.split("\n")))))
    figure.suptitle(title, fontsize=10)
    _legend(figure, axes, extra)
    return figure


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 4)
    return math.ceil(n / cols), cols


def learning_figure(runs: Runs, report: Report) -> Figure | None:
    """Validation F1 per epoch (history.csv), mean over the seeds still training, one line per loss."""
    if LOSS_KEY not in report.keys:  # rows by another key (hfa tune's methods: --by data.name,name): no line per loss
        return None
    folders = runs.folders()
    cells = _cell_runs(runs, report)
    histories = {}
    for _, cell in cells:
        for run in cell.itertuples(index=False):
            folder = folders.get((run.name, run.run_id))
            path = Path(folder) / "history.csv" if folder else None
            if path is not None and path.is_file():
                histories[(run.name, run.run_id)] = read_run_csv(path, HISTORY_COLUMNS)
    column = _history_column(histories.values())
    if column is None:
        return None
    rows, cols = _grid(len(cells))
    figure, axes = _figure(rows, cols)
    losses = list(dict.fromkeys(report.summaries[report.rules[0]][LOSS_KEY]))
    for ax, (title, cell) in zip(axes.flat, cells, strict=False):
        for i, loss in enumerate(losses):
            frames = [histories.get((r.name, r.run_id)) for r in cell[cell[LOSS_KEY] == loss].itertuples()]
            frames = [f for f in frames if f is not None and column in f]
            if not frames:
                continue
            curves = pd.concat([f.set_index("epoch")[column] for f in frames], axis=1)
            mean = curves.mean(axis=1)
            ax.plot(mean.index, mean.to_numpy(), color=f"C{i % 10}", label=f"{loss} ({len(frames)} seeds)")
            ax.fill_between(mean.index, curves.min(axis=1), curves.max(axis=1), color=f"C{i % 10}", alpha=0.1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_history_words(column, LABEL_KEY in report.keys))
        ax.grid(True, alpha=0.3)
    words = _history_words(column, LABEL_KEY in report.keys)
    title = (
        f"Learning curves: {words} per epoch, mean over seeds (band: min to max); "
        "a seed stops where early stopping ended it"
    )
    return _finish_panels(figure, axes, len(cells), title)


def _history_column(histories: Any) -> str | None:
    for frame in histories:
        for column in ("val_f1", "val_loss"):
            if column in frame.columns and "epoch" in frame.columns:
                return column
    return None


def _history_words(column: str, multilabel: bool = False) -> str:
    # A multi-label run's history holds the micro F1 (counts summed over its labels).
    f1 = "validation micro F1 at τ = 0.5" if multilabel else "validation F1 at τ = 0.5"
    return {"val_f1": f1, "val_loss": "validation loss"}.get(column, column)


def pr_figure(runs: Runs, report: Report) -> Figure | None:
    """Precision against recall on the split (curves.csv), mean interpolated precision over seeds per loss,
    with each loss's operating points under the report's rules marked."""
    if LOSS_KEY not in report.keys:
        return None
    folders = runs.folders()
    cells = _cell_runs(runs, report)
    recall_grid = np.linspace(0.0, 1.0, 101)
    found = False
    rows, cols = _grid(len(cells))
    figure, axes = _figure(rows, cols)
    points = {rule: select_rows(runs.table, report.split, rule) for rule in report.rules}
    losses = list(dict.fromkeys(report.summaries[report.rules[0]][LOSS_KEY]))
    for ax, (title, cell) in zip(axes.flat, cells, strict=False):
        prevalence = []
        for i, loss in enumerate(losses):
            members = cell[cell[LOSS_KEY] == loss]
            curves = []
            for run in members.itertuples():
                curve = _pr_curve(folders.get((run.name, run.run_id)), report.split, recall_grid)
                if curve is not None:
                    curves.append(curve[0])
                    prevalence.append(curve[1])
            if not curves:
                continue
            found = True
            color = f"C{i % 10}"
            ax.plot(recall_grid, np.nanmean(curves, axis=0), color=color, label=f"{loss}")
            for rule, marker in OPERATING_MARKERS.items():
                if rule not in points:
                    continue
                chosen = points[rule][points[rule]["run_id"].isin(members["run_id"])]
                ax.plot(
                    chosen["recall"].mean(),
                    chosen["precision"].mean(),
                    marker,
                    color=color,
                    mfc=color if rule == "fixed" else "white",
                    markersize=6,
                )
        if prevalence:
            ax.axhline(float(np.mean(prevalence)), color="grey", linewidth=0.8, linestyle=":")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    if not found:
        return None
    title = (
        f"Precision-recall on the {report.split} split: interpolated precision, mean over seeds; "
        "markers: mean operating point of each rule"
    )
    return _finish_panels(figure, axes, len(cells), title, _operating_handles(report))


def _operating_handles(report: Report) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="black", marker=marker, mfc="black" if rule == "fixed" else "white", linestyle="none",
               label=report.thresholds.get(rule, rule))
        for rule, marker in OPERATING_MARKERS.items()
        if rule in report.rules
    ]  # fmt: skip
    handles.append(Line2D([], [], color="grey", linestyle=":", label="share of positives (no skill)"))
    return handles


def _pr_curve(folder: str | None, split: str, recall_grid: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Interpolated precision (the best precision at recall >= r) on ``recall_grid``, and the positive share."""
    if folder is None:
        return None
    path = Path(folder) / "curves.csv"
    if not path.is_file():
        return None
    curve = read_run_csv(path, CURVES_COLUMNS, numeric=CURVES_COLUMNS[1:])
    curve = curve[curve["split"] == split]
    if curve.empty:
        return None
    tp, fp, fn, tn = (curve[c].to_numpy(dtype=float) for c in ("tp", "fp", "fn", "tn"))
    recall = count_metric("recall", tp, fp, fn, tn)
    precision = count_metric("precision", tp, fp, fn, tn)
    defined = ~np.isnan(precision)
    recall, precision = recall[defined], precision[defined]
    interpolated = np.array([precision[recall >= r].max() if (recall >= r).any() else np.nan for r in recall_grid])
    positives = tp[0] + fn[0]
    return interpolated, float(positives / (positives + fp[0] + tn[0]))


# ----------------------------------------------------------------------------------------------------------
# Critical-difference diagrams (Demšar 2006)


def cd_figure(report: Report) -> Figure | None:
    """One critical-difference diagram per ranking with 3+ losses (Nemenyi post-hoc), stacked."""
    rankings = [r for r in report.rankings if len(r.mean_rank) >= 3 and not math.isnan(r.friedman_p)]
    if not rankings:
        return None
    import scikit_posthocs

    losses = list(dict.fromkeys(loss for r in rankings for loss in sorted(r.mean_rank.index, key=str)))
    # The labels hang left and right of the axis, outside what constrained layout measures: the margins are
    # sized for the longest label ("name (rank)") instead, so a long loss label is not cut off.
    margin = 0.3 + CD_CHAR_INCHES * (max(len(str(loss)) for loss in losses) + 7)
    width = max(8.0, CD_AXIS_INCHES + 2 * margin)
    figure, axes = _figure(len(rankings), 1, extra_height=0.3)
    figure.set_layout_engine(None)
    figure.set_size_inches(width, 2.6 * len(rankings) + 0.3)
    figure.subplots_adjust(left=margin / width, right=1 - margin / width, top=0.9, bottom=0.08, hspace=0.6)
    palette = {loss: f"C{i % 10}" for i, loss in enumerate(losses)}
    for ax, ranking in zip(axes[:, 0], rankings, strict=True):
        scikit_posthocs.critical_difference_diagram(
            ranking.mean_rank,
            ranking.nemenyi(),
            ax=ax,
            color_palette={loss: palette[loss] for loss in ranking.mean_rank.index},
            label_fmt_left="{label} ({rank:.2f})",
            label_fmt_right="({rank:.2f}) {label}",
        )
        # The whole rank range, so diagrams of different rules and metrics share a scale.
        ax.set_xlim(1, len(ranking.mean_rank))
        ax.set_title(_cd_title(report, ranking), fontsize=9)
        ax.set_xlabel("mean rank (1 = best); a bar joins losses whose ranks Nemenyi's test cannot tell apart")
    return figure


CD_CHAR_INCHES = 0.085  # width of one character of a 10-point label, roughly
CD_AXIS_INCHES = 4.0


def _cd_title(report: Report, r: Ranking) -> str:
    return (
        f"{words(r.metric)} · {report.split} split · {report.thresholds.get(r.rule, r.rule)}\n"
        f"{r.blocks} blocks ({block_words(report)}) · Friedman {p_equals(r.friedman_p)} · "
        f"Nemenyi CD = {r.critical_difference:.2f} (α = 0.05)"
    )
