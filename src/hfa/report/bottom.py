"""The bottom line a report opens with: per data set, which method to use and how sure that is.

Per block (a data set; and its ratio or label where those are row keys) and threshold rule:

- **the choice** is the method with the best mean *validation* score (a method is a row's keys besides the block:
  the loss in a plain sweep, the method name of ``hfa tune``'s final runs). The test split plays no part in it.
- **its test estimate**: the mean test score over its runs (seeds x folds) with a 95% percentile bootstrap interval.
- **the methods not distinguishable from it**: each other method's test scores are paired with the choice's on
  the replicate (seed, and fold under k-fold) and tested with the two-sided Wilcoxon signed-rank test
  (``stats.wilcoxon_test``); the block's p-values are Holm-corrected together. A method is not distinguishable
  when its Holm p is at least 0.05 or undefined.

When no method can be told apart it says why: with ``n`` pairs and ``m`` comparisons the smallest Holm p a
Wilcoxon test can reach is ``m * 2 / 2**n``; at or above 0.05 no difference could have been shown.
Across blocks, methods are ranked by their test means (Friedman, Nemenyi's critical difference: ``stats.ranking``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hfa.errors import HfaError
from hfa.report.collect import DATA_KEY, LABEL_KEY, RATIO_KEY, REPLICATE_KEYS, select_rows
from hfa.report.stats import ALPHA, Ranking, bootstrap_ci, holm, ranking, smallest_p, wilcoxon_test

BLOCK_KEYS = (DATA_KEY, RATIO_KEY, LABEL_KEY)
TEST = "two-sided Wilcoxon signed-rank test on the paired test scores (pairs: same seed and fold), Holm-corrected"


@dataclass
class Line:
    """One block's bottom line under one rule."""

    block: tuple
    rule: str
    best: str
    best_val: float
    test_mean: float
    ci_low: float
    ci_high: float
    n: int
    others: pd.DataFrame  # method, val, test, n (pairs), delta (best - other), p, p_holm, tied
    setting: dict[str, object] = field(default_factory=dict)  # the choice's values of the keys that vary elsewhere
    why: str = ""  # when no method can be told apart from the choice: why


@dataclass
class BottomLine:
    metric: str
    block_keys: list[str]
    method_keys: list[str]
    lines: list[Line] = field(default_factory=list)
    rankings: list[Ranking] = field(default_factory=list)


def method_label(row: pd.Series, keys: Sequence[str]) -> str:
    if len(keys) == 1:
        return str(row[keys[0]])
    return ", ".join(f"{k}={row[k]}" for k in keys)


def bottom_line(table: pd.DataFrame, keys: Sequence[str], rules: Sequence[str], metric: str) -> BottomLine | None:
    """The bottom line of ``table`` (results rows) with row ``keys``, or None where there is nothing to choose
    from (one method) or no validation rows."""
    block_keys = [k for k in keys if k in BLOCK_KEYS]
    method_keys = [k for k in keys if k not in BLOCK_KEYS]
    if not method_keys:
        return None
    out = BottomLine(metric, block_keys, method_keys)
    from hfa.results import config_columns, run_table, varying_keys

    runs = run_table(table[table["status"] == "ok"])
    settings = [
        k
        for k in varying_keys(runs)
        if k in config_columns(table)
        and k not in (*keys, *REPLICATE_KEYS)
        and runs[k].dropna().astype(str).nunique() > 1
    ]
    for rule in rules:
        try:
            val, test = select_rows(table, "val", rule), select_rows(table, "test", rule)
        except HfaError:
            continue
        val, test = _labelled(val, method_keys), _labelled(test, method_keys)
        if val["_method"].nunique() < 2:
            return None
        blocks = val.groupby(block_keys, dropna=False, sort=False) if block_keys else [((), val)]
        scores: dict[tuple, dict[str, float]] = {}
        for block, rows in blocks:
            block = block if isinstance(block, tuple) else (block,)
            mask = _in_block(test, block_keys, block)
            line = _line(rows, test[mask], block, rule, metric)
            if line is not None:
                line.setting = _setting(rows[rows["_method"] == line.best], settings)
                out.lines.append(line)
                scores[block] = test[mask].groupby("_method")[metric].mean().to_dict()
        frame = pd.DataFrame.from_dict(scores, orient="index")
        if frame.dropna().shape[0] >= 2 and frame.shape[1] >= 2:
            out.rankings.append(ranking(frame, metric, rule))
    return out if out.lines else None


def _labelled(rows: pd.DataFrame, method_keys: Sequence[str]) -> pd.DataFrame:
    if len(method_keys) == 1:
        return rows.assign(_method=rows[method_keys[0]].astype(object).map(str))
    # object, then str: a missing value (a key some runs lack) becomes the text 'nan'/'None', never a float.
    parts = [key + "=" + rows[key].astype(object).map(str) for key in method_keys]
    return rows.assign(_method=[", ".join(values) for values in zip(*parts, strict=True)])


def _setting(rows: pd.DataFrame, settings: Sequence[str]) -> dict[str, object]:
    """The values the choice's runs share of the keys that vary across the table (its tuned setting)."""
    out: dict[str, object] = {}
    for key in settings:
        values = rows[key].dropna().astype(str).unique()
        if len(values) == 1:
            out[key] = rows[key].dropna().iloc[0]
    return out


def _in_block(rows: pd.DataFrame, block_keys: Sequence[str], block: tuple) -> np.ndarray:
    mask = np.ones(len(rows), dtype=bool)
    for key, value in zip(block_keys, block, strict=True):
        column = rows[key]
        mask &= column.isna().to_numpy() if pd.isna(value) else (column == value).to_numpy()
    return mask


def _line(val: pd.DataFrame, test: pd.DataFrame, block: tuple, rule: str, metric: str) -> Line | None:
    val_means = val.groupby("_method", sort=True)[metric].mean().dropna()
    if val_means.empty:
        return None
    best = str(val_means.idxmax())  # the first of equal bests, in name order
    match = [k for k in REPLICATE_KEYS if k in test.columns]
    mine = test[test["_method"] == best]
    low, high = bootstrap_ci(mine[metric].to_numpy(dtype=float))
    records = []
    for other in val_means.index:
        if other == best:
            continue
        theirs = test[test["_method"] == other]
        paired = mine[[*match, metric]].merge(theirs[[*match, metric]], on=match, suffixes=("", "_other"))
        paired = paired.dropna(subset=[metric, f"{metric}_other"])
        d = (paired[metric] - paired[f"{metric}_other"]).to_numpy()
        records.append(
            {
                "method": other,
                "val": float(val_means[other]),
                "test": float(theirs[metric].mean()),
                "n": int(d.size),
                "delta": float(d.mean()) if d.size else math.nan,
                "p": wilcoxon_test(d).p,
            }
        )
    others = pd.DataFrame(records, columns=["method", "val", "test", "n", "delta", "p"])
    others["p_holm"] = holm(others["p"].to_numpy(dtype=float)) if len(others) else []
    others["tied"] = ~(others["p_holm"] < ALPHA)
    others = others.sort_values("val", ascending=False, kind="stable").reset_index(drop=True)
    line = Line(
        block,
        rule,
        best,
        float(val_means[best]),
        float(mine[metric].mean()),
        low,
        high,
        int(mine[metric].count()),
        others,
    )
    if len(others) and bool(others["tied"].all()):
        line.why = _why(others)
    return line


def _why(others: pd.DataFrame) -> str:
    m, n = len(others), int(others["n"].min())
    floor = min(1.0, m * smallest_p(n)) if n else math.nan
    if n < 2 or math.isnan(floor) or floor >= ALPHA:
        return (
            f"nothing can be told apart: with {n} paired runs and {m} comparisons the smallest Holm p a Wilcoxon "
            f"test can reach is {floor:.3g} (>= {ALPHA}); more seeds or folds are needed"
        )
    best_p = float(np.nanmin(others["p_holm"])) if others["p_holm"].notna().any() else math.nan
    return f"nothing can be told apart: every difference is within the run-to-run spread (smallest Holm p {best_p:.3g})"
