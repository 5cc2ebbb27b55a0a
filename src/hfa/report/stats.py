"""The statistics of a report, each from a maintained library (scipy, scikit-posthocs) or checked against one.

- Per row: mean, sample std (ddof=1) and n over the seeds; a metric undefined for a run (precision with no
  predicted positives) is left out of its mean and counted, never read as 0.
- Paired comparison of a loss with a baseline loss (under the same or another threshold rule): runs are paired
  on every key but the loss (``collect.match_keys``: the seed, the data set, the ratio, the learning rate...).
  Δ is the mean of the paired differences, with a 95% percentile bootstrap interval
  (``scipy.stats.bootstrap``, 9,999 resamples, seeded) and the two-sided Wilcoxon signed-rank p
  (``scipy.stats.wilcoxon``); p-values of one table are Holm-corrected together (:func:`holm`, equal bit for bit
  to ``statsmodels.stats.multitest.multipletests(method="holm")``).
- Across blocks (data sets, or data set x ratio cells): the mean rank of each loss, the Friedman test
  (``scipy.stats.friedmanchisquare``) and the Nemenyi post-hoc test (``scikit_posthocs``) with Demšar's
  critical difference.

Wilcoxon's p depends on how zeros, ties and the exact/approximate choice are handled, and scipy's defaults
changed between versions (FACTS.md), so every choice is passed explicitly: zero differences are dropped
(``zero_method="wilcox"``, Wilcoxon's own treatment); the exact null distribution of the remaining n is used
when no two |differences| tie and n <= 50; with ties and n <= 16 the exact conditional null, all 2**n sign
flips (``PermutationMethod``); otherwise the normal approximation with tie correction and no continuity
correction.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hfa.errors import HfaError
from hfa.metrics import collapsed

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 20240601
ALPHA = 0.05
EXACT_MAX_N = 50
WILCOXON_EXACT = "exact"
WILCOXON_APPROX = "normal approximation"
WILCOXON_PERMUTATION = "exact (all sign flips)"
PERMUTATION_MAX_N = 16


# ----------------------------------------------------------------------------------------------------------
# Per-row summaries


def summarize(rows: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per combination of ``keys``: ``<m>_mean``, ``<m>_std``, ``<m>_n`` (runs where m is defined),
    then ``n`` (runs) and ``collapsed`` (runs that predicted a single class at this rule)."""
    keys, metrics = list(dict.fromkeys(keys)), list(dict.fromkeys(metrics))
    work = rows.assign(_collapsed=collapsed(*(rows[c].to_numpy(dtype=float) for c in ("tp", "fp", "fn", "tn"))))
    grouped = work.groupby(keys, dropna=False, sort=False)
    stats: dict[str, pd.Series] = {}
    for metric in metrics:
        stats[f"{metric}_mean"] = grouped[metric].mean()
        stats[f"{metric}_std"] = grouped[metric].std(ddof=1)
        stats[f"{metric}_n"] = grouped[metric].count()
    stats["n"] = grouped.size()
    stats["collapsed"] = grouped["_collapsed"].sum().astype(int)
    return pd.DataFrame(stats).reset_index()


# ----------------------------------------------------------------------------------------------------------
# Paired tests


@dataclass(frozen=True)
class Wilcoxon:
    p: float
    method: str  # WILCOXON_EXACT or WILCOXON_APPROX; "" when undefined


def wilcoxon_test(differences: Sequence[float] | np.ndarray) -> Wilcoxon:
    """Two-sided Wilcoxon signed-rank test of paired differences, every version-dependent choice fixed.

    Zero differences are dropped; with fewer than 2 differences or none nonzero the test is undefined (NaN).
    See the module docstring for the exact/approximate rule.
    """
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    nonzero = d[d != 0]
    if nonzero.size == 0 or d.size < 2:
        return Wilcoxon(math.nan, "")
    from scipy.stats import PermutationMethod, wilcoxon

    n = nonzero.size
    ties = np.unique(np.abs(nonzero)).size < n
    if not ties and n <= EXACT_MAX_N:
        method, name = "exact", WILCOXON_EXACT
    elif n <= PERMUTATION_MAX_N:
        # Tied |differences|: every one of the 2**n sign patterns is enumerated, the exact conditional null. The
        # normal approximation would go below the smallest p the data allow (0.041 for 5 pairs; exact 0.0625).
        method, name = PermutationMethod(n_resamples=2**n), WILCOXON_PERMUTATION
    else:
        method, name = "approx", WILCOXON_APPROX
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that n is small for the approximation; the method is named
        result = wilcoxon(nonzero, zero_method="wilcox", correction=False, alternative="two-sided", method=method)
    return Wilcoxon(float(result.pvalue), name)


def smallest_p(n: int) -> float:
    """The smallest two-sided exact Wilcoxon p with ``n`` nonzero pairs: 2 / 2**n (all signs alike)."""
    # 2 ** (1 - n) in the float exponent: 2.0**n overflows from n = 1,024; past n = 1,075 the p is 0.0.
    return min(1.0, math.ldexp(1.0, 1 - n)) if n > 0 else math.nan


def bootstrap_ci(differences: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean difference; NaN with fewer than 2 differences.

    Percentile rather than BCa: BCa's jackknife is undefined when every difference is equal, which a handful of
    seeds of a collapsed loss produces, and its advantage is small next to the seed-to-seed spread.
    """
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    if d.size < 2:
        return math.nan, math.nan
    if np.all(d == d[0]):
        return float(d[0]), float(d[0])
    # scipy.stats.bootstrap(method="percentile") draw for draw (tests/test_report.py compares them), without its
    # input checks, standard error and array-API layers: half its time, which reports over many cells pay.
    from scipy.stats import quantile  # scipy's own quantile: numpy's rounds the last bit otherwise

    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = d[rng.integers(0, d.size, (BOOTSTRAP_RESAMPLES, d.size))].mean(axis=-1)
    alpha = (1 - confidence) / 2
    low, high = quantile(means, np.array([alpha, 1 - alpha]), axis=-1)
    return float(low), float(high)


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (NaN entries stay NaN and do not count as tests).

    The k-th smallest of m p-values becomes ``max_{j<=k} min(1, (m - j + 1) p_(j))``: statsmodels' arithmetic,
    operation for operation (tests/test_report.py compares them with Hypothesis). Not statsmodels itself:
    ``multipletests`` runs ``gc.collect()`` on every call, which over a report of 900 runs cost 0.39 s for its 7
    calls.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    defined = ~np.isnan(p)
    tests = p[defined]
    order = np.argsort(tests)
    adjusted = np.maximum.accumulate(tests[order] * np.arange(tests.size, 0, -1))
    adjusted[adjusted > 1] = 1
    unsorted = np.empty_like(adjusted)
    unsorted[order] = adjusted
    out[defined] = unsorted
    return out


COMPARISON_COLUMNS = [
    "rule",
    "baseline",
    "baseline_rule",
    "metric",
    "n",
    "mean",
    "baseline_mean",
    "delta",
    "ci_low",
    "ci_high",
    "p",
    "method",
]


def paired_comparison(
    tables: dict[str, pd.DataFrame],
    keys: Sequence[str],
    match: Sequence[str],
    metric: str,
    baseline: str,
    pairs: Sequence[tuple[str, str]],
    loss_key: str = "loss",
) -> pd.DataFrame:
    """Each non-baseline loss against ``baseline`` for every (rule, baseline rule) in ``pairs``.

    ``tables`` maps a rule to its rows (one split). A row's partner is the baseline run equal in every
    ``match`` key (a run shares its seed, data and settings with its partner; only the loss differs).
    Columns: the ``keys`` (with the loss), then ``COMPARISON_COLUMNS`` and ``p_holm``: Holm over every test
    of the returned table.
    """
    records: list[dict[str, Any]] = []
    if not match:
        # Nothing varies but the loss: one run per loss, paired with the one baseline run.
        tables = {rule: rows.assign(_pair=0) for rule, rows in tables.items()}
        match = ["_pair"]
    for rule, base_rule in pairs:
        if rule not in tables or base_rule not in tables:
            continue
        rows, base = tables[rule], tables[base_rule]
        base = base[base[loss_key] == baseline]
        if base.empty:
            continue
        _check_unique(base, match, baseline)
        others = rows[rows[loss_key] != baseline]
        for key, cell in others.groupby(list(keys), dropna=False, sort=False):
            _check_unique(cell, match, str(cell[loss_key].iloc[0]))
            paired = cell[[*match, metric]].merge(base[[*match, metric]], on=list(match), suffixes=("", "_base"))
            both = paired.dropna(subset=[metric, f"{metric}_base"])
            d = (both[metric] - both[f"{metric}_base"]).to_numpy()
            test = wilcoxon_test(d)
            low, high = bootstrap_ci(d)
            values = key if isinstance(key, tuple) else (key,)
            records.append(
                {
                    **dict(zip(keys, values, strict=True)),
                    "rule": rule,
                    "baseline": baseline,
                    "baseline_rule": base_rule,
                    "metric": metric,
                    "n": int(d.size),
                    "mean": float(both[metric].mean()) if d.size else math.nan,
                    "baseline_mean": float(both[f"{metric}_base"].mean()) if d.size else math.nan,
                    "delta": float(d.mean()) if d.size else math.nan,
                    "ci_low": low,
                    "ci_high": high,
                    "p": test.p,
                    "method": test.method,
                }
            )
    frame = pd.DataFrame(records, columns=[*keys, *COMPARISON_COLUMNS])
    frame["p_holm"] = holm(frame["p"].to_numpy(dtype=float)) if len(frame) else []
    return frame


def _check_unique(rows: pd.DataFrame, match: Sequence[str], loss: str) -> None:
    duplicated = rows.duplicated(subset=list(match), keep=False)
    if duplicated.any():
        first = rows[duplicated].iloc[0]
        shared = ", ".join(f"{k}={first[k]}" for k in match)
        raise HfaError(f"paired comparison is ambiguous: several {loss} runs share {shared}")


# ----------------------------------------------------------------------------------------------------------
# Ranks across blocks


@dataclass
class Ranking:
    """Mean ranks of the losses over blocks (1 = best), the Friedman test and Nemenyi's post-hoc p-values."""

    metric: str
    rule: str
    scores: pd.DataFrame  # blocks x losses: the mean over seeds of the metric
    mean_rank: pd.Series  # loss -> mean rank, best first
    friedman_stat: float
    friedman_p: float
    critical_difference: float

    @property
    def blocks(self) -> int:
        return len(self.scores)

    def nemenyi(self) -> pd.DataFrame:
        """Nemenyi's post-hoc p-values, loss x loss (scikit-posthocs; imported here: it loads pyplot)."""
        import scikit_posthocs

        table = scikit_posthocs.posthoc_nemenyi_friedman(self.scores.to_numpy())
        table.index = table.columns = list(self.scores.columns)
        return table


def ranking(scores: pd.DataFrame, metric: str, rule: str, alpha: float = ALPHA) -> Ranking:
    """Ranks of the columns (losses) of ``scores`` within each row (block), higher metric = better rank.

    Blocks missing a loss's score are dropped (Friedman needs complete blocks). Needs at least 2 blocks and
    2 losses; Friedman's test and Nemenyi's need 3 losses (scipy's friedmanchisquare), NaN otherwise.
    """
    complete = scores.dropna(axis=0, how="any")
    if complete.shape[0] < 2 or complete.shape[1] < 2:
        raise HfaError(
            f"ranking needs at least 2 complete blocks and 2 losses, got {complete.shape[0]} x {complete.shape[1]}"
        )
    from scipy.stats import friedmanchisquare, rankdata, studentized_range

    ranks = pd.DataFrame(rankdata(-complete.to_numpy(), axis=1), index=complete.index, columns=complete.columns)
    mean_rank = ranks.mean(axis=0).sort_values(kind="stable")
    k, n = complete.shape[1], complete.shape[0]
    stat, p = math.nan, math.nan
    if k >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # identical blocks make the statistic undefined: NaN says so
            result = friedmanchisquare(*(complete[c].to_numpy() for c in complete.columns))
        stat, p = float(result.statistic), float(result.pvalue)
    # Demšar (2006): CD = q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile / sqrt 2.
    q_alpha = float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    cd = q_alpha * math.sqrt(k * (k + 1) / (6 * n))
    return Ranking(metric, rule, complete, mean_rank, stat, p, cd)
