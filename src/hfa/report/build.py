"""Runs -> a ``Report``: summaries per threshold rule, paired comparisons with the baseline, ranks across blocks.

The default report is the one a reviewer asks for: every row one combination of the settings that vary
(never pooled), the fixed and the validation-tuned rule side by side, and each loss compared with BCE under the
same rule and with BCE plus a tuned threshold (the honest post-hoc baseline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from hfa.errors import HfaError
from hfa.metrics import fbeta_of, tuned_rule_beta
from hfa.report.bottom import BottomLine, bottom_line
from hfa.report.collect import (
    AGGREGATE_LABELS,
    DATA_KEY,
    DEFAULT_RULES,
    FOLD_KEY,
    LABEL_KEY,
    LOSS_KEY,
    RATIO_KEY,
    Runs,
    check_columns,
    check_metrics,
    default_metrics,
    group_columns,
    has_methods,
    has_rule,
    label_order,
    match_keys,
    pooled_keys,
    row_keys,
    select_rows,
    with_label,
)
from hfa.report.stats import Ranking, paired_comparison, ranking, summarize

AUTO_BASELINE = "bce"
TUNED = "tuned"


@dataclass
class Report:
    """Everything a rendering needs; numbers only, no text."""

    split: str
    rules: list[str]
    keys: list[str]  # row keys, data set first when present
    metrics: list[str]
    summaries: dict[str, pd.DataFrame]  # rule -> summarize() frame
    comparisons: dict[str, pd.DataFrame] = field(default_factory=dict)  # tested metric -> paired_comparison()
    rankings: list[Ranking] = field(default_factory=list)
    baseline: str | None = None
    match: list[str] = field(default_factory=list)
    pooled: list[str] = field(default_factory=list)
    natural_ratios: dict[str, float] = field(default_factory=dict)  # data set -> negatives per positive
    thresholds: dict[str, str] = field(default_factory=dict)  # rule -> how its threshold was chosen
    ratios: dict[str, list[float | None]] = field(default_factory=dict)  # data set -> its ratios, when not a row key
    methods: bool = False  # some run is another model or a resampled training split: the loss column names methods
    folds: bool = False  # k-fold runs: a row's replicates are seeds x folds
    bottom: BottomLine | None = None  # the choice per data set on validation, its test estimate, its equals


def build_report(
    runs: Runs,
    split: str = "test",
    rules: Sequence[str] = DEFAULT_RULES,
    metrics: Sequence[str] | None = None,
    by: Sequence[str] | None = None,
    baseline: str | None = AUTO_BASELINE,
    explicit_baseline: bool = False,
    tests: Sequence[str] | None = None,
) -> Report:
    """The report of ``runs``. ``by=None`` makes the default row keys (``collect.row_keys``); multi-label runs
    always have the label among them.

    ``baseline=None`` leaves out the comparisons. The automatic baseline (``explicit_baseline=False``) is left
    out quietly when the runs have no such loss; an explicit one must be present. ``tests`` are the metrics
    compared with the baseline (default: the F-scores shown, else the first metric); each must be shown.
    """
    table = runs.table
    rules = list(dict.fromkeys(rules))
    metrics = list(dict.fromkeys(metrics or default_metrics(table)))
    check_metrics(table, metrics)
    keys = with_label(table, dict.fromkeys(by)) if by else row_keys(table)
    check_columns(keys, group_columns(table), "grouping key")
    if tests:
        tests = list(dict.fromkeys(tests))
        check_columns(tests, metrics, "tested metric (it must be among --metrics)")
    rows = {rule: select_rows(table, split, rule) for rule in rules}
    if TUNED not in rows and rules:
        # The honest baseline is BCE with a tuned threshold, whichever rule the table shows.
        rows[TUNED] = select_rows(table, split, TUNED)
    order = label_order(table)
    summaries = {rule: _sorted(summarize(rows[rule], keys, metrics), keys, baseline, order) for rule in rules}
    report = Report(
        split=split,
        rules=rules,
        keys=keys,
        metrics=metrics,
        summaries=summaries,
        pooled=pooled_keys(table, keys),
        natural_ratios=_natural_ratios(runs),
        thresholds=_threshold_rules(table),
        ratios={} if RATIO_KEY in keys else _ratios(rows[rules[0]]),
        methods=has_methods(table),
        folds=FOLD_KEY in table.columns and table[FOLD_KEY].nunique() > 1,
    )
    if split == "test":  # the bottom line chooses on validation and estimates on test
        report.bottom = bottom_line(table, keys, rules, (tests or _tested_metrics(metrics))[0])
        # Methods that are not losses (hfa tune's named methods) are ranked here, so the CD diagram shows them.
        report.rankings = list(report.bottom.rankings) if report.bottom is not None else []
    losses = set(table.loc[table["status"] == "ok", LOSS_KEY])
    if baseline is None or (baseline not in losses and not explicit_baseline):
        return report
    if baseline not in losses:
        raise HfaError(
            f"baseline loss {baseline!r} is not among the successful runs; losses present: "
            + ", ".join(sorted(map(str, losses)))
        )
    report.baseline = baseline
    report.match = match_keys(table, baseline)
    if LOSS_KEY not in keys:
        return report  # without the loss as a row key there is nothing to compare with the baseline
    tuned_for: dict[str, str] = {}
    for metric in tests or _tested_metrics(metrics):
        # The honest baseline of an F-beta: BCE tuned for that F-beta, where the runs have the rule
        # (eval.tune_betas); the tuned rule of both sides then means tuned for the metric tested.
        tuned = _tuned_rule_for(table, metric, split, rows)
        tuned_for[metric] = tuned
        shown = [tuned if rule == TUNED else rule for rule in rules]
        pairs = [(rule, rule) for rule in shown] + [(rule, tuned) for rule in shown if rule != tuned]
        paired = paired_comparison(rows, keys, report.match, metric, baseline, pairs)
        report.comparisons[metric] = _sorted(paired, keys, baseline, order, extra=["rule", "baseline_rule"])
    report.rankings = _rankings(rows, keys, report.comparisons, rules, tuned_for) or report.rankings
    return report


def _tuned_rule_for(table: pd.DataFrame, metric: str, split: str, rows: dict[str, pd.DataFrame]) -> str:
    """``tuned_f2`` for metric ``f2`` when the runs have that rule (loaded into ``rows``), else ``tuned``."""
    beta = fbeta_of(metric)
    rule = f"tuned_{metric}"
    if beta is None or beta == 1.0 or not has_rule(table, rule):
        return TUNED
    if rule not in rows:
        rows[rule] = select_rows(table, split, rule)
    return rule


def _tested_metrics(metrics: Sequence[str]) -> list[str]:
    """The F-scores shown (F1 and every trained F-beta), or the first metric when none is shown."""
    fscores = [m for m in metrics if fbeta_of(m) is not None]
    return fscores or list(metrics[:1])


def _rankings(
    rows: dict[str, pd.DataFrame],
    keys: list[str],
    comparisons: dict[str, pd.DataFrame],
    rules: Sequence[str],
    tuned_for: dict[str, str],
) -> list[Ranking]:
    """Mean ranks over blocks (every row key but the loss), one per tested metric and rule, where >= 2 blocks.

    A multi-label run's labels are blocks; its macro and micro rows are not (they average the label blocks).
    """
    blocks = [k for k in keys if k != LOSS_KEY]
    out: list[Ranking] = []
    if not blocks:
        return out
    for metric in comparisons:
        for rule in (tuned_for.get(metric, TUNED) if r == TUNED else r for r in rules):
            ranked = rows[rule]
            if LABEL_KEY in blocks:
                ranked = ranked[~ranked[LABEL_KEY].isin(AGGREGATE_LABELS)]
            cells = ranked.groupby([*blocks, LOSS_KEY], dropna=False)[metric].mean()
            scores = cells.unstack(LOSS_KEY)
            if scores.dropna().shape[0] >= 2 and scores.shape[1] >= 2:
                out.append(ranking(scores, metric, rule))
    return out


def _natural_ratios(runs: Runs) -> dict[str, float]:
    """Per data set, negatives per positive as it comes (from the runs' run.json)."""
    if DATA_KEY not in runs.table.columns or runs.infos.empty:
        return {}
    names = runs.table.drop_duplicates(["name", "run_id"]).set_index(["name", "run_id"])[DATA_KEY]
    infos = runs.infos.dropna(subset=["source_ratio"])
    ratios: dict[str, list[float]] = {}
    for info in infos.itertuples(index=False):
        data = names.get((info.name, info.run_id))
        if data is not None:
            ratios.setdefault(str(data), []).append(float(info.source_ratio))
    return {name: float(pd.Series(values).median()) for name, values in ratios.items()}


def _ratios(rows: pd.DataFrame) -> dict[str, list[float | None]]:
    if RATIO_KEY not in rows.columns or DATA_KEY not in rows.columns:
        return {}
    return {
        str(name): [None if pd.isna(v) else float(v) for v in sorted(set(group[RATIO_KEY]), key=lambda v: (v != v, v))]
        for name, group in rows.groupby(DATA_KEY, dropna=False)
    }


def _threshold_rules(table: pd.DataFrame) -> dict[str, str]:
    """How each rule's threshold was chosen, in words, from the runs' eval settings."""
    ok = table[table["status"] == "ok"]
    fixed = sorted(set(ok.loc[ok["rule"] == "fixed", "threshold"].dropna()))
    tuned_for = sorted(set(ok["eval.tune_metric"].dropna())) if "eval.tune_metric" in ok.columns else ["f1"]
    fixed_text = "τ = " + ", ".join(f"{t:g}" for t in fixed) if fixed else "eval.threshold"
    words = {
        "fixed": f"fixed rule ({fixed_text})",
        "tuned": f"tuned rule (τ maximising {'/'.join(map(str, tuned_for))} on validation)",
        "mean": "mean over τ = 0.1, 0.2, ..., 0.9",
    }
    for rule in dict.fromkeys(ok["rule"]):
        beta = tuned_rule_beta(str(rule))
        if beta is not None:
            words[str(rule)] = f"{rule} rule (τ maximising F{beta:g} on validation)"
    return words


def _sorted(
    frame: pd.DataFrame,
    keys: Sequence[str],
    baseline: str | None,
    labels: dict[str, int] | None = None,
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """Numbers numerically (a natural ratio last), the baseline loss first, labels in target order with the
    averages last, other text alphabetically."""
    order = [k for k in keys if k != LOSS_KEY] + [k for k in (LOSS_KEY,) if k in keys] + list(extra)
    if frame.empty:
        return frame.reset_index(drop=True)

    def key(column: pd.Series) -> pd.Series:
        if column.name == RATIO_KEY or (
            pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        ):
            return column
        text = column.map(lambda v: "" if v is None or v != v else str(v))
        if column.name == LOSS_KEY and baseline is not None:
            return text.map(lambda v: ("0" if v == baseline else "1") + v)
        if column.name == LABEL_KEY and labels:
            return text.map(lambda v: labels.get(v, len(labels)))
        if column.name == "baseline_rule":
            return text.map(lambda v: "1" if v.startswith(TUNED) else "0")
        if column.name == "rule":
            return text.map(lambda v: ("0" if v == "fixed" else "1" if v.startswith(TUNED) else "2") + v)
        return text

    return frame.sort_values(order, key=key, na_position="last", kind="stable").reset_index(drop=True)
