"""Results tables -> mean ± std per cell, paired tests against a baseline loss, and text renderings.

Input is the long table of :func:`hfa.results.collect_results`. Rendering a Rich table is the CLI's job;
everything that turns numbers into text for files (markdown, CSV, LaTeX) lives here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hfa.errors import HfaError
from hfa.results import config_columns, metric_columns, varying_keys

SPLITS = ("val", "test")
RULES = ("fixed", "tuned", "mean")
FORMATS = ("markdown", "csv", "latex")
DEFAULT_BY = ("loss", "data.imbalance_ratio")
DEFAULT_METRICS = ("precision", "recall", "f1")
LOSS_COLUMNS = ("loss", "loss.name")
DIGITS = 3


def summarize(
    df: pd.DataFrame,
    by: Sequence[str] = DEFAULT_BY,
    split: str = "test",
    rule: str = "fixed",
    metrics: Sequence[str] = DEFAULT_METRICS,
    baseline: str | None = "bce",
) -> pd.DataFrame:
    """Mean, std (ddof=1, NaN for a single run) and run count of each metric per cell of ``by``.

    Only runs with status ok count. Columns: the ``by`` keys, ``<metric>_mean`` and ``<metric>_std`` for each
    metric, then ``n`` (runs in the cell). Rows are sorted by the keys: numbers numerically (missing last),
    the ``baseline`` loss first, other text alphabetically.
    """
    # A key or metric named twice (``--by loss --by loss,seed``) would collide as a column; once is meant.
    by, metrics = list(dict.fromkeys(by)), list(dict.fromkeys(metrics))
    rows = select_rows(df, split, rule)
    check_columns(by, group_columns(df), "grouping key")
    check_columns(metrics, metric_columns(df), "metric")
    grouped = rows.groupby(by, dropna=False, sort=False)
    stats = {}
    for metric in metrics:
        stats[f"{metric}_mean"] = grouped[metric].mean()
        stats[f"{metric}_std"] = grouped[metric].std(ddof=1)
    stats["n"] = grouped.size()
    summary = pd.DataFrame(stats).reset_index()
    return sort_rows(summary, by, baseline)


def paired_comparison(
    df: pd.DataFrame,
    baseline: str = "bce",
    by: Sequence[str] = DEFAULT_BY,
    metric: str = "f1",
    split: str = "test",
    rule: str = "fixed",
    pair_on: str = "seed",
) -> pd.DataFrame:
    """Each non-baseline loss against ``baseline``, per cell of ``by``, on runs paired by ``pair_on``.

    A run's partner is the baseline run with the same ``pair_on`` value and the same value of every config
    key that varies among the baseline runs (so the imbalance ratio, data seed, model size... must match,
    while the loss's own settings such as ``loss.beta`` need not). Columns: ``loss``, the other ``by`` keys,
    ``metric``, ``baseline``, ``mean_diff`` (mean of loss − baseline over the pairs), ``pairs`` and
    ``p_value``: the two-sided Wilcoxon signed-rank test (scipy defaults: zero differences dropped, exact
    distribution for small samples). ``p_value`` is NaN with fewer than 2 pairs or when every difference is
    zero, where the test is undefined. With n pairs the smallest p-value possible is 2 / 2**n, so 3 seeds can
    never reach 0.05; 6 can.
    """
    rows = select_rows(df, split, rule)
    cells = list(dict.fromkeys(["loss", *by]))
    check_columns(cells, group_columns(df), "grouping key")
    check_columns([metric], metric_columns(df), "metric")
    check_columns([pair_on], config_columns(df), "pairing key")
    losses = list(dict.fromkeys(rows["loss"]))
    if baseline not in losses:
        raise HfaError(
            f"baseline loss {baseline!r} is not among the {split}/{rule} rows of successful runs; "
            f"losses present: {', '.join(map(str, losses))}"
        )
    base = rows[rows["loss"] == baseline]
    match = _match_keys(rows, base, pair_on)
    base = _unique_partners(base, match, baseline)
    records = [
        _compare_cell(cell, base, match, cells, key, metric, baseline)
        for key, cell in rows[rows["loss"] != baseline].groupby(cells, dropna=False, sort=False)
    ]
    columns = [*cells, "metric", "baseline", "mean_diff", "pairs", "p_value"]
    return sort_rows(pd.DataFrame(records, columns=columns), cells, baseline)


def pooled_keys(df: pd.DataFrame, by: Sequence[str] = DEFAULT_BY, ignore: Iterable[str] = ("seed",)) -> list[str]:
    """Config keys that vary *inside* some cell of ``by`` (besides ``ignore``): the cells average over them.

    Worth a warning: a mean over, say, two learning rates is rarely what a table is meant to show.
    """
    runs = df[df["status"] == "ok"].drop_duplicates(subset=[c for c in ("name", "run_id") if c in df.columns])
    if runs.empty:
        return []
    skip = {*by, *ignore}
    candidates = [k for k in varying_keys(runs) if k not in skip]
    grouped = runs.groupby(list(by), dropna=False)
    return [k for k in candidates if (grouped[k].nunique(dropna=False) > 1).any()]


def wilcoxon_p(differences: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value; NaN with < 2 differences or all of them zero."""
    diffs = np.asarray(differences, dtype=float)
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size < 2 or not np.any(diffs):
        return math.nan
    from scipy.stats import wilcoxon  # scipy.stats is slow to import; only this function needs it

    with warnings.catch_warnings():
        # Ties and zeros make scipy fall back to the normal approximation with a warning; the result stands.
        warnings.simplefilter("ignore")
        return float(wilcoxon(diffs).pvalue)


def select_rows(df: pd.DataFrame, split: str, rule: str) -> pd.DataFrame:
    """Rows of successful runs at one split and threshold rule; HfaError if the choice is invalid or empty."""
    if split not in SPLITS:
        raise HfaError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    if rule not in RULES:
        raise HfaError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")
    ok = df[df["status"] == "ok"]
    if "label" in ok.columns and ok["label"].notna().any():
        # Pooling a run's label rows (and its macro and micro rows) as if they were runs would give wrong numbers.
        raise HfaError(
            "these runs are multi-label (results have a 'label' column), which hfa report does not summarise yet; "
            "read results.csv by label (scripts/mulan_yeast_study.py does for configs/mulan-yeast.yaml)"
        )
    rows = ok[(ok["split"] == split) & (ok["rule"] == rule)]
    if rows.empty:
        n_runs = df["run_id"].nunique()
        n_ok = ok["run_id"].nunique()
        raise HfaError(f"no {split}/{rule} rows among the {n_ok} successful run(s) of {n_runs}")
    return rows


def group_columns(df: pd.DataFrame) -> list[str]:
    """What a table may be grouped by: the loss label, the experiment name and every config key."""
    return [c for c in ("loss", "name") if c in df.columns] + config_columns(df)


def check_columns(names: Sequence[str], available: Sequence[str], kind: str) -> None:
    if not names:
        raise HfaError(f"at least one {kind} is needed; available: {', '.join(available)}")
    for name in names:
        if name not in available:
            raise HfaError(f"unknown {kind} {name!r}; available: {', '.join(available)}")


def sort_rows(frame: pd.DataFrame, keys: Sequence[str], baseline: str | None = None) -> pd.DataFrame:
    """Sort by ``keys``: numbers numerically, loss columns with ``baseline`` first, other text alphabetically."""
    if frame.empty or not keys:
        return frame.reset_index(drop=True)
    return frame.sort_values(list(keys), key=_sort_key(baseline), na_position="last", kind="stable").reset_index(
        drop=True
    )


def _sort_key(baseline: str | None) -> Callable[[pd.Series], pd.Series]:
    def key(column: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            return column
        text = column.map(lambda v: None if _missing(v) else str(v))
        if column.name in LOSS_COLUMNS and baseline is not None:
            # A leading "0"/"1" puts the baseline first while keeping the rest alphabetical.
            return text.map(lambda v: v if v is None else ("0" if v == baseline else "1") + v)
        return text

    return key


def _match_keys(rows: pd.DataFrame, base: pd.DataFrame, pair_on: str) -> list[str]:
    """``pair_on`` plus every key the baseline runs differ in; the experiment name too when it varies."""
    keys = [pair_on] + [k for k in varying_keys(base) if k != pair_on]
    if "name" in rows.columns and base["name"].nunique(dropna=False) > 1:
        keys.append("name")
    return keys


def _unique_partners(base: pd.DataFrame, match: list[str], baseline: str) -> pd.DataFrame:
    duplicated = base.duplicated(subset=match, keep=False)
    if duplicated.any():
        shared = _describe(base[duplicated].iloc[0], match)
        raise HfaError(f"paired comparison is ambiguous: several {baseline} runs share {shared}")
    return base


def _compare_cell(
    cell: pd.DataFrame,
    base: pd.DataFrame,
    match: list[str],
    cells: list[str],
    key: Any,
    metric: str,
    baseline: str,
) -> dict[str, Any]:
    duplicated = cell.duplicated(subset=match, keep=False)
    if duplicated.any():
        extra = [k for k in varying_keys(cell[duplicated]) if k not in match]
        hint = f"; they differ in {', '.join(extra)}: add it with --by" if extra else ""
        raise HfaError(
            f"paired comparison is ambiguous: several {cell['loss'].iloc[0]} runs share "
            f"{_describe(cell[duplicated].iloc[0], match)}{hint}"
        )
    paired = cell[[*match, metric]].merge(base[[*match, metric]], on=match, suffixes=("", "_base"))
    diffs = (paired[metric] - paired[f"{metric}_base"]).dropna().to_numpy()
    values = key if isinstance(key, tuple) else (key,)
    return {
        **dict(zip(cells, values, strict=True)),
        "metric": metric,
        "baseline": baseline,
        "mean_diff": float(diffs.mean()) if diffs.size else math.nan,
        "pairs": int(diffs.size),
        "p_value": wilcoxon_p(diffs),
    }


def _describe(row: pd.Series, keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={format_value(row[k])}" for k in keys)


# ----------------------------------------------------------------------------------------------------------
# Text renderings


def summary_layout(summary: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split a :func:`summarize` table into its key columns and its metric names."""
    columns = list(summary.columns)
    metrics = [c[: -len("_mean")] for c in columns if c.endswith("_mean") and f"{c[:-5]}_std" in columns]
    stats = {"n", *(f"{m}_mean" for m in metrics), *(f"{m}_std" for m in metrics)}
    return [c for c in columns if c not in stats], metrics


def format_value(value: Any) -> str:
    """A key value as a reader wants it: ``10`` not ``10.0``, ``null`` for missing."""
    if _missing(value):
        return "null"
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def format_number(value: Any, digits: int = DIGITS) -> str:
    return "" if _missing(value) else f"{float(value):.{digits}f}"


def format_cell(mean: float, std: float, n: int | None = None, digits: int = DIGITS) -> str:
    """``0.812 ± 0.031`` (plus `` (n=3)`` when n is given); the ± part is left out when std is undefined."""
    if _missing(mean):
        text = "–"
    elif _missing(std):
        text = format_number(mean, digits)
    else:
        text = f"{format_number(mean, digits)} ± {format_number(std, digits)}"
    return text if n is None else f"{text} (n={n})"


def format_p(value: float) -> str:
    if _missing(value):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def format_signed(value: float, digits: int = DIGITS) -> str:
    return "–" if _missing(value) else f"{value:+.{digits}f}"


def format_summary(summary: pd.DataFrame, fmt: str) -> str:
    """Render a :func:`summarize` table as ``markdown``, ``csv`` or ``latex`` text (ending in a newline).

    markdown: a pipe table, cells ``0.812 ± 0.031 (n=3)``. csv: the flat columns with full precision
    (``<metric>_mean``, ``<metric>_std``, ``n``), for further processing. latex: a booktabs ``tabular``
    with cells ``0.812 $\\pm$ 0.031`` and an ``n`` column (needs ``\\usepackage{booktabs}``).
    """
    if fmt == "csv":
        return summary.to_csv(index=False)
    keys, metrics = summary_layout(summary)
    header = [*keys, *metrics]
    if fmt == "markdown":
        cells = [
            [*(format_value(row[k]) for k in keys)]
            + [format_cell(row[f"{m}_mean"], row[f"{m}_std"], int(row["n"])) for m in metrics]
            for _, row in summary.iterrows()
        ]
        return markdown_table(header, cells, right=len(metrics))
    if fmt == "latex":
        cells = [
            [*(format_value(row[k]) for k in keys)]
            + [format_cell(row[f"{m}_mean"], row[f"{m}_std"]) for m in metrics]
            + [str(int(row["n"]))]
            for _, row in summary.iterrows()
        ]
        return latex_table([*header, "n"], cells, right=len(metrics) + 1)
    raise HfaError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")


def comparison_rows(paired: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and text cells of a :func:`paired_comparison` table (loss, keys, Δ metric, pairs, p-value)."""
    keys = list(paired.columns[: list(paired.columns).index("metric")])
    metric = str(paired["metric"].iloc[0]) if not paired.empty else "metric"
    header = [*keys, f"Δ {metric}", "pairs", "p-value"]
    cells = [
        [*(format_value(row[k]) for k in keys), format_signed(row["mean_diff"]), str(row["pairs"])]
        + [format_p(row["p_value"])]
        for _, row in paired.iterrows()
    ]
    return header, cells


def format_comparison(paired: pd.DataFrame, fmt: str) -> str:
    """Render a :func:`paired_comparison` table as ``markdown``, ``csv`` or ``latex`` text."""
    if fmt == "csv":
        return paired.to_csv(index=False)
    header, cells = comparison_rows(paired)
    if fmt == "markdown":
        return markdown_table(header, cells, right=3)
    if fmt == "latex":
        return latex_table(header, cells, right=3)
    raise HfaError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0) -> str:
    """A GitHub pipe table; the last ``right`` columns are right-aligned (numbers)."""
    align = ["---"] * (len(header) - right) + ["---:"] * right
    lines = [_pipe_row(header), _pipe_row(align), *(_pipe_row(r) for r in rows)]
    return "\n".join(lines) + "\n"


def latex_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0) -> str:
    """A booktabs ``tabular`` of plain-text cells, every one escaped; the last ``right`` columns right-aligned."""
    spec = "l" * (len(header) - right) + "r" * right
    lines = [
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(map(latex_escape, header)) + r" \\",
        "\\midrule",
        *(" & ".join(map(latex_escape, r)) + r" \\" for r in rows),
        "\\bottomrule",
        "\\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # Text-mode LaTeX has no glyph for these (``<`` even prints as an inverted exclamation mark in OT1).
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "−": r"$-$",
    "<": r"$<$",
    ">": r"$>$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def _pipe_row(cells: Sequence[str]) -> str:
    # A literal pipe inside a cell would split it; markdown's escape keeps it one cell.
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and arrays are values, not missing markers
        return False
