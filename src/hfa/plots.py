"""Figures of a summary table: one panel per metric, one line per loss, mean with a ±std band.

Built on ``matplotlib.figure.Figure`` with the Agg canvas rather than pyplot, so importing or calling this
never opens a window, needs no display and leaves a caller's pyplot backend alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hfa import io
from hfa.errors import HfaError
from hfa.report import DEFAULT_METRICS, format_value, summary_layout

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

IMAGE_FORMATS = ("png", "pdf", "svg")
PANEL_SIZE = (4.2, 3.4)  # inches per metric panel
_RATES = ("precision", "recall", "f1", "fbeta", "accuracy", "balanced_accuracy", "roc_auc", "average_precision")
METRIC_RANGES = {**dict.fromkeys(_RATES, (0.0, 1.0)), "mcc": (-1.0, 1.0)}


def plot_summary(
    summary: pd.DataFrame,
    path: str | Path,
    x: str = "data.imbalance_ratio",
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> Path:
    """Save a figure of a :func:`hfa.report.summarize` table to ``path`` (PNG, or PDF/SVG by suffix).

    Each panel plots one metric against ``x``; each combination of the other key columns (usually the loss)
    is a line with its mean and a shaded ±std band. A numeric ``x`` spanning more than a decade gets a log
    axis; a non-numeric or partly missing ``x`` is drawn as categories in table order.
    """
    path = Path(path)
    image_format = _image_format(path)
    keys, available = summary_layout(summary)
    if x not in keys:
        raise HfaError(f"cannot plot against {x!r}: not a key of the summary; available: {', '.join(keys)}")
    for metric in metrics:
        if metric not in available:
            raise HfaError(f"cannot plot metric {metric!r}: not in the summary; available: {', '.join(available)}")
    figure = _draw(summary, x, [k for k in keys if k != x], list(metrics))
    return io.atomic_write(path, lambda tmp: figure.savefig(tmp, format=image_format, dpi=150))


def _image_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in IMAGE_FORMATS:
        raise HfaError(
            f"cannot write a plot to {path}: unknown suffix {path.suffix!r}; allowed: "
            + ", ".join(f".{s}" for s in IMAGE_FORMATS)
        )
    return suffix


def _draw(summary: pd.DataFrame, x: str, hue: list[str], metrics: list[str]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = PANEL_SIZE
    figure = Figure(figsize=(width * len(metrics), height + 0.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    positions, ticks = _x_positions(summary[x])
    lines = summary.groupby(hue, dropna=False, sort=False) if hue else [((), summary)]
    for ax, metric in zip(axes, metrics, strict=True):
        for key, rows in lines:
            _draw_line(ax, rows, positions, metric, _label(hue, key))
        _style_axis(ax, x, metric, summary[x], ticks)
    axes[0].set_ylabel("mean ± std over runs")
    handles, labels = axes[0].get_legend_handles_labels()
    if labels:
        figure.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), frameon=False)
    return figure


def _draw_line(ax: Axes, rows: pd.DataFrame, positions: pd.Series, metric: str, label: str) -> None:
    order = np.argsort(positions.loc[rows.index].to_numpy(), kind="stable")
    xs = positions.loc[rows.index].to_numpy()[order]
    mean = rows[f"{metric}_mean"].to_numpy(dtype=float)[order]
    # A single run has no spread; draw no band rather than a misleading zero-width one.
    std = np.nan_to_num(rows[f"{metric}_std"].to_numpy(dtype=float)[order], nan=0.0)
    low, high = METRIC_RANGES.get(metric, (-np.inf, np.inf))
    (line,) = ax.plot(xs, mean, marker="o", markersize=4, label=label)
    # A band past a metric's range (precision below 0) shows values no run can have; clip it to the range.
    band = np.clip(mean - std, low, high), np.clip(mean + std, low, high)
    ax.fill_between(xs, *band, color=line.get_color(), alpha=0.18, linewidth=0)


def _x_positions(values: pd.Series) -> tuple[pd.Series, list[str] | None]:
    """Numeric x as is; anything else as category indices (with their labels) in first-seen order."""
    if pd.api.types.is_numeric_dtype(values) and not values.isna().any():
        return values.astype(float), None
    labels = list(dict.fromkeys(format_value(v) for v in values))
    return values.map(lambda v: labels.index(format_value(v))).astype(float), labels


def _style_axis(ax: Axes, x: str, metric: str, values: pd.Series, ticks: list[str] | None) -> None:
    ax.set_title(metric)
    ax.set_xlabel(x)
    ax.grid(True, alpha=0.3)
    if ticks is not None:
        ax.set_xticks(range(len(ticks)), ticks)
        return
    low, high = float(values.min()), float(values.max())
    # Imbalance grids are geometric (5, 20, 50...): from a decade on, a log axis spaces them evenly.
    if low > 0 and high / low >= 10:
        ax.set_xscale("log")
    distinct = sorted(set(values.astype(float)))
    if len(distinct) <= 8:
        # Label the values actually run, not matplotlib's decades: a reader looks up the grid points.
        ax.set_xticks(distinct, [format_value(v) for v in distinct])
        ax.minorticks_off()


def _label(hue: list[str], key: object) -> str:
    values = key if isinstance(key, tuple) else (key,)
    parts = [
        format_value(v) if name in ("loss", "loss.name") else f"{name}={format_value(v)}"
        for name, v in zip(hue, values, strict=True)
    ]
    return ", ".join(parts) or "all runs"
