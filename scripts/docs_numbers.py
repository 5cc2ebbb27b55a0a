"""Write the numbers the docs quote from the shipped studies' report files, or check that they are written.

    scripts/docs_numbers.py            # rewrite every marked region of README.md and docs/
    scripts/docs_numbers.py --check    # rewrite nothing; exit 1 naming each region that differs, and each number
                                       # of a study page's prose that no report file of the study holds

A region is ``<!-- numbers: NAME -->`` ... ``<!-- /numbers -->``; NAME picks a function below, which reads
``docs/experiments/<study>/`` (``report.csv``, ``report.md``, ``run.txt``, ``averages.csv``), the files
``scripts/experiments.sh`` writes, and returns the region's text: tables, sentences, ranks, p-values and the
words that depend on them ("differs", "no pair differs", "on 9 of 20 sets"). README's speed section reads the
shipped benchmark run instead (``benchmarks/results/cpu-<day>.csv`` and ``phases-cpu-<day>.json``, the day in
``SPEED_RUN``). ``scripts/experiments.sh`` runs this after the studies; ``tests/test_docs.py`` runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from functools import cache
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hfa.report.tables import format_number, format_p, format_signed, p_equals  # noqa: E402

EXPERIMENTS = ROOT / "docs" / "experiments"
PAGES = ("README.md", "docs/mulan-yeast.md", *(f"docs/experiments/{n}.md" for n in ("quickstart", "paper-synthetic",
         "keel-contest")))  # fmt: skip
REGION = re.compile(r"(<!-- numbers: (\S+) -->\n)(.*?)(<!-- /numbers -->)", re.S)
TEXT_COLUMNS = ("table", "data.name", "name", "tied", "label", "loss", "data.imbalance_ratio", "rule", "metric",
                "baseline", "baseline_rule", "method", "pooled")  # fmt: skip
ALPHA = 0.05
LABEL_AVERAGES = ("macro", "micro")


# ----------------------------------------------------------------------------------------------------------
# Reading the report files


@cache
def table(study: str, name: str = "report.csv") -> pd.DataFrame:
    frame = pd.read_csv(EXPERIMENTS / study / name, dtype=dict.fromkeys(TEXT_COLUMNS, str), keep_default_na=False,
                        na_values=[""])  # fmt: skip
    # Before the counts were split (n_runs / n_pairs / n_blocks) one column held them all.
    if "n" in frame.columns:
        kind = frame["table"].map({"summary": "n_runs", "paired": "n_pairs", "ranking": "n_blocks"})
        for column in ("n_runs", "n_pairs", "n_blocks"):
            frame[column] = frame["n"].where(kind == column)
    return frame


@cache
def run_info(study: str) -> dict[str, str]:
    lines = (EXPERIMENTS / study / "run.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def rows(frame: pd.DataFrame, **where: str) -> pd.DataFrame:
    """The rows whose columns equal ``where`` (dots in a key written as ``__``)."""
    mask = pd.Series(True, index=frame.index)
    for key, value in where.items():
        mask &= frame[key.replace("__", ".")] == value
    return frame[mask]


def one(frame: pd.DataFrame, **where: str) -> pd.Series:
    found = rows(frame, **where)
    if len(found) != 1:
        raise SystemExit(f"docs_numbers: {len(found)} rows match {where}, expected one")
    return found.iloc[0]


def summary(study: str, metric: str, rule: str, loss: str, csv: str = "report.csv", **keys: str) -> pd.Series:
    return one(table(study, csv), table="summary", metric=metric, rule=rule, loss=loss, **keys)


def paired(study: str, metric: str, loss: str, rule: str, base: str, csv: str = "report.csv", **keys: str):
    return one(table(study, csv), table="paired", metric=metric, loss=loss, rule=rule, baseline_rule=base, **keys)


def ranking(study: str, metric: str, rule: str) -> pd.DataFrame:
    found = rows(table(study), table="ranking", metric=metric, rule=rule)
    return found.sort_values("mean_rank", kind="stable")


def runs_of(study: str) -> int:
    """How many runs the study trained: the summed run counts of one metric under one rule (one label)."""
    frame = table(study)
    first = frame[frame["table"] == "summary"].iloc[0]
    cells = rows(frame, table="summary", metric=first["metric"], rule=first["rule"])
    if "label" in cells.columns:
        cells = cells[cells["label"] == first["label"]]
    return int(cells["n_runs"].sum())


# ----------------------------------------------------------------------------------------------------------
# Words


def signed(value: float, digits: int = 3) -> str:
    """A signed difference for running text: ``+0.020``, ``−0.006`` (a true minus sign)."""
    return format_signed(value, digits).replace("-", "−")


def points(value: float) -> str:
    """A difference of two rates in percentage points: ``+25.0``, ``−4.2``."""
    return signed(100 * value, 1)


def mean_std(row: pd.Series) -> str:
    return f"{format_number(row['mean'])}±{format_number(row['std'])}"


def listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def ratios(study: str) -> list[str]:
    values = rows(table(study), table="summary")["data.imbalance_ratio"].dropna().unique()
    return sorted(values, key=float)


def span(values: list[float]) -> str:
    return f"{signed(min(values))} to {signed(max(values))}"


def nemenyi_words(study: str, metric: str, rule: str) -> str:
    """Which pairs of losses Nemenyi's critical difference sets apart, in words."""
    ranked = ranking(study, metric, rule)
    cd = float(ranked["critical_difference"].iloc[0])
    apart = [
        f"{a.loss} and {b.loss} differ ({abs(a.mean_rank - b.mean_rank):.2f} ranks apart)"
        for a, b in combinations(ranked.itertuples(), 2)
        if abs(a.mean_rank - b.mean_rank) > cd
    ]
    if not apart:
        return f"Nemenyi's critical difference is {cd:.2f} ranks, so no pair differs"
    others = "; no other pair does" if len(apart) < len(ranked) * (len(ranked) - 1) // 2 else ""
    return f"Nemenyi's critical difference is {cd:.2f} ranks: {listing(apart)}{others}"


def wall(study: str) -> str:
    info = run_info(study)
    return f"**{info['wall_s']} s** for the {runs_of(study)} runs (finished {info['finished']}; {info['machine']})"


# ----------------------------------------------------------------------------------------------------------
# Regions


def quickstart_readme_table() -> str:
    lines = [
        "| loss | ratio | F1, τ = 0.5 | F1, tuned τ | Δ F1 vs BCE (τ = 0.5) | Δ F1 vs BCE + tuned τ |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for ratio in ratios("quickstart"):
        for loss in ("bce", "f1", "wbce"):
            fixed = summary("quickstart", "f1", "fixed", loss, data__imbalance_ratio=ratio)
            tuned = summary("quickstart", "f1", "tuned", loss, data__imbalance_ratio=ratio)
            tests = ["", ""]
            if loss != "bce":
                tests = [
                    f"{format_signed(r['delta'])} (Holm p {format_p(r['p_holm'])})"
                    for r in (
                        paired("quickstart", "f1", loss, "fixed", "fixed", data__imbalance_ratio=ratio),
                        paired("quickstart", "f1", loss, "fixed", "tuned", data__imbalance_ratio=ratio),
                    )
                ]
            lines.append(f"| {loss} | {ratio} | {mean_std(fixed)} | {mean_std(tuned)} | {tests[0]} | {tests[1]} |")
    return "\n".join(lines)


def _quickstart_tests(loss: str, rule: str, base: str) -> list[pd.Series]:
    return [paired("quickstart", "f1", loss, rule, base, data__imbalance_ratio=r) for r in ratios("quickstart")]


def _rate_gaps(study: str, loss: str, metric: str, **keys: str) -> list[float]:
    """``loss`` minus BCE in a summary mean at τ = 0.5, per ratio."""
    return [
        summary(study, metric, "fixed", loss, data__imbalance_ratio=r, **keys)["mean"]
        - summary(study, metric, "fixed", "bce", data__imbalance_ratio=r, **keys)["mean"]
        for r in ratios(study)
    ]


def _holding(tests: list[pd.Series], column: str = "p_holm") -> list[str]:
    return [r["data.imbalance_ratio"] for r in tests if r[column] < ALPHA]


def quickstart_readme_summary() -> str:
    fixed = _quickstart_tests("f1", "fixed", "fixed")
    vs_tuned = _quickstart_tests("f1", "fixed", "tuned")
    ahead = [r["data.imbalance_ratio"] for r in fixed if r["delta"] > 0]
    every = "at every ratio" if len(ahead) == len(fixed) else f"at ratio {listing(ahead)} of {len(fixed)}"
    survive = _holding(fixed)
    plural = "ratios" if len(survive) > 1 else "ratio"
    after = f"significant after Holm at {plural} {listing(survive)}" if survive else "none significant after Holm"
    tuned_survive = _holding(vs_tuned)
    gain = (
        f"no difference survives Holm (Δ {span([r['delta'] for r in vs_tuned])}, Holm p ≥ "
        f"{format_p(min(r['p_holm'] for r in vs_tuned))})"
        if not tuned_survive
        else f"Δ {span([r['delta'] for r in vs_tuned])}, Holm p < 0.05 at ratio {listing(tuned_survive)}"
    )
    recall, precision = _rate_gaps("quickstart", "wbce", "recall"), _rate_gaps("quickstart", "wbce", "precision")
    return (
        f"At τ = 0.5, training on F1 directly beats BCE's F1 {every} ({after}).\n"
        f"Against the honest baseline, BCE with its threshold tuned on validation: {gain}; all three losses rank\n"
        "the test rows alike (they trace the same precision-recall curve) and differ in where τ = 0.5 falls on it.\n"
        f"Weighted BCE (`pos_weight: auto` = negatives/positives) buys recall ({points(min(recall))} to\n"
        f"{points(max(recall))} points) at a precision price ({points(max(precision))} to {points(min(precision))}"
        ' points) far beyond the seed\npaper\'s "recall up ~10, precision down ≤ 3", because the automatic weight'
        " grows with the ratio; with a tuned\nthreshold it is BCE again."
    )


def quickstart_findings() -> str:
    study, rs = "quickstart", ratios("quickstart")
    fixed = _quickstart_tests("f1", "fixed", "fixed")
    n_tests = len(rows(table(study), table="paired", metric="f1"))
    lost = [r["data.imbalance_ratio"] for r in fixed if r["p_holm"] >= ALPHA]
    lost_words = f": ratio {listing(lost)} does not survive the correction" if lost else ": all survive it"
    precision, recall = _rate_gaps(study, "f1", "precision"), _rate_gaps(study, "f1", "recall")
    ahead = all(r["delta"] > 0 for r in fixed)
    vs_tuned, both = _quickstart_tests("f1", "fixed", "tuned"), _quickstart_tests("f1", "tuned", "tuned")
    tuned_rank, fixed_rank = ranking(study, "f1", "tuned"), ranking(study, "f1", "fixed")
    order = " > ".join(fixed_rank["loss"])
    scores = rows(table(study), table="summary", metric="f1", rule="fixed").pivot(
        index="data.imbalance_ratio", columns="loss", values="mean"
    )
    same = sum(list(scores.loc[r].sort_values(ascending=False).index) == list(fixed_rank["loss"]) for r in rs)
    spread = tuned_rank["mean_rank"].max() - tuned_rank["mean_rank"].min()
    wb_fixed, wb_tuned = _quickstart_tests("wbce", "fixed", "fixed"), _quickstart_tests("wbce", "tuned", "tuned")
    wb_recall, wb_precision = _rate_gaps(study, "wbce", "recall"), _rate_gaps(study, "wbce", "precision")
    collapsed = int(rows(table(study), table="summary")["collapsed"].sum())
    pairs = sorted({int(n) for n in rows(table(study), table="paired")["n_pairs"]})
    smallest = 2 / 2 ** min(pairs)
    return "\n".join(
        [
            f"- **At the fixed threshold τ = 0.5 the F1 loss {'beats' if ahead else 'does not always beat'} BCE's F1"
            f" at every ratio**: Δ F1 = {', '.join(signed(r['delta']) for r in fixed)}",
            f"  at ratios {', '.join(rs)} (paired Wilcoxon p = {', '.join(format_p(r['p']) for r in fixed)}; Holm"
            f" over the {n_tests} tests of the table {', '.join(format_p(r['p_holm']) for r in fixed)}{lost_words}).",
            f"  It does so by trading precision for recall (precision {', '.join(signed(v) for v in precision)};"
            f" recall {', '.join(signed(v) for v in recall)}).",
            "- **Against the honest baseline, BCE with its threshold tuned on validation**: Δ F1 ="
            f" {', '.join(signed(r['delta']) for r in vs_tuned)}",
            f"  (p = {', '.join(format_p(r['p']) for r in vs_tuned)}) with the F1 loss at τ = 0.5, and"
            f" {', '.join(signed(r['delta']) for r in both)}"
            f" (Holm p = {', '.join(format_p(r['p_holm']) for r in both)})",
            f"  with both tuned. Under the tuned rule the three losses rank within {spread:.2f} mean ranks of each"
            f" other (Friedman {p_equals(tuned_rank['friedman_p'].iloc[0])}); under the fixed rule the ranking"
            f" {order} holds in {same} of {len(rs)} cells (Friedman {p_equals(fixed_rank['friedman_p'].iloc[0])};"
            f" with {len(rs)} blocks {nemenyi_words(study, 'f1', 'fixed')}).",
            "- **Weighted BCE (the seed's claim: recall up ~10 points, precision down ≤ 3 points)** at τ = 0.5:"
            f" recall moves by {', '.join(points(v) for v in wb_recall)} points and precision by"
            f" {', '.join(points(v) for v in wb_precision)} points,",
            f"  so F1 moves by {', '.join(signed(r['delta']) for r in wb_fixed)} (Holm p ="
            f" {', '.join(format_p(r['p_holm']) for r in wb_fixed)}). `pos_weight = #neg/#pos` moves the 0.5"
            " threshold away from the F1-optimal one as the ratio grows. With a tuned threshold on both sides"
            f" weighted BCE is BCE again (Δ F1 {', '.join(signed(r['delta']) for r in wb_tuned)}; Holm p ="
            f" {', '.join(format_p(r['p_holm']) for r in wb_tuned)}).",
            f"- {collapsed or 'No'} run{'' if collapsed == 1 else 's'} collapsed (predicted one class for every test"
            f" row) under any rule; every test has {listing([str(p) for p in pairs])} paired seeds (the smallest"
            f" possible two-sided p with {min(pairs)} pairs is {format_p(smallest)}), and Holm over {n_tests} tests"
            f" needs p below {ALPHA / n_tests:.4f} for the smallest one to survive.",
        ]
    )


def quickstart_report() -> str:
    return (EXPERIMENTS / "quickstart" / "report.md").read_text(encoding="utf-8").rstrip("\n")


def _wall(study: str) -> Callable[[], str]:
    return lambda: f"wall time of the sweep: {wall(study)}; [run.txt]({study}/run.txt)."


PAPER_TESTS = (("f1", "f1", "F1"), ("fbeta(beta=2)", "f2", "F2"), ("fbeta(beta=3)", "f3", "F3"))


def _paper_rule(metric: str) -> str:
    return "tuned" if metric == "f1" else f"tuned_{metric}"


def _paper_holm() -> tuple[float, int]:
    tests = rows(table("paper-synthetic"), table="paired")
    tests = tests[tests["metric"].isin([m for _, m, _ in PAPER_TESTS])]
    return float(tests["p_holm"].min()), int(tests.groupby("metric").size().max())


def paper_tests() -> str:
    smallest, n = _paper_holm()
    lines = [
        "Δ = loss − BCE; 95% percentile bootstrap interval; two-sided exact Wilcoxon p; Holm over the"
        f" {n} tests of each metric's table: the smallest corrected p is {format_p(smallest)}, so"
        + (" no difference is significant after the correction." if smallest >= ALPHA else " some survive it."),
        "",
        "| data set | loss, metric | vs BCE, both at τ = 0.5 | vs BCE with τ tuned for that metric"
        " | both tuned for it |",
        "| --- | --- | --- | --- | --- |",
    ]
    for data in sorted(rows(table("paper-synthetic"), table="summary")["data.name"].unique()):
        for loss, metric, name in PAPER_TESTS:
            tuned = _paper_rule(metric)
            cells = []
            for rule, base in (("fixed", "fixed"), ("fixed", tuned), (tuned, tuned)):
                r = paired("paper-synthetic", metric, loss, rule, base, data__name=data)
                ci = f" [{format_number(r['ci_low'])}, {format_number(r['ci_high'])}]" if rule == "fixed" else ""
                cells.append(f"{format_signed(r['delta'])}{ci} p {format_p(r['p'])}")
            lines.append(f"| {data} | {loss}, {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def report_sections(study: str, title: str) -> str:
    """The sections of the study's report.md whose bold title matches ``title`` (a regex), notes included."""
    text = (EXPERIMENTS / study / "report.md").read_text(encoding="utf-8")
    found = re.findall(rf"\*\*{title}.*?(?=\n\*\*|\n> rows average|\Z)", text, re.S)
    return "\n".join(part.rstrip("\n") + "\n" for part in found).rstrip("\n")


def paper_summaries() -> str:
    return report_sections("paper-synthetic", r"[^*\n]* · mean±std over ")


CONTEST, TWIN = "keel-contest", "keel-contest-defaults"
RULE_WORDS = {"fixed": "τ = 0.5", "tuned": "tuned τ"}


@cache
def _names() -> dict[str, str]:
    """Method label (the twin's ``loss`` column) -> the tune study's method name."""
    effect = table(CONTEST, "tuning-effect.csv")
    return dict(zip(effect["label"], effect["method"], strict=True))


def _ranks(study: str, rule: str, metric: str = "f1") -> pd.DataFrame:
    """The study's ranking rows, indexed by the tune study's method names, best first."""
    found = ranking(study, metric, rule)
    names = found["name"] if study == CONTEST else found["loss"].map(_names())
    return found.assign(method=names.to_numpy()).set_index("method")


def _apart(ranked: pd.DataFrame, a: str, b: str) -> bool:
    """Nemenyi: the two methods' mean ranks differ by more than the critical difference."""
    return abs(ranked.loc[a, "mean_rank"] - ranked.loc[b, "mean_rank"]) > ranked["critical_difference"].iloc[0]


def _set_means(rule: str, metric: str = "f1") -> pd.DataFrame:
    """Data sets x methods: the contest's mean test ``metric`` over each set's 10 runs."""
    cells = rows(table(CONTEST), table="summary", rule=rule, metric=metric)
    return cells.pivot(index="data.name", columns="name", values="mean")


def _wins(rule: str, a: str, b: str) -> str:
    means = _set_means(rule)[[a, b]].dropna()
    won, lost = int((means[a] > means[b]).sum()), int((means[a] < means[b]).sum())
    return f"{a} ahead on {won} of {len(means)} sets, behind on {lost}"


def _versus(rule: str, a: str, b: str) -> str:
    ranked = _ranks(CONTEST, rule)
    verdict = "apart" if _apart(ranked, a, b) else "not apart"
    return (
        f"{a} {ranked.loc[a, 'mean_rank']:.2f} vs {b} {ranked.loc[b, 'mean_rank']:.2f} ({verdict}; {_wins(rule, a, b)})"
    )


def contest_wall() -> str:
    choices = table(CONTEST, "choices.csv")
    tuned, twin = run_info(CONTEST), run_info(TWIN)
    return (
        f"the tune study: **{tuned['wall_s']} s** for {int(choices['trials'].sum()):,} trial runs and"
        f" {runs_of(CONTEST):,} final runs (finished {tuned['finished']}; {tuned['machine']}); [run.txt]"
        f"({CONTEST}/run.txt). Its untuned twin: **{twin['wall_s']} s** for {runs_of(TWIN):,} runs (finished"
        f" {twin['finished']}); [run.txt]({TWIN}/run.txt)."
    )


def contest_rankings() -> str:
    frames = {(study, rule): _ranks(study, rule) for study in (CONTEST, TWIN) for rule in RULE_WORDS}
    order = frames[(CONTEST, "tuned")].index
    lines = [
        "| method | tuned, τ = 0.5 | tuned, tuned τ | untuned, τ = 0.5 | untuned, tuned τ |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for method in order:
        cells = [
            f"{frame.loc[method, 'mean_rank']:.2f} ({format_number(frame.loc[method, 'mean'])})"
            for frame in frames.values()
        ]
        lines.append(f"| {method} | {' | '.join(cells)} |")
    notes = [
        f"{'tuned' if study == CONTEST else 'untuned'}, {RULE_WORDS[rule]}: {int(frame['n_blocks'].iloc[0])} sets,"
        f" Friedman p {format_p(frame['friedman_p'].iloc[0])}, critical difference"
        f" {frame['critical_difference'].iloc[0]:.2f}"
        for (study, rule), frame in frames.items()
    ]
    return "\n".join(
        [
            *lines,
            "",
            "Mean rank of test F1 across the data sets (1 = best; in brackets the mean F1); " + "; ".join(notes) + ".",
        ]
    )


def contest_bottom() -> str:
    frame = table(CONTEST)
    out = []
    for rule, words in RULE_WORDS.items():
        chosen = rows(frame, table="bottom", rule=rule)["name"].value_counts()
        against = rows(frame, table="bottom_vs", rule=rule)
        apart = against.assign(apart=against["tied"] == "False").groupby("data.name")["apart"]
        all_apart, none_apart = int(apart.all().sum()), int((~apart.any()).sum())
        tied = against.assign(tied=against["tied"] == "True").groupby("data.name")["tied"].sum()
        out.append(
            f"- **{words}**: the validation choice is "
            + ", ".join(f"{m} on {n}" for m, n in chosen.items())
            + f" of {int(chosen.sum())} sets. On {none_apart} sets no other method can be told apart from the"
            f" choice on test (Holm-corrected Wilcoxon over its 10 paired runs), on {all_apart} every other one can;"
            f" the median set ties {int(tied.median())} of {len(chosen) - 1 if len(chosen) > 1 else 0} methods with"
            " its choice."
        )
    return "\n".join(out)


def contest_claims() -> str:
    fixed, tuned = _ranks(CONTEST, "fixed"), _ranks(CONTEST, "tuned")
    recall, precision = (
        (_set_means("fixed", metric)["wbce"] - _set_means("fixed", metric)["bce"]).dropna()
        for metric in ("recall", "precision")
    )
    both = pd.concat([recall, precision], axis=1, keys=["r", "p"]).dropna()
    pattern = int(((both["r"] >= 0.05) & (both["p"] >= -0.03)).sum())
    metric_losses = ("f1", "f2", "mcc", "auroc")
    resamplers = ("bce_random_over", "bce_smote", "bce_random_under")

    def place(ranked: pd.DataFrame, method: str) -> str:
        return f"{list(ranked.index).index(method) + 1} of {len(ranked)} ({ranked.loc[method, 'mean_rank']:.2f})"

    gbdt_behind = {rule: _apart(r, r.index[0], "gbdt") for rule, r in (("fixed", fixed), ("tuned", tuned))}
    return "\n".join(
        [
            "- **Tsoi et al.: the F1 loss beats BCE.** At τ = 0.5: " + _versus("fixed", "f1", "bce") + ". With each"
            " threshold tuned on validation: " + _versus("tuned", "f1", "bce") + ".",
            "- **Rezaei-Dastjerdehei et al.: weighting positives raises recall by about 10 points while precision"
            " drops by at most about 3** (τ = 0.5; both tuned on the same budget): recall"
            f" {points(recall.mean())} points on average over {len(recall)} sets (median"
            f" {points(recall.median())}), precision {points(precision.mean())} (median"
            f" {points(precision.median())}, over the {len(precision)} sets where both are defined); recall up ≥ 5"
            f" points with precision down ≤ 3 on {pattern} of {len(both)} sets.",
            "- **van den Goorbergh et al., Elor and Averbuch-Elor: with a tuned threshold, resampling is unnecessary.**"
            " Under the tuned rule: " + "; ".join(_versus("tuned", m, "bce") for m in resamplers) + ".",
            f"- **Gradient-boosted trees lead tabular benchmarks.** gbdt (tuned on the same budget) ranks"
            f" {place(fixed, 'gbdt')} at τ = 0.5 and {place(tuned, 'gbdt')} with tuned thresholds;"
            + "".join(
                f" under {RULE_WORDS[rule]} it is {'apart from' if behind else 'not apart from'} the first"
                f" ({(fixed if rule == 'fixed' else tuned).index[0]})" + (";" if rule == "fixed" else ".")
                for rule, behind in gbdt_behind.items()
            ),
            "- **AnyLoss: metric losses beat BCE on resampled data (SMOTE, random under-sampling) at τ = 0.5.** "
            + "; ".join(_versus("fixed", m, r) for m in metric_losses for r in ("bce_smote", "bce_random_under"))
            + ".",
        ]
    )


def contest_summary() -> str:
    """The study in a few sentences: who leads with tuned thresholds, who cannot be told from it, who trails."""
    tuned, fixed = _ranks(CONTEST, "tuned"), _ranks(CONTEST, "fixed")
    first, last = tuned.index[0], tuned.index[-1]
    near = [m for m in tuned.index[1:] if not _apart(tuned, first, m)]
    behind = [m for m in tuned.index[1:] if _apart(tuned, first, m)]
    metric_losses = [m for m in ("f1", "f2", "mcc", "auroc") if _apart(fixed, m, "bce") and m in fixed.index]
    ahead_fixed = [m for m in metric_losses if fixed.loc[m, "mean_rank"] < fixed.loc["bce", "mean_rank"]]
    ahead_tuned = [
        m
        for m in metric_losses
        if _apart(tuned, m, "bce") and tuned.loc[m, "mean_rank"] < tuned.loc["bce", "mean_rank"]
    ]
    return (
        f"With thresholds tuned on validation, {first} ranks first and cannot be told apart from {listing(near)};"
        f" {listing(behind)} rank behind it by more than the critical difference, {last} last. At τ = 0.5 the"
        f" metric losses {listing(ahead_fixed) if ahead_fixed else 'none'} rank ahead of BCE by more than the critical"
        f" difference; with tuned thresholds {listing(ahead_tuned) if ahead_tuned else 'none of them'} does: their"
        " advantage is one of the operating point, which a threshold tuned on validation gives BCE back."
    )


def contest_tuning() -> str:
    effect = table(CONTEST, "tuning-effect.csv")
    lines = [
        "| method | rule | untuned F1 | tuned F1 | Δ | sets better / worse / equal | Holm p |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in effect.itertuples():
        lines.append(
            f"| {r.method} | {RULE_WORDS[r.rule]} | {format_number(r.default_mean)} | {format_number(r.tuned_mean)} |"
            f" {format_signed(r.delta)} | {r.wins} / {r.losses} / {r.ties} | {format_p(r.p_holm)} |"
        )
    helped = {rule: rows(effect, rule=rule) for rule in RULE_WORDS}
    words = []
    for rule, frame in helped.items():
        up = frame[(frame["p_holm"] < ALPHA) & (frame["delta"] > 0)]["method"].tolist()
        down = frame[(frame["p_holm"] < ALPHA) & (frame["delta"] < 0)]["method"].tolist()
        words.append(
            f"under {RULE_WORDS[rule]}, tuning raised test F1 significantly for {len(up)} of {len(frame)} methods"
            + (f" ({', '.join(up)})" if up else "")
            + (f" and lowered it for {', '.join(down)}" if down else "")
        )
    first = {(study, rule): _ranks(study, rule).index[0] for study in (CONTEST, TWIN) for rule in RULE_WORDS}
    return "\n".join(
        [
            *lines,
            "",
            "Per method, the mean over the sets of the per-set mean test F1 (10 paired partitions each); Δ = tuned −"
            " untuned; Wilcoxon signed-rank over the sets, Holm over the methods of a rule. "
            + "; ".join(words).capitalize()
            + f". First by mean rank untuned: {first[(TWIN, 'fixed')]} (τ = 0.5), {first[(TWIN, 'tuned')]} (tuned τ);"
            f" tuned: {first[(CONTEST, 'fixed')]} (τ = 0.5), {first[(CONTEST, 'tuned')]} (tuned τ).",
        ]
    )


def _mulan_averages(rule: str) -> str:
    metrics = ("precision", "recall", "f1", "hamming_loss", "subset_accuracy")
    frame = rows(table("mulan-yeast", "averages.csv"), table="summary", rule=rule)
    lines = [f"| label | loss | {' | '.join(metrics)} |", "| --- | --- |" + " ---: |" * len(metrics)]
    for label in LABEL_AVERAGES:
        for loss in dict.fromkeys(rows(frame, label=label)["loss"]):
            cells = [mean_std(one(frame, label=label, loss=loss, metric=m)) for m in metrics]
            lines.append(f"| {label} | {loss} | {' | '.join(cells)} |")
    return "\n".join(lines)


def mulan_averages() -> str:
    return "\n".join(
        [
            "**Fixed rule (τ = 0.5)**",
            "",
            _mulan_averages("fixed"),
            "",
            "**Tuned rule (one threshold per label, maximising its F1 on validation)**",
            "",
            _mulan_averages("tuned"),
        ]
    )


def mulan_macro_tests() -> str:
    frame = rows(table("mulan-yeast", "averages.csv"), table="paired", label="macro")
    n_tests = int(rows(table("mulan-yeast", "averages.csv"), table="paired").groupby("metric").size().max())
    pairs = sorted({int(n) for n in frame["n_pairs"]})
    lines = [
        f"**Macro rows: each loss − BCE, paired by seed (n = {listing([str(p) for p in pairs])}), 95% bootstrap"
        f" CI, Wilcoxon p (Holm over the {n_tests} tests of each metric of the `--label macro,micro` report,"
        " [averages.csv](experiments/mulan-yeast/averages.csv))**",
        "",
        "| loss | metric | vs BCE, both τ = 0.5 | vs BCE + tuned thresholds | both tuned |",
        "| --- | --- | --- | --- | --- |",
    ]
    for loss in dict.fromkeys(frame["loss"]):
        for metric in ("recall", "precision", "f1"):
            cells = []
            for rule, base in (("fixed", "fixed"), ("fixed", "tuned"), ("tuned", "tuned")):
                r = one(frame, loss=loss, metric=metric, rule=rule, baseline_rule=base)
                ci = f" [{format_number(r['ci_low'])}, {format_number(r['ci_high'])}]" if rule == "fixed" else ""
                cells.append(f"{format_signed(r['delta'])}{ci} p {format_p(r['p'])} (Holm {format_p(r['p_holm'])})")
            lines.append(f"| {loss} | {metric} | {' | '.join(cells)} |")
    return "\n".join(lines)


def mulan_rank_test() -> str:
    f1 = ranking("mulan-yeast", "f1", "tuned")
    recall = ranking("mulan-yeast", "recall", "tuned")
    n = int(f1["n_blocks"].iloc[0])
    p = float(f1["friedman_p"].iloc[0])
    verdict = "the losses' F1 ranks differ" if p < ALPHA else "no loss's F1 rank differs"
    return (
        f"Rank test of F1 over the {n} labels under the tuned rule: Friedman {p_equals(p)}, {verdict}"
        f" ({nemenyi_words('mulan-yeast', 'f1', 'tuned')}; mean ranks "
        + ", ".join(f"{r.loss} {r.mean_rank:.2f}" for r in f1.itertuples())
        + f"). For recall under the tuned rule: Friedman {p_equals(recall['friedman_p'].iloc[0])}."
    )


def _label_tests(metric: str) -> pd.DataFrame:
    """wbce − bce at τ = 0.5 per label (averages left out), in the report's label order."""
    found = rows(table("mulan-yeast"), table="paired", loss="wbce", metric=metric, rule="fixed", baseline_rule="fixed")
    return found[~found["label"].isin(LABEL_AVERAGES)].set_index("label")


def mulan_labels() -> str:
    recall, precision = _label_tests("recall"), _label_tests("precision")
    n_tests = int(rows(table("mulan-yeast"), table="paired").groupby("metric").size().max())
    pairs = sorted({int(n) for n in recall["n_pairs"]})
    lines = [
        f"From the full report (paired by label and seed, n = {listing([str(p) for p in pairs])}; p Wilcoxon, Holm over"
        f" the {n_tests} tests of each metric, which no test of {max(pairs)} seeds can pass:"
        f" {format_p(2 / 2 ** max(pairs))} × {n_tests} > 0.05). Points; — where a side is undefined (no predicted"
        " positive in any split); † fewer than 5 pairs.",
        "",
        "| label | bce recall | wbce recall | Δ recall | p | bce precision | wbce precision | Δ precision | p |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in recall.index:
        cells = []
        for metric, tests in (("recall", recall), ("precision", precision)):
            bce, wbce = (summary("mulan-yeast", metric, "fixed", loss, label=label) for loss in ("bce", "wbce"))
            test = tests.loc[label]
            defined = not pd.isna(test["delta"])
            cells += [
                format_number(bce["mean"]) + ("*" if bce["n_defined"] < bce["n_runs"] else ""),
                format_number(wbce["mean"]) + ("*" if wbce["n_defined"] < wbce["n_runs"] else ""),
                points(test["delta"]) if defined else "—",
                (format_p(test["p"]) + ("†" if test["n_pairs"] < 5 else ""))
                if defined and not pd.isna(test["p"])
                else "—",
            ]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def mulan_claims() -> str:
    averages = table("mulan-yeast", "averages.csv")

    def test(label: str, loss: str, metric: str, base: str = "fixed", rule: str = "fixed") -> pd.Series:
        return one(averages, table="paired", label=label, loss=loss, metric=metric, rule=rule, baseline_rule=base)

    def mean(label: str, loss: str, metric: str, rule: str = "fixed") -> float:
        return float(one(averages, table="summary", label=label, loss=loss, metric=metric, rule=rule)["mean"])

    recall, precision = test("macro", "wbce", "recall"), test("macro", "wbce", "precision")
    verdict = "more" if precision["delta"] < -0.03 else "less"
    micro_precision = test("micro", "wbce", "precision")
    up, down = _label_tests("recall"), _label_tests("precision")
    rises, falls = up[up["delta"] > 0]["delta"], up[up["delta"] < 0]["delta"]
    defined = down.dropna(subset=["delta"])
    worse = defined[defined["delta"] < 0]["delta"]
    kept = int((defined["delta"] >= -0.03).sum())
    vs_recall, vs_precision, vs_f1 = (test("macro", "wbce", m, base="tuned") for m in ("recall", "precision", "f1"))
    tuned_f1 = [mean("macro", loss, "f1", "tuned") for loss in dict.fromkeys(rows(averages, label="macro")["loss"])]
    tempered = next(loss for loss in averages["loss"].dropna().unique() if str(loss).startswith("wbce("))
    soft = test("macro", "f1", "f1", base="tuned")
    micro_f1 = {loss: mean("micro", loss, "f1") for loss in dict.fromkeys(rows(averages, label="micro")["loss"])}
    best = max(micro_f1, key=micro_f1.get)
    return "\n".join(
        [
            f"- **On average.** Macro recall {points(recall['delta'])} points, macro precision"
            f" {points(precision['delta'])} points ({p_equals(recall['p'])}, {p_equals(precision['p'])}), so precision"
            f" falls {verdict} than the claimed 3 points. Counted over all label decisions: micro precision"
            f" {points(micro_precision['delta'])} points, micro F1 {format_number(mean('micro', 'bce', 'f1'))} →"
            f" {format_number(mean('micro', 'wbce', 'f1'))}, Hamming loss"
            f" {format_number(mean('micro', 'bce', 'hamming_loss'))} →"
            f" {format_number(mean('micro', 'wbce', 'hamming_loss'))}.",
            f"- **Per label.** Recall rises on {len(rises)} of {len(up)} labels ({points(rises.min())} to"
            f" {points(rises.max())} points) and falls on {len(falls)}"
            + (
                f" ({', '.join(falls.index)}: {points(falls.max())} to {points(falls.min())} points)"
                if len(falls)
                else ""
            )
            + f". Where both precisions are defined ({len(defined)} labels) precision falls on {len(worse)}"
            + (f" ({points(worse.max())} to {points(worse.min())} points)" if len(worse) else "")
            + f'; "precision down ≤ 3 points" holds on {kept} of {len(defined)}.',
            "- **The honest baseline.** BCE with one tuned threshold per label against weighted BCE at τ = 0.5: macro"
            f" recall {format_number(mean('macro', 'bce', 'recall', 'tuned'))} vs"
            f" {format_number(mean('macro', 'wbce', 'recall'))} (Δ {signed(vs_recall['delta'])} for wbce,"
            f" {p_equals(vs_recall['p'])}), macro precision {format_number(mean('macro', 'bce', 'precision', 'tuned'))}"
            f" vs {format_number(mean('macro', 'wbce', 'precision'))} ({p_equals(vs_precision['p'])}), macro F1"
            f" {format_number(mean('macro', 'bce', 'f1', 'tuned'))} vs {format_number(mean('macro', 'wbce', 'f1'))}"
            f" ({p_equals(vs_f1['p'])}). With tuned thresholds on both sides the four losses' macro F1 lie within"
            f" {max(tuned_f1) - min(tuned_f1):.3f} of each other. {mulan_rank_test()}",
            f"- The tempered weight moves less ({points(test('macro', tempered, 'recall')['delta'])} recall,"
            f" {points(test('macro', tempered, 'precision')['delta'])} precision points at τ = 0.5); macro soft-F1"
            f" against tuned BCE on macro F1: Δ {signed(soft['delta'])}, {p_equals(soft['p'])}. The best micro F1 at"
            f" τ = 0.5 is {best}'s ({format_number(micro_f1[best])}).",
        ]
    )


def mulan_wall() -> str:
    return f"wall time: {wall('mulan-yeast')}; [run.txt](experiments/mulan-yeast/run.txt)."


def results_table() -> str:
    q_fixed, q_tuned = _quickstart_tests("f1", "fixed", "fixed"), _quickstart_tests("f1", "fixed", "tuned")
    smallest, _ = _paper_holm()
    paper05 = [paired("paper-synthetic", m, loss, "fixed", "fixed", data__name="synthetic_05")
               for loss, m, _ in PAPER_TESTS[1:]]  # fmt: skip
    paper_tuned = [
        paired("paper-synthetic", m, loss, "fixed", _paper_rule(m), data__name=d)
        for loss, m, _ in PAPER_TESTS
        for d in ("synthetic_05", "synthetic_33")
    ]
    accuracy = summary("paper-synthetic", "f1", "fixed", "accuracy", data__name="synthetic_05")
    contest = {rule: _ranks(CONTEST, rule) for rule in RULE_WORDS}
    macro = table("mulan-yeast", "averages.csv")
    recall = one(
        macro, table="paired", label="macro", loss="wbce", metric="recall", rule="fixed", baseline_rule="fixed"
    )
    precision = one(macro, table="paired", label="macro", loss="wbce", metric="precision", rule="fixed",
                    baseline_rule="fixed")  # fmt: skip
    per_label = _label_tests("precision")["delta"]
    falls = per_label[per_label < 0]
    tuned_recall = one(macro, table="paired", label="macro", loss="wbce", metric="recall", rule="fixed",
                       baseline_rule="tuned")  # fmt: skip
    tuned_precision = one(macro, table="paired", label="macro", loss="wbce", metric="precision", rule="fixed",
                          baseline_rule="tuned")  # fmt: skip

    def time(study: str) -> str:
        return f"{runs_of(study)} runs, {run_info(study)['wall_s']} s"

    return "\n".join(
        [
            "| experiment | runs, wall time (2 CPU cores) | at τ = 0.5 | against BCE with a tuned threshold |",
            "| --- | --- | --- | --- |",
            "| [quickstart](docs/experiments/quickstart.md): blobs at ratios 5/20/50, BCE/WBCE/F1 |"
            f" {time('quickstart')} | F1 loss vs BCE's F1: Δ {span([r['delta'] for r in q_fixed])} (Holm p"
            f" {', '.join(format_p(r['p_holm']) for r in q_fixed)}) | Δ F1 {span([r['delta'] for r in q_tuned])},"
            " Holm p ≥"
            f" {format_p(min(r['p_holm'] for r in q_tuned))} |",
            "| [paper-synthetic](docs/experiments/paper-synthetic.md): Tsoi et al.'s setting, 33% and 5% positives,"
            f" BCE/F1/F2/F3/accuracy/AUROC/WBCE | {time('paper-synthetic')} | at 5% positives F2"
            f" {signed(paper05[0]['delta'], 2)}, F3 {signed(paper05[1]['delta'], 2)} over BCE's (p"
            f" {format_p(paper05[0]['p'])}, {format_p(paper05[1]['p'])}; Holm p ≥ {format_p(smallest)}: "
            + ("not significant after correction" if smallest >= ALPHA else "significant after correction")
            + f"); accuracy loss collapses in {int(accuracy['collapsed'])} of {int(accuracy['n_runs'])} runs at 5% |"
            f" BCE tuned for the same F-beta (`eval.tune_betas`): Δ {span([r['delta'] for r in paper_tuned])}, p ≥"
            f" {format_p(min(r['p'] for r in paper_tuned))} |",
            "| [keel-contest](docs/experiments/keel-contest.md): 111 KEEL sets at natural ratios, 12 methods (MLP"
            " losses, resampling, logistic, gbdt) each tuned with the same budget, 2 x 5 folds |"
            f" {runs_of(CONTEST):,} final runs after {int(table(CONTEST, 'choices.csv')['trials'].sum()):,} trials,"
            f" {run_info(CONTEST)['wall_s']} s | by F1: {contest['fixed'].index[0]} first"
            f" ({contest['fixed']['mean_rank'].iloc[0]:.2f}), {contest['fixed'].index[1]} second"
            f" ({contest['fixed']['mean_rank'].iloc[1]:.2f}); {_versus('fixed', 'f1', 'bce')} |"
            f" {contest['tuned'].index[0]} first ({contest['tuned']['mean_rank'].iloc[0]:.2f});"
            f" {_versus('tuned', 'f1', 'bce')} |",
            "| [mulan-yeast](docs/mulan-yeast.md): multi-label, 14 labels, BCE/WBCE/tempered WBCE/macro soft-F1 |"
            f" {time('mulan-yeast')} | WBCE: macro recall {points(recall['delta'])}, precision"
            f" {points(precision['delta'])} points; per label precision {points(falls.max())} to"
            f" {points(falls.min())} | BCE with per-label tuned thresholds vs WBCE at τ = 0.5: macro recall"
            f" {points(-tuned_recall['delta'])} points (p {format_p(tuned_recall['p'])}), precision"
            f" {points(-tuned_precision['delta'])} (p {format_p(tuned_precision['p'])}) |",
        ]
    )


def quickstart_time() -> str:
    return f"({runs_of('quickstart')} runs; the sweep took {run_info('quickstart')['wall_s']} s on a 2-core CPU)."


def one_run() -> str:
    """The README's "One run" block: what ``hfa train --config configs/quickstart.yaml`` prints today."""
    import shutil
    import subprocess
    import tempfile

    command = ["train", "--config", "configs/quickstart.yaml"]
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(ROOT / "configs", Path(scratch) / "configs")
        env = {"PATH": "/usr/bin:/bin", "COLUMNS": "80", "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", "from hfa.cli import app; app()", *command], cwd=scratch,
                              env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return "```console\n$ hfa " + " ".join(command) + "\n" + done.stdout.rstrip("\n") + "\n```"


# ----------------------------------------------------------------------------------------------------------
# README's speed section: the shipped benchmark run (benchmarks/run.py) and its phases (benchmarks/phases.py)

SPEED_RUN = "2026-12-03"  # the day of the shipped benchmark files the section quotes
BENCHMARKS = ROOT / "benchmarks" / "results"


@cache
def _bench_rows() -> tuple[dict[str, str], ...]:
    import csv

    with (BENCHMARKS / f"cpu-{SPEED_RUN}.csv").open(newline="", encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


def _bench(case: str, size: str = "") -> dict[str, str]:
    return next(r for r in _bench_rows() if r["case"] == case and r["size"].startswith(size))


def _value(case: str, key: str, size: str = "") -> float:
    return float(_bench(case, size)[key])


@cache
def _phases() -> dict:
    import json

    return json.loads((BENCHMARKS / f"phases-cpu-{SPEED_RUN}.json").read_text(encoding="utf-8"))


def _verdict(case: str, size: str = "") -> str:
    return "met" if _bench(case, size)["met"] == "yes" else "not met"


def speed_table() -> str:
    small, large = _bench("train vs MLPClassifier", "100k"), _bench("train vs MLPClassifier", "1M")
    memory, per_row = _bench("peak memory vs MLPClassifier"), _bench("training time per row")
    rate, whole = _bench("training vs matmul rate"), _bench("whole process vs matmul rate")
    skorch_sweep, loop = _bench("sweep of 30 vs skorch"), _bench("sweep of 30 vs hfa train loop")
    grid, tune, report = (_bench(c) for c in ("GridSearchCV vs MLPClassifier", "tune vs study.optimize",
                                                "report beyond start-up"))  # fmt: skip
    f = float
    on_line = ", on the line" if abs(f(small["ratio"]) - 1) < 0.03 else ""
    import textwrap

    lines = [
        textwrap.fill(
            "Whole fresh processes on the same rows, wall seconds, `python benchmarks/run.py` on a 2-core machine "
            f"(load average {small['load_avg_1m']} when it started; `benchmarks/results/cpu-{SPEED_RUN}.csv`; no GPU "
            "was lent):",
            116,
        ),
        "",
        "| case | size | hfa | peer | ratio | target |",
        "| --- | --- | ---: | ---: | ---: | --- |",
        "| `hfa train` vs scikit-learn `MLPClassifier` (64-64, adam, batch 256, 10 epochs) | 100k x 20 | "
        f"{small['hfa']} | {small['baseline']} | {f(small['ratio']):.2f}x | ≥ 1.0x {_verdict('train vs MLPClassifier')}"
        f"{on_line} ({f(small['ratio']):.3f}x) |",
        f"| | 1M x 20 | {f(large['hfa_value']):.1f} s | {f(large['baseline_value']):.1f} s | "
        f"{f(large['ratio']):.2f}x | ≥ 2x {_verdict('train vs MLPClassifier', '1M')} |",
        f"| peak memory, the same processes | 1M x 20 | {memory['hfa']} | {memory['baseline']} | "
        f"{f(memory['ratio']):.2f}x | ≤ 1.25x {_verdict('peak memory vs MLPClassifier')} |",
        f"| `hfa train` vs a plain PyTorch `DataLoader` script / skorch | 100k x 20 | {small['hfa']} | "
        f"{_value('train vs DataLoader script', 'baseline_value'):.2f} / "
        f"{_value('train vs skorch', 'baseline_value'):.2f} s | {_value('train vs DataLoader script', 'ratio'):.1f}x / "
        f"{_value('train vs skorch', 'ratio'):.1f}x | reference |",
        f"| `hfa sweep` of 30 runs vs 30 skorch fits in one process | 3 losses x 10 seeds, 10k x 2 | "
        f"{skorch_sweep['hfa']} | {f(skorch_sweep['baseline_value']):.1f} s | {f(skorch_sweep['ratio']):.1f}x | ≥ 10x "
        f"{_verdict('sweep of 30 vs skorch')} |",
        f"| the same sweep vs a shell loop of `hfa train` | | {skorch_sweep['hfa']} | "
        f"{f(loop['baseline_value']):.1f} s | {f(loop['ratio']):.1f}x | ≥ 30x "
        f"{_verdict('sweep of 30 vs hfa train loop')} |",
        f"| `HfaClassifier` vs `MLPClassifier` in one `GridSearchCV` | 40 fits, 2k x 10 | {grid['hfa']} | "
        f"{grid['baseline']} | {f(grid['ratio']):.2f}x | ≥ 1.0x {_verdict('GridSearchCV vs MLPClassifier')} |",
        "| `hfa.tune`'s stacks vs `study.optimize` one trial at a time, identical trial values | 40 trial runs, "
        f"keel/yeast4 | {tune['hfa']} | {tune['baseline']} | {f(tune['ratio']):.1f}x | ≥ 5x "
        f"{_verdict('tune vs study.optimize')} |",
        f"| `hfa report` over 900 run folders, beyond start-up (9 folders) | 900 runs | {report['hfa']} | "
        f"{report['baseline'].split(' (')[0]} | {f(report['hfa_value']) - f(report['baseline_value']):.2f} s beyond | "
        f"≤ 1 s {_verdict('report beyond start-up')} |",
        f"| training time per row, 1M vs 100k (run.json `train_s`) | | {f(per_row['hfa_value']) * 1e9:,.0f} ns | "
        f"{f(per_row['baseline_value']) * 1e9:,.0f} ns | {f(per_row['ratio']):.2f}x | ≤ 1.1x "
        f"{_verdict('training time per row')} |",
        "| training / whole process at 1M against the one-thread matmul rate "
        f"({f(rate['baseline_value']) / 1e9:.0f} GFLOP/s) | 1M x 20 | {f(rate['hfa_value']) / 1e9:.1f} / "
        f"{f(whole['hfa_value']) / 1e9:.1f} GFLOP/s | | {f(rate['ratio']) * 100:.0f} % / "
        f"{f(whole['ratio']) * 100:.0f} % | ≥ 60 % / ≥ 40 % {_verdict('training vs matmul rate')} |",
    ]
    return "\n".join(lines)


def _imports(phases: dict) -> float:
    return sum(v for k, v in phases.items() if k.startswith("import"))


def speed_profiles() -> str:
    """The "not met, or on the line" bullets: each case's phases and the arithmetic of what its target needs."""
    import textwrap

    every = _phases()
    p, pm, ps = (every[c]["phases"] for c in ("train100k", "train1m", "sweep30"))
    t, m, sw, step = every["train100k"], every["train1m"], every["sweep30"], every["step"]
    stacked, single = every["tune"]["sides"]["stacked"], every["tune"]["sides"]["one at a time"]
    step100, step1m = (e["phases"]["training"] / e["counts"]["steps"] * 1e3 for e in (t, m))
    start = sw["process"] - ps["in-process total"]
    rest = ps["data"] + ps["training"] + ps["evaluate and write run folders"] + ps["the rest of the command"]
    skorch, loop = _value("sweep of 30 vs skorch", "baseline_value"), _value("sweep of 30 vs hfa train loop",
                                                                           "baseline_value")  # fmt: skip
    mlp, matmul = _value("train vs MLPClassifier", "baseline_value", "100k"), _value("training vs matmul rate",
                                                                                   "baseline_value")  # fmt: skip
    target = single["timed"] / 5
    gap = stacked["timed"] - target
    # The stacked side's two final runs train alone, as the one-at-a-time side's runs do.
    trial_s = stacked["training"] - 2 * single["training"] / single["runs"]
    trial_steps = stacked["member_steps"] - 2 * single["member_steps"] / single["runs"]
    hfa_own = p["import hfa's command line"] + p["import hfa's run modules"]
    step_flop = 256 * 6 * (20 * 64 + 64 * 64 + 64)  # forward 2 and backward 4 FLOP a multiply-add, 20-64-64-1
    small = _value("train vs MLPClassifier", "ratio", "100k")
    bullets = [
        f"- **`hfa train` at 100k ({small:.3f}x{', on the line' if abs(small - 1) < 0.03 else ''}).** "
        f"{t['process']:.2f} s: imports {_imports(p):.2f} s (torch {p['import torch']:.2f}, pandas "
        f"{p['import pandas']:.2f}, hfa's command line and run modules {hfa_own:.2f}), data {p['data']:.2f} s, "
        f"training {p['training']:.2f} s ({t['counts']['steps']:,} steps of {step100:.2f} ms), evaluation and the run "
        f"folder {p['evaluate and write run folders']:.2f} s. `MLPClassifier` takes {mlp:.2f} s in all. A sure 1.0x "
        f"needs a tenth of a second more: a training path without pandas ({p['import pandas']:.2f} s of import; the "
        "data preparation, the metrics tables and the CSV writing use it).",
        "- **Training at 1M ≥ 60 % of the one-thread matmul rate "
        f"({_value('training vs matmul rate', 'ratio') * 100:.0f} %; the whole process "
        f"{_value('whole process vs matmul rate', 'ratio') * 100:.0f} %).** A 256-row step "
        f"through 20-64-64-1 is {step_flop / 1e6:.1f} MFLOP, {step_flop / matmul * 1e6:.0f} µs at {matmul / 1e9:.0f} "
        "GFLOP/s, but takes "
        f"{step1m:.2f} ms here: dozens of tensor operations, the products among them on matrices too small for the "
        "BLAS to reach its rate. 60 % needs a fused step (one compiled kernel for the forward, backward and Adam), "
        f"which no bit-identical CPU path offers; the whole process adds {pm['data']:.2f} s of data preparation and "
        f"{_imports(pm):.2f} s of imports to the {pm['training']:.2f} s of training.",
        f"- **Sweep of 30 vs skorch ({_value('sweep of 30 vs skorch', 'ratio'):.1f}x) and vs a shell loop "
        f"({_value('sweep of 30 vs hfa train loop', 'ratio'):.1f}x).** {sw['process']:.2f} s: imports "
        f"{_imports(ps):.2f} s, data {ps['data']:.2f} s, training {ps['training']:.2f} s ({sw['counts']['steps']} "
        f"stacked steps of {ps['training'] / sw['counts']['steps'] * 1e3:.1f} ms, 30 members each), evaluating and "
        f"writing 30 run folders {ps['evaluate and write run folders']:.2f} s "
        f"({ps['evaluate and write run folders'] / 30 * 1e3:.0f} ms a run: metrics at three threshold rules, curves, "
        f"four files), the sweep's own planning and tables {ps['the rest of the command']:.2f} s. 10x skorch's "
        f"{skorch:.1f} s needs {skorch / 10:.2f} s in all, which leaves {skorch / 10 - _imports(ps) - start:.2f} s "
        f"after the interpreter and the imports for what takes {rest:.2f} s now. 30x the loop needs the sweep to take "
        f"no longer than one `hfa train` process of the loop ({loop / 30:.2f} s), about what the interpreter and the "
        f"imports alone take here ({_imports(ps) + start:.2f} s).",
        f"- **Tuning ({_value('tune vs study.optimize', 'ratio'):.1f}x).** Stacked side (its two final runs included, "
        f"whose time `bench_tune` takes off): {stacked['timed']:.2f} s as timed; training "
        f"{stacked['training'] / stacked['runs'] * 1e3:.1f} ms a run ({stacked['member_steps']:,} member-steps in "
        f"{stacked['steps']} steps), evaluating and writing "
        f"{stacked['evaluate and write run folders'] / stacked['runs'] * 1e3:.1f} ms a run. One at a time: "
        f"{single['timed']:.2f} s; training {single['training'] / single['runs'] * 1e3:.1f} ms a run, evaluating and "
        f"writing {single['evaluate and write run folders'] / single['runs'] * 1e3:.1f} ms. A step of "
        f"{step['members']} members (hidden 32, dropout 0.1, batch 128) is "
        f"~{(step['forward'] + step['loss'] + step['backward'] + step['adam']) / 1e3:.2f} ms: the members' own dropout "
        f"draws from their own generators {step['forward ops']['uniform_'][1]:.0f} µs, their own products "
        f"{step['forward ops']['addmm'][1] + step['backward ops']['mm'][1]:.0f} µs (forward "
        f"{step['forward ops']['addmm'][1]:.0f}, backward {step['backward ops']['mm'][1]:.0f}), one F1 loss call for "
        f"the group {step['loss']:.0f} µs, Adam {step['adam']:.0f} µs. A run's draws and products are its own by "
        f"design (its numbers may not depend on its company). 5x of {single['timed']:.2f} s is {target:.2f} s, "
        f"{gap:.2f} s less than the stacked side here: the trials' training would have to fall from "
        f"~{trial_s / trial_steps * 1e6:.0f} µs to ~{(trial_s - gap) / trial_steps * 1e6:.0f} µs a member-step "
        "(evaluating and writing all 40 trial folders, "
        f"{stacked['evaluate and write run folders'] / stacked['runs'] * 40:.2f} s, is less than the gap).",
    ]
    loads = sorted({f"{e['load_avg_1m_at_start']:.1f}" for e in every.values()})
    head = (
        "Not met, or on the line, and why: `python benchmarks/phases.py` cuts each case's process into phases "
        f"(`benchmarks/results/phases-cpu-{SPEED_RUN}.json`, load {' to '.join(loads[:: max(1, len(loads) - 1)])} "
        "when its cases started):"
    )
    wrap = textwrap.TextWrapper(width=116, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False)
    return "\n".join([textwrap.fill(head, 116), "", *(wrap.fill(b) for b in bullets)])


# The seconds a run took change from call to call: the check compares everything else.
SECONDS = re.compile(r"\d+(?:\.\d+)? s on ")
VARIES = {"one-run": lambda text: SECONDS.sub("N s on ", text)}


REGIONS: dict[str, Callable[[], str]] = {
    "one-run": one_run,
    "quickstart-readme-table": quickstart_readme_table,
    "quickstart-readme-summary": quickstart_readme_summary,
    "quickstart-time": quickstart_time,
    "quickstart-findings": quickstart_findings,
    "quickstart-report": quickstart_report,
    "quickstart-wall": _wall("quickstart"),
    "paper-synthetic-tests": paper_tests,
    "paper-synthetic-summaries": paper_summaries,
    "paper-synthetic-wall": _wall("paper-synthetic"),
    "keel-contest-wall": contest_wall,
    "keel-contest-rankings": contest_rankings,
    "keel-contest-bottom": contest_bottom,
    "keel-contest-claims": contest_claims,
    "keel-contest-tuning": contest_tuning,
    "keel-contest-summary": contest_summary,
    "mulan-yeast-averages": mulan_averages,
    "mulan-yeast-macro-tests": mulan_macro_tests,
    "mulan-yeast-labels": mulan_labels,
    "mulan-yeast-claims": mulan_claims,
    "mulan-yeast-wall": mulan_wall,
    "results-table": results_table,
    "speed-table": speed_table,
    "speed-profiles": speed_profiles,
}


# ----------------------------------------------------------------------------------------------------------
# Filling and checking


def fill(text: str, where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in REGIONS:
            raise SystemExit(f"{where}: unknown region {name!r}; known: {', '.join(REGIONS)}")
        new = f"{match.group(1)}{REGIONS[name]()}\n{match.group(4)}"
        same = VARIES.get(name, lambda t: t)
        return match.group(0) if same(new) == same(match.group(0)) else new

    return REGION.sub(replace, text)


def drift() -> list[str]:
    """Each region whose text differs from what the report files give, as ``page: region``."""
    out = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for match in REGION.finditer(text):
            if fill(match.group(0), page) != match.group(0):
                out.append(f"{page}: {match.group(2)}")
    if config_comment(CONFIG.read_text(encoding="utf-8")) != CONFIG.read_text(encoding="utf-8"):
        out.append(f"{CONFIG.relative_to(ROOT)}: the sweep's time in its comment")
    return out


CONFIG = ROOT / "configs" / "quickstart.yaml"
CONFIG_TIME = re.compile(r"^(# at three imbalance ratios and ten seeds \().*(\)\.)$", re.M)


def config_comment(text: str) -> str:
    """The quickstart config's comment with the sweep's runs and time from its study's run.txt."""
    info = f"{runs_of('quickstart')} runs, {run_info('quickstart')['wall_s']} s on 2 CPU cores in its study"
    return CONFIG_TIME.sub(lambda m: f"{m.group(1)}{info}{m.group(2)}", text)


# A page's prose (outside the regions) may quote a number only if a report file of its study holds it.
PAGE_STUDIES = {
    "docs/experiments/quickstart.md": ("quickstart",),
    "docs/experiments/paper-synthetic.md": ("paper-synthetic",),
    "docs/experiments/keel-contest.md": ("keel-contest", "keel-contest-defaults"),
    "docs/mulan-yeast.md": ("mulan-yeast",),
}
NUMBER = re.compile(r"(?<![\w.])[−+-]?\d+\.\d{2,3}(?![\d.])")


def known_numbers(study: str) -> set[str]:
    """Every number of the study's report files as the pages print it (3 decimals, 2 for ranks, points)."""
    values: list[float] = []
    for name in ("report.csv", "averages.csv"):
        if (EXPERIMENTS / study / name).exists():
            frame = table(study, name)
            values += list(frame.select_dtypes("number").to_numpy().ravel())
    found = set()
    for v in np.asarray(values, dtype=float):
        if np.isfinite(v):
            found |= {f"{abs(v):.3f}", f"{abs(v):.2f}"}
    return found


def unquoted_in(text: str, studies: tuple[str, ...]) -> list[str]:
    """The numbers of ``text``'s prose (regions and code blocks left out) that no report file of ``studies`` holds."""
    text = REGION.sub("", text)
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"\[[^\]]*…[^\]]*\]#\w+", "", text)  # a loss label's parameter list, not a result
    known = set().union(*(known_numbers(s) for s in studies))
    return [number for number in NUMBER.findall(text) if number.lstrip("−+-") not in known]


def unquoted() -> list[str]:
    """``page: number`` for each number of a study page's prose that its report files do not hold."""
    return [
        f"{page}: {number}"
        for page, studies in PAGE_STUDIES.items()
        for number in unquoted_in((ROOT / page).read_text(encoding="utf-8"), studies)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on any drift")
    args = parser.parse_args(argv)
    if args.check:
        problems = [f"{d}: differs from the report files" for d in drift()]
        problems += [f"{u}: in no report file of the study" for u in unquoted()]
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    for path, change in ((CONFIG, config_comment), *((ROOT / page, lambda t, p=page: fill(t, p)) for page in PAGES)):
        text = path.read_text(encoding="utf-8")
        new = change(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
