"""A ``Report`` as text: one formatting path for every output format.

Every format is made from the same ``Section`` cells (or, for CSV, the same numbers in one long table), so
table, markdown, LaTeX and CSV carry the same numbers, tests and ratio labels. Numbers are printed with
``DIGITS`` decimals and never as ``-0.000``; an undefined value is ``undef`` (NaN in CSV).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hfa.errors import HfaError
from hfa.report.build import Report
from hfa.report.collect import AGGREGATE_LABELS, DATA_KEY, LABEL_KEY, LOSS_KEY, RATIO_KEY
from hfa.report.stats import (
    BOOTSTRAP_RESAMPLES,
    EXACT_MAX_N,
    PERMUTATION_MAX_N,
    Ranking,
    smallest_p,
)

FORMATS = ("markdown", "csv", "latex")
DIGITS = 3
UNDEFINED = "undef"
ALPHA = 0.05
# Fewer pairs than this: no interval is printed and p is flagged. A percentile bootstrap of 2-4 differences can
# only return a few of their means (its "95%" covers far less), and Wilcoxon's p cannot go below 2/2^n = 0.125.
MIN_PAIRS = 5
WITHHELD = "withheld"
FEW_PAIRS = "†"
# Column titles that keep a table inside 80 columns.
HEADERS = {
    DATA_KEY: "data set",
    RATIO_KEY: "ratio",
    LOSS_KEY: "loss",
    "balanced_accuracy": "bal_acc",
    "average_precision": "avg_prec",
}


@dataclass
class Section:
    """One titled table: text cells, how many trailing columns are numbers, and notes printed beneath it."""

    title: str
    header: list[str]
    rows: list[list[str]]
    numeric: int = 0
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------------
# Cells


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_number(value: Any, digits: int = DIGITS) -> str:
    """``0.812``; ``undef`` for NaN; a value that rounds to zero is ``0.000``, never ``-0.000``."""
    if _missing(value):
        return UNDEFINED
    text = f"{float(value):.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text


def format_signed(value: Any, digits: int = DIGITS) -> str:
    """``+0.123`` / ``-0.045``; ``0.000`` for a value that rounds to zero (no sign a reader would take as real)."""
    if _missing(value):
        return UNDEFINED
    text = f"{float(value):+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def format_p(value: Any) -> str:
    if _missing(value):
        return UNDEFINED
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def p_equals(value: Any) -> str:
    """``p = 0.059`` or ``p < 0.001``, for running text."""
    text = format_p(value)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def format_mean_std(mean: Any, std: Any, defined: int, n: int) -> str:
    """``0.812±0.031``; ``*`` marks a mean over fewer runs than ``n``, the runs of the table's fullest cells."""
    if _missing(mean):
        return UNDEFINED
    text = format_number(mean) if _missing(std) else f"{format_number(mean)}±{format_number(std)}"
    return text + ("*" if defined < n else "")


def format_ratio(value: Any, natural: float | None = None) -> str:
    """An imbalance ratio as every format prints it: ``20``, ``2.5``; ``natural`` (or ``natural 27.8``) for ``null``."""
    if _missing(value):
        return "natural" if natural is None else f"natural {natural:.3g}"
    return f"{float(value):g}"


def format_key(key: str, value: Any, natural: float | None = None) -> str:
    """A key value as a reader wants it: ``10`` not ``10.0``, a natural ratio by its value, ``-`` for missing."""
    if key == RATIO_KEY:
        return format_ratio(value, natural)
    if _missing(value):
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def header(key: str) -> str:
    return HEADERS.get(key, key.rpartition(".")[2])


# ----------------------------------------------------------------------------------------------------------
# Sections


def _groups(report: Report, frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(data set, its rows) in table order; one group named after all data sets when the data set is pooled."""
    if DATA_KEY not in report.keys or DATA_KEY not in frame.columns:
        return [("all data sets", frame)]
    names = list(dict.fromkeys(frame[DATA_KEY]))
    return [(str(name), frame[frame[DATA_KEY] == name]) for name in names]


def _key_cells(report: Report, row: pd.Series, keys: Sequence[str]) -> list[str]:
    # A natural ratio's value is in the data set's title (one per data set), which keeps the cell short.
    return [format_key(k, row[k]) for k in keys]


def sections(report: Report) -> list[Section]:
    """Every table of the report in reading order: per data set the rules side by side, then the tests."""
    shown_keys = [k for k in report.keys if k != DATA_KEY]
    out: list[Section] = []
    if report.bottom is not None:  # first: what to use, per data set
        from hfa.report.bottom_text import bottom_sections

        out += bottom_sections(report.bottom, report.thresholds)
    first = report.summaries[report.rules[0]]
    for data, _ in _groups(report, first):
        for rule in report.rules:
            summary = report.summaries[rule]
            rows = summary if DATA_KEY not in report.keys else summary[summary[DATA_KEY].astype(str) == data]
            out.append(_summary_section(report, data, rule, rows, shown_keys))
        for metric, paired in report.comparisons.items():
            rows = paired if DATA_KEY not in report.keys else paired[paired[DATA_KEY].astype(str) == data]
            if len(rows):
                out.append(_comparison_section(report, data, metric, rows, shown_keys, len(paired)))
    out.extend(_ranking_section(report, r) for r in report.rankings)
    return out


def data_title(report: Report, data: str) -> str:
    """The data set with what its rows leave out: ``synthetic (ratio 10)``, ``keel/yeast4 (natural ratio 28.1)``."""
    natural = report.natural_ratios.get(data)
    ratios = report.ratios.get(data, [])
    fixed = [format_ratio(r) for r in ratios if r is not None]
    parts = [f"ratio {', '.join(fixed)}"] if fixed else []
    shows_natural = None in ratios or (RATIO_KEY in report.keys and _has_natural(report, data))
    if LABEL_KEY in report.keys and natural is None:
        # Multi-label data has a ratio per label (run.json lists them), not one natural ratio.
        labels = _labels(report, data)
        parts.append(f"{len(labels)} label{'' if len(labels) == 1 else 's'}" if labels else "averages over labels")
    elif shows_natural:
        parts.append("natural ratio " + (f"{natural:.3g}" if natural is not None else "unknown"))
    return f"{data} ({', '.join(parts)})" if parts else data


def _labels(report: Report, data: str) -> list[str]:
    summary = report.summaries[report.rules[0]]
    rows = summary[summary[DATA_KEY].astype(str) == data] if DATA_KEY in summary.columns else summary
    return [str(v) for v in dict.fromkeys(rows[LABEL_KEY].dropna()) if v not in AGGREGATE_LABELS]


def _has_natural(report: Report, data: str) -> bool:
    summary = report.summaries[report.rules[0]]
    rows = summary[summary[DATA_KEY].astype(str) == data] if DATA_KEY in summary.columns else summary
    return bool(rows[RATIO_KEY].isna().any())


def fullest(summary: pd.DataFrame) -> int:
    """The most runs any cell of a summary rests on: a cell with fewer defined runs is marked against it."""
    return int(summary["n"].max()) if len(summary) else 0


def _summary_section(report: Report, data: str, rule: str, rows: pd.DataFrame, keys: list[str]) -> Section:
    with_collapsed = bool((rows["collapsed"] > 0).any())
    head = [*map(header, keys), *map(header, report.metrics), "runs", *(["coll."] if with_collapsed else [])]
    cells = []
    full = fullest(rows)
    for _, row in rows.iterrows():
        values = [format_mean_std(row[f"{m}_mean"], row[f"{m}_std"], int(row[f"{m}_n"]), full) for m in report.metrics]
        extra = [str(int(row["collapsed"]))] if with_collapsed else []
        cells.append([*_key_cells(report, row, keys), *values, str(int(row["n"])), *extra])
    notes = []
    if any(int(row[f"{m}_n"]) < full for _, row in rows.iterrows() for m in report.metrics):
        notes.append(
            f"* mean over fewer runs than the table's fullest cells ({full}): a row with fewer runs, or runs where "
            "the metric is undefined (not 0): no predicted positives (precision), or an empty row or column of "
            "the confusion matrix"
        )
    if with_collapsed:
        what = "runs whose label" if LABEL_KEY in report.keys else "runs that"
        notes.append(f"coll. = {what} predicted one class for every test row at this rule (a collapsed model)")
    title = (
        f"{data_title(report, data)} · {report.split} split · {report.thresholds.get(rule, rule)} · mean±std over "
        + (f"{replicates(report)} and {pooled_words(report)}" if report.pooled else replicates(report))
    )
    return Section(title, head, cells, numeric=len(head) - len(keys), notes=notes)


def replicates(report: Report) -> str:
    """What a row's runs are replicates of: seeds, and under k-fold folds (the keys runs are paired on)."""
    return "seeds and folds" if report.folds else "seeds"


def pooled_words(report: Report) -> str:
    """What a ``--by`` report's rows average over besides the seed, for the titles of the tables it changes."""
    return f"pooled {', '.join(map(header, report.pooled))} (--by)"


def withheld(n_pairs: Any) -> bool:
    """Too few pairs for an interval: it is withheld and the test flagged (see ``MIN_PAIRS``)."""
    return int(n_pairs) < MIN_PAIRS


def _comparison_section(
    report: Report, data: str, metric: str, rows: pd.DataFrame, keys: list[str], tests: int
) -> Section:
    keys = [k for k in keys if k != LOSS_KEY]
    head = [header(LOSS_KEY), *map(header, keys), "rule", f"vs {report.baseline}", "Δ", "95% CI", "p", "Holm", "n"]
    cells = []
    for _, row in rows.iterrows():
        ci = f"[{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"
        flag = FEW_PAIRS if withheld(row["n"]) and not _missing(row["p"]) else ""
        if withheld(row["n"]):
            ci = WITHHELD
        elif _missing(row["ci_low"]):
            ci = UNDEFINED
        cells.append(
            [
                str(row[LOSS_KEY]),
                *_key_cells(report, row, keys),
                str(row["rule"]),
                str(row["baseline_rule"]),
                format_signed(row["delta"]),
                ci,
                format_p(row["p"]) + flag,
                format_p(row["p_holm"]) + flag,
                str(int(row["n"])),
            ]
        )
    title = (
        f"{data_title(report, data)} · {report.split} split · Δ {metric} = loss − {report.baseline}, paired on "
        f"{', '.join(report.match) or 'seed'}" + (f" · {pooled_words(report)}" if report.pooled else "")
    )
    notes = _test_notes(rows, tests)
    extra_rules = dict.fromkeys(r for r in (*rows["rule"], *rows["baseline_rule"]) if r not in ("fixed", "tuned"))
    notes += [report.thresholds.get(str(rule), str(rule)) for rule in extra_rules]
    return Section(title, head, cells, numeric=5, notes=notes)


def _test_notes(rows: pd.DataFrame, tests: int) -> list[str]:
    notes = [
        f"n: pairs; Δ: mean paired difference; 95% CI: percentile bootstrap ({BOOTSTRAP_RESAMPLES} resamples, seeded); "
        f"p: two-sided Wilcoxon signed-rank (zeros dropped; exact without ties and n <= {EXACT_MAX_N}, all sign "
        f"flips with ties and n <= {PERMUTATION_MAX_N}, else normal approximation); Holm: corrected over all "
        f"{tests} tests of this metric"
    ]
    if any(withheld(n) for n in rows["n"]):
        notes.append(
            f"{WITHHELD} / {FEW_PAIRS}: fewer than {MIN_PAIRS} pairs; no interval is given and the test is flagged "
            "(a bootstrap over so few differences covers far less than 95%)"
        )
    small = sorted({int(n) for n in rows["n"] if 0 < smallest_p(int(n)) >= ALPHA or int(n) < 2})
    if small:
        notes.append(
            f"n = {', '.join(map(str, small))}: too few pairs for p < 0.05 (the smallest two-sided Wilcoxon p with "
            f"n pairs is 2/2^n, {format_p(smallest_p(max(small)))} for n = {max(small)}); add seeds"
        )
    if tests > 1:
        needed = ALPHA / tests
        reach = [int(n) for n in rows["n"] if smallest_p(int(n)) < needed]
        if len(reach) < len(rows):
            notes.append(
                f"with Holm over {tests} tests the smallest p must be below {needed:.2g} to reach 0.05 after correction"
            )
    return notes


def block_words(report: Report) -> str:
    """What a ranking's blocks are, in words: the row keys that are not the method's (``data set``, ``ratio``)."""
    return ", ".join(header(k) for k in report.keys if k not in (LOSS_KEY, method_column(report)))


def _ranking_section(report: Report, r: Ranking) -> Section:
    method = method_column(report)
    blocks = block_words(report)
    title = (
        f"Ranking over {r.blocks} blocks ({blocks}) · {report.split} split · {report.thresholds.get(r.rule, r.rule)}"
    )
    cells = []
    for loss, rank in r.mean_rank.items():
        cells.append([str(loss), format_number(rank, 2), format_number(r.scores[loss].mean()), str(r.blocks)])
    notes = [
        f"mean rank of {r.metric} (1 = best; ties share the mean rank) over blocks, each the mean over "
        f"{replicates(report)}"
    ]
    if math.isnan(r.friedman_p):
        notes.append("Friedman test: needs at least 3 losses")
    else:
        notes.append(
            f"Friedman χ² = {format_number(r.friedman_stat)}, {p_equals(r.friedman_p)}; "
            f"Nemenyi critical difference (α = 0.05) = {format_number(r.critical_difference, 2)} ranks"
        )
    return Section(title, [header(method), "mean rank", f"mean {r.metric}", "blocks"], cells, numeric=3, notes=notes)


def report_notes(report: Report) -> list[str]:
    """Notes about the whole report (pooling), printed once."""
    notes = []
    if report.pooled:
        notes.append(
            f"rows average over runs that differ in {', '.join(report.pooled)} (chosen with --by); "
            "leave --by out to separate them"
        )
    if "ece" in report.metrics:
        notes.append("ece: expected calibration error over 10 equal-width probability bins")
    if report.methods:
        notes.append(
            "loss: the method (model × loss × resampling of the training split): an MLP by its loss, another model "
            "by its name (logistic, gbdt; + its loss unless bce), + the resampler (random_over, random_under, smote); "
            "`hfa methods` lists them"
        )
    return notes


# ----------------------------------------------------------------------------------------------------------
# Renderings


def render(report: Report, fmt: str) -> str:
    """The report as ``markdown``, ``latex`` or ``csv`` text (ending in a newline)."""
    if fmt == "csv":
        return long_table(report).to_csv(index=False)
    if fmt == "markdown":
        parts = [_markdown_section(s) for s in sections(report)]
        notes = report_notes(report)
        return "\n".join(parts) + ("\n" + "\n".join(f"> {n}" for n in notes) + "\n" if notes else "")
    if fmt == "latex":
        return "\n".join(_latex_section(s) for s in sections(report))
    raise HfaError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")


def _markdown_section(section: Section) -> str:
    align = ["---"] * (len(section.header) - section.numeric) + ["---:"] * section.numeric
    lines = [f"**{section.title}**", "", _pipe_row(section.header), _pipe_row(align)]
    lines += [_pipe_row(r) for r in section.rows]
    lines += ["", *(f"> {n}" for n in section.notes)] if section.notes else []
    return "\n".join(lines) + "\n"


def _pipe_row(cells: Sequence[str]) -> str:
    # A literal pipe inside a cell would split it; markdown's escape keeps it one cell.
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _latex_section(section: Section) -> str:
    spec = "l" * (len(section.header) - section.numeric) + "r" * section.numeric
    lines = [
        f"% {latex_escape(section.title)}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(map(latex_escape, section.header)) + r" \\",
        "\\midrule",
        *(" & ".join(map(latex_escape, r)) + r" \\" for r in section.rows),
        "\\bottomrule",
        "\\end{tabular}",
        *(f"% {latex_escape(n)}" for n in section.notes),
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
    "τ": r"$\tau$",
    "χ": r"$\chi$",
    "²": r"$^2$",
    "α": r"$\alpha$",
    "·": r"$\cdot$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


# ----------------------------------------------------------------------------------------------------------
# CSV: one long table


LONG_COLUMNS = [
    "table",
    "rule",
    "metric",
    "mean",
    "std",
    "n_runs",
    "n_defined",
    "n_pairs",
    "n_blocks",
    "collapsed",
    "baseline",
    "baseline_rule",
    "delta",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "method",
    "mean_rank",
    "friedman_p",
    "critical_difference",
    "val_mean",
    "tied",
    "pooled",
]


def long_table(report: Report) -> pd.DataFrame:
    """Every number of the report, one row per (table, row keys, rule, metric): ``table`` is ``summary``,
    ``paired``, ``ranking``, or the bottom line's ``bottom`` and ``bottom_vs`` (``_bottom_records``). Key values
    are printed as in the other formats (a natural ratio is ``natural``, its value in ``natural_ratio``, as the
    other formats' titles give it); numbers keep full precision.

    Each count has its own column: ``n_runs`` (a summary row's runs) and ``n_defined`` (those where the metric is
    defined), ``n_pairs`` (a paired test's pairs; its interval is left empty below ``MIN_PAIRS``), ``n_blocks``
    (a ranking's blocks). ``pooled`` names what a ``--by`` report's rows average over besides the seed."""
    records: list[dict[str, Any]] = []
    pooled = ", ".join(report.pooled)
    for rule, summary in report.summaries.items():
        for _, row in summary.iterrows():
            for metric in report.metrics:
                records.append(
                    {
                        **_key_record(report, row),
                        "table": "summary",
                        "rule": rule,
                        "metric": metric,
                        "mean": row[f"{metric}_mean"],
                        "std": row[f"{metric}_std"],
                        "n_runs": int(row["n"]),
                        "n_defined": int(row[f"{metric}_n"]),
                        "collapsed": int(row["collapsed"]),
                        "pooled": pooled,
                    }
                )
    for paired in report.comparisons.values():
        for _, row in paired.iterrows():
            record = {**_key_record(report, row), "table": "paired"}
            record.update({c: row[c] for c in ("rule", "metric", "mean", "baseline", "baseline_rule")})
            record.update({c: row[c] for c in ("delta", "ci_low", "ci_high", "p", "p_holm", "method")})
            record.update(n_pairs=int(row["n"]), pooled=pooled)
            if withheld(row["n"]):
                record.update(ci_low=math.nan, ci_high=math.nan)
            records.append(record)
    method = method_column(report)
    records += _bottom_records(report, method)
    for r in report.rankings:
        for loss, rank in r.mean_rank.items():
            records.append(
                {
                    method: loss,
                    "table": "ranking",
                    "rule": r.rule,
                    "metric": r.metric,
                    "mean": float(r.scores[loss].mean()),
                    "n_blocks": r.blocks,
                    "mean_rank": rank,
                    "friedman_p": r.friedman_p,
                    "critical_difference": r.critical_difference,
                }
            )
    naturals = ["natural_ratio"] if any("natural_ratio" in r for r in records) else []
    keys = list(dict.fromkeys([*report.keys, *([method] if records and method not in report.keys else [])]))
    frame = pd.DataFrame.from_records(records, columns=["table", *keys, *naturals, *LONG_COLUMNS[1:]])
    text = ("table", "rule", "metric", "baseline", "baseline_rule", "method", "tied", "pooled")
    numeric = [c for c in LONG_COLUMNS if c not in text]
    # -0.0 would print as "-0.0"; a zero has no sign.
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce").mask(lambda f: f == 0, 0.0)
    for column in ("n_runs", "n_defined", "n_pairs", "n_blocks", "collapsed"):
        frame[column] = frame[column].astype("Int64")
    return frame


def method_column(report: Report) -> str:
    """The column that names a method: the bottom line's one method key (``name`` in a tune study's report), or
    ``loss``, as the rankings label their rows."""
    keys = report.bottom.method_keys if report.bottom is not None else []
    return keys[0] if len(keys) == 1 else LOSS_KEY


def _bottom_records(report: Report, method: str) -> list[dict[str, Any]]:
    """The bottom line's rows: ``bottom`` for each block's choice (its validation and test means, the interval and
    runs), ``bottom_vs`` for every other method against it (``baseline`` is the choice; ``delta`` is the choice's
    test score less the method's, paired on the replicate; ``tied``: not distinguishable after Holm)."""
    if report.bottom is None:
        return []
    records: list[dict[str, Any]] = []
    for line in report.bottom.lines:
        block = _key_record(report, pd.Series(dict(zip(report.bottom.block_keys, line.block, strict=True))))
        common = {**block, "rule": line.rule, "metric": report.bottom.metric}
        records.append(
            {
                **common,
                method: line.best,
                "table": "bottom",
                "val_mean": line.best_val,
                "mean": line.test_mean,
                "ci_low": line.ci_low,
                "ci_high": line.ci_high,
                "n_runs": line.n,
            }
        )
        for other in line.others.itertuples(index=False):
            records.append(
                {
                    **common,
                    method: other.method,
                    "table": "bottom_vs",
                    "baseline": line.best,
                    "val_mean": other.val,
                    "mean": other.test,
                    "n_pairs": other.n,
                    "delta": other.delta,
                    "p": other.p,
                    "p_holm": other.p_holm,
                    "tied": bool(other.tied),
                }
            )
    return records


def _key_record(report: Report, row: pd.Series) -> dict[str, str]:
    record = {k: format_key(k, row[k]) for k in report.keys if k in row.index}
    data = str(row.get(DATA_KEY))
    # The titles of the other formats name a natural ratio's value; here each row carries it.
    natural = _missing(row[RATIO_KEY]) if RATIO_KEY in row.index else None in report.ratios.get(data, [])
    if natural and data in report.natural_ratios:
        record["natural_ratio"] = report.natural_ratios[data]
    return record
