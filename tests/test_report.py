"""The report package: rows, statistics, formats and figures, checked against numpy, scipy, statsmodels,
scikit-learn and hand-worked values on fake run folders."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import fbeta_score, precision_score
from statsmodels.stats.multitest import multipletests

from helpers_runs import (
    SEEDS,
    FakeSweep,
    config_dict,
    metrics_frame,
    scored_splits,
    write_run,
    write_scored_run,
)
from hfa.errors import HfaError
from hfa.report import build_report, load_runs, render, sections
from hfa.report.collect import match_keys, pooled_keys, row_keys
from hfa.report.figures import save_figures
from hfa.report.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    bootstrap_ci,
    holm,
    ranking,
    smallest_p,
    summarize,
    wilcoxon_test,
)
from hfa.report.tables import MIN_PAIRS, format_number, format_ratio, format_signed, latex_escape, long_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
AUTHORS_GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


@pytest.fixture(scope="module")
def runs(sweep: FakeSweep):
    return load_runs(sweep.root)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bce, wbce and fbeta(beta=2) on two data sets (one at its natural ratio), six seeds, real metrics."""
    root = tmp_path_factory.mktemp("scored")
    shifts = {"bce": 0.25, "wbce": 0.3, "fbeta(beta=2)": 0.35}
    for data, ratio, natural in (("synthetic", 20.0, None), ("keel/yeast4", None, 28.1)):
        for label, shift in shifts.items():
            name = "fbeta" if label.startswith("fbeta") else label
            extra = {"loss.beta": 2.0} if name == "fbeta" else {}
            for seed in range(6):
                cfg = config_dict(name, ratio, seed, **{"data.name": data, **extra})
                splits = scored_splits(1000 * seed + hash(data) % 97, shift + 0.01 * seed)
                write_scored_run(root, f"{name}-{data.replace('/', '-')}-s{seed}", label, cfg, splits, natural)
    return root / "fake"


# ----------------------------------------------------------------------------------------------------------
# Rows never pool what differs


def test_default_rows_are_every_varying_key_but_the_seed(runs) -> None:
    # loss.name and loss.beta vary too, but the loss label decides them: no extra column, no extra row.
    assert row_keys(runs.table) == ["data.name", "loss", "data.imbalance_ratio"]
    report = build_report(runs)
    summary = report.summaries["fixed"]
    assert len(summary) == 4 and (summary["n"] == len(SEEDS)).all()
    assert report.rules == ["fixed", "tuned"] and report.pooled == []


def test_data_sets_and_settings_are_never_pooled(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for seed in range(3):
        write_run(tmp_path, f"a{seed}", "bce", config_dict("bce", 5.0, seed), metrics_frame(rng))
        cfg = config_dict("bce", 5.0, seed, **{"data.name": "sklearn/breast_cancer"})
        write_run(tmp_path, f"b{seed}", "bce", cfg, metrics_frame(rng))
        cfg = config_dict("f1", 5.0, seed, **{"train.lr": 0.1})
        write_run(tmp_path, f"c{seed}", "f1", cfg, metrics_frame(rng))
    runs = load_runs(tmp_path)
    keys = row_keys(runs.table)
    assert keys == ["data.name", "loss", "train.lr"]
    summary = build_report(runs).summaries["fixed"]
    assert sorted(map(tuple, summary[keys].astype(str).to_numpy())) == [
        ("sklearn/breast_cancer", "bce", "0.001"),
        ("synthetic", "bce", "0.001"),
        ("synthetic", "f1", "0.1"),
    ]
    assert (summary["n"] == 3).all()
    # Pairs match on every key but the loss: f1 at lr 0.1 has no bce partner at lr 0.1.
    assert match_keys(runs.table) == ["seed", "data.name", "train.lr"]
    paired = build_report(runs).comparisons["f1"]
    assert (paired["n"] == 0).all() and paired["p"].isna().all()
    # Asked for, pooling happens and is said.
    assert pooled_keys(runs.table, ["loss"]) == ["data.name"]  # each loss ran at one learning rate
    assert build_report(runs, by=["loss"]).pooled == ["data.name"]


def test_experiment_name_is_a_row_key_when_it_varies(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for name in ("one", "two"):
        cfg = config_dict("bce", 5.0, 0)
        cfg["name"] = name
        write_run(tmp_path, f"{name}-r", "bce", cfg, metrics_frame(rng))
    assert row_keys(load_runs(tmp_path).table) == ["data.name", "name", "loss"]


def test_summary_matches_numpy_and_skips_undefined(runs, sweep: FakeSweep) -> None:
    summary = build_report(runs).summaries["tuned"]
    for _, row in summary.iterrows():
        for metric in ("precision", "recall", "f1"):
            values = sweep.cell(row["loss"], row["data.imbalance_ratio"], metric, rule="tuned")
            assert row[f"{metric}_mean"] == pytest.approx(values.mean())
            assert row[f"{metric}_std"] == pytest.approx(values.std(ddof=1))
    rows = pd.DataFrame({"loss": ["a"] * 3, "tp": [0, 3, 4], "fp": [0, 1, 1], "fn": [5, 2, 1], "tn": [9, 8, 8]})
    rows["precision"] = [np.nan, 0.75, 0.8]
    out = summarize(rows, ["loss"], ["precision"]).iloc[0]
    assert out["precision_mean"] == pytest.approx(0.775) and out["precision_n"] == 2 and out["n"] == 3
    assert out["collapsed"] == 1


# ----------------------------------------------------------------------------------------------------------
# One metric per column


def test_no_column_mixes_metrics(scored: Path) -> None:
    """Every f1/f2/precision value of every row is that metric of that row's own predictions (scikit-learn)."""
    runs = load_runs(scored, metrics=["f3"])
    ok = runs.table[runs.table["status"] == "ok"]
    assert {"f1", "f2", "f3"} <= set(ok.columns) and "fbeta" not in ok.columns
    splits_of = {}
    for folder in scored.iterdir():
        run_id = folder.name
        name = run_id.split("-")[0]
        seed = int(run_id.rsplit("-s", 1)[1])
        data = "keel/yeast4" if "yeast4" in run_id else "synthetic"
        shift = {"bce": 0.25, "wbce": 0.3, "fbeta": 0.35}[name]
        splits_of[run_id] = scored_splits(1000 * seed + hash(data) % 97, shift + 0.01 * seed)
    for row in ok.itertuples(index=False):
        y, p = splits_of[row.run_id][row.split]
        thresholds = AUTHORS_GRID if row.rule == "mean" else [row.threshold]
        for column, beta in (("f1", 1.0), ("f2", 2.0), ("f3", 3.0)):
            expected = np.mean([fbeta_score(y, p >= t, beta=beta, zero_division=np.nan) for t in thresholds])
            assert getattr(row, column) == pytest.approx(expected, abs=1e-12), (row.run_id, row.rule, column)


def test_default_metrics_are_the_fscores_the_losses_train_for(scored: Path) -> None:
    report = build_report(load_runs(scored))
    assert report.metrics == ["precision", "recall", "f1", "f2"]
    assert set(report.comparisons) == {"f1", "f2"}
    # bce's F2 is BCE's real F2, so the Δ of F2 is F2 minus F2.
    paired = report.comparisons["f2"]
    summary = report.summaries["fixed"]
    row = paired[(paired["loss"] == "fbeta(beta=2)") & (paired["rule"] == "fixed")].iloc[0]
    bce = summary[(summary["loss"] == "bce") & (summary["data.name"] == row["data.name"])].iloc[0]
    assert row["baseline_mean"] == pytest.approx(bce["f2_mean"])


def test_any_count_metric_on_request(scored: Path) -> None:
    report = build_report(load_runs(scored, metrics=["f0.5", "g_mean"]), metrics=["f0.5", "g_mean", "brier"])
    assert report.metrics == ["f0.5", "g_mean", "brier"]
    with pytest.raises(HfaError, match=r"unknown metric 'auc'; available: .*or any f<beta>"):
        build_report(load_runs(scored), metrics=["auc"])


# ----------------------------------------------------------------------------------------------------------
# The honest baseline and the statistics


def test_each_loss_is_compared_under_its_rule_and_with_bce_tuned(scored: Path) -> None:
    paired = build_report(load_runs(scored)).comparisons["f1"]
    combos = set(zip(paired["rule"], paired["baseline_rule"], strict=True))
    assert combos == {("fixed", "fixed"), ("fixed", "tuned"), ("tuned", "tuned")}
    assert (paired["n"] == 6).all()
    runs = load_runs(scored)
    ok = runs.table[runs.table["status"] == "ok"]

    def f1(loss: str, rule: str) -> pd.Series:
        rows = ok[(ok["loss"] == loss) & (ok["rule"] == rule) & (ok["split"] == "test")]
        return rows[rows["data.name"] == "synthetic"].set_index("seed")["f1"].sort_index()

    row = paired[
        (paired["loss"] == "wbce") & (paired["rule"] == "fixed") & (paired["baseline_rule"] == "tuned")
        & (paired["data.name"] == "synthetic")
    ].iloc[0]  # fmt: skip
    d = (f1("wbce", "fixed") - f1("bce", "tuned")).to_numpy()
    assert row["delta"] == pytest.approx(d.mean())
    assert row["p"] == pytest.approx(stats.wilcoxon(d, method="exact").pvalue)
    low, high = bootstrap_ci(d)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    np.testing.assert_allclose(paired["p_holm"], multipletests(paired["p"], method="holm")[1])


def test_wilcoxon_passes_its_choices_explicitly() -> None:
    # FACTS.md: scipy 1.10 and 1.17 disagree on this sample under their defaults; hfa drops the zero and
    # uses the exact distribution of the remaining five positive differences: p = 2 / 2**5.
    test = wilcoxon_test([0.04, 0, 0.03, 0.06, 0.02, 0.045])
    assert test.p == pytest.approx(0.0625) and test.method == "exact"
    d = np.array([0.1, -0.2, 0.3, 0.05, -0.04, 0.07])
    assert wilcoxon_test(d).p == pytest.approx(stats.wilcoxon(d, zero_method="wilcox", method="exact").pvalue)
    # Tied |differences|: every sign flip enumerated. Five positive differences give 2/32 = 0.0625, the smallest p
    # five pairs allow; the normal approximation would claim 0.041.
    tied = wilcoxon_test([0.1, 0.1, 0.2, 0.2, 0.3])
    assert tied.method == "exact (all sign flips)" and tied.p == pytest.approx(0.0625)
    assert stats.wilcoxon([0.1, 0.1, 0.2, 0.2, 0.3], method="approx").pvalue < 0.05
    # By hand, |d| = 0.1, 0.1, 0.2, 0.2, 0.3, 0.05 with signs - + + + + +: ranks 2.5 2.5 4.5 4.5 6 1, W- = 2.5;
    # of the 64 sign patterns, those with W- <= 2.5 or W+ <= 2.5 (W- >= 18.5) number 8, so p = 8/64.
    ties = np.array([0.1, -0.1, 0.2, 0.2, 0.3, 0.05])
    assert wilcoxon_test(ties).p == pytest.approx(8 / 64)
    many = np.r_[np.arange(1, 21) / 100, 0.01]  # 21 pairs with a tie: the normal approximation
    approx = wilcoxon_test(many)
    assert approx.method == "normal approximation"
    assert approx.p == pytest.approx(stats.wilcoxon(many, zero_method="wilcox", method="approx").pvalue)
    assert math.isnan(wilcoxon_test([0.1]).p) and math.isnan(wilcoxon_test([0.0, 0.0, 0.0]).p)
    assert smallest_p(5) == 0.0625 and smallest_p(6) == pytest.approx(0.03125)


def test_bootstrap_interval_is_scipys() -> None:
    d = np.array([0.04, 0.01, 0.03, 0.06, 0.02, 0.045, -0.01])
    reference = stats.bootstrap(
        (d,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile", rng=np.random.default_rng(BOOTSTRAP_SEED)
    ).confidence_interval
    assert bootstrap_ci(d) == (pytest.approx(reference.low), pytest.approx(reference.high))
    low, high = bootstrap_ci(d)
    assert low < d.mean() < high
    assert bootstrap_ci([0.02, 0.02, 0.02]) == (0.02, 0.02)
    assert all(math.isnan(v) for v in bootstrap_ci([0.1]))


@given(
    d=st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=60).filter(lambda v: len(set(v)) > 1),
    confidence=st.sampled_from([0.9, 0.95, 0.99]),
)
@settings(max_examples=25, deadline=None, derandomize=True)
def test_bootstrap_interval_is_scipys_draw_for_draw(d, confidence) -> None:
    reference = stats.bootstrap(
        (np.array(d),),
        np.mean,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    ).confidence_interval
    assert bootstrap_ci(d, confidence) == (reference.low, reference.high)  # the same bits


def test_holm_by_hand_and_from_facts() -> None:
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.03125] * 6), [0.1875] * 6)  # FACTS.md: the README's six tests
    out = holm([0.01, np.nan, 0.04])
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.05, 0.03125, 1e-300]), st.just(math.nan)),
        min_size=0,
        max_size=40,
    )
)
def test_holm_equals_statsmodels_bit_for_bit(p: list[float]) -> None:
    p_values = np.array(p, dtype=float)
    defined = ~np.isnan(p_values)
    expected = np.full(p_values.shape, np.nan)
    if defined.any():
        expected[defined] = multipletests(p_values[defined], method="holm")[1]
    np.testing.assert_array_equal(holm(p_values), expected)


def test_ranking_friedman_and_critical_difference() -> None:
    scores = pd.DataFrame(
        {"bce": [0.5, 0.6, 0.55, 0.7], "f1": [0.6, 0.65, 0.5, 0.8], "wbce": [0.4, 0.62, 0.45, 0.6]},
        index=["a", "b", "c", "d"],
    )
    r = ranking(scores, "f1", "fixed")
    # Ranks per block (1 = best): a: f1 bce wbce; b: f1 wbce bce; c: bce f1 wbce; d: f1 bce wbce.
    assert r.mean_rank.to_dict() == {"f1": 1.25, "bce": 2.0, "wbce": 2.75}
    reference = stats.friedmanchisquare(scores["bce"], scores["f1"], scores["wbce"])
    assert r.friedman_p == pytest.approx(reference.pvalue) and r.friedman_stat == pytest.approx(reference.statistic)
    # Demšar (2006), Table 5(a): q_0.05 = 2.343 for k = 3, so CD = 2.343 * sqrt(3 * 4 / (6 * 4)).
    assert r.critical_difference == pytest.approx(2.343 * math.sqrt(12 / 24), abs=1e-3)
    nemenyi = r.nemenyi()
    assert list(nemenyi.index) == ["bce", "f1", "wbce"] and nemenyi.loc["f1", "wbce"] < nemenyi.loc["f1", "bce"]
    with pytest.raises(HfaError, match="at least 2 complete blocks"):
        ranking(scores.iloc[:1], "f1", "fixed")


def test_ranking_across_data_sets_in_the_report(scored: Path) -> None:
    report = build_report(load_runs(scored))
    fixed = next(r for r in report.rankings if r.metric == "f1" and r.rule == "fixed")
    assert fixed.blocks == 2 and set(fixed.mean_rank.index) == {"bce", "wbce", "fbeta(beta=2)"}


def test_small_n_is_said(runs) -> None:
    text = render(build_report(runs), "markdown")
    assert "n = 3: too few pairs for p < 0.05" in text and "0.250 for n = 3" in text


# ----------------------------------------------------------------------------------------------------------
# Collapsed runs and undefined values


def test_collapsed_run_is_flagged_and_undefined_is_not_zero(tmp_path: Path) -> None:
    for seed in range(3):
        splits = scored_splits(seed, 0.3)
        write_scored_run(tmp_path, f"bce-{seed}", "bce", config_dict("bce", 10.0, seed), splits)
        # A model that scores everything 0.01: nothing predicted positive at 0.5.
        flat = {s: (y, np.full_like(p, 0.01)) for s, (y, p) in splits.items()}
        write_scored_run(tmp_path, f"acc-{seed}", "accuracy", config_dict("accuracy", 10.0, seed), flat)
    report = build_report(load_runs(tmp_path))
    fixed = report.summaries["fixed"].set_index("loss")
    assert fixed.loc["accuracy", "collapsed"] == 3 and fixed.loc["bce", "collapsed"] == 0
    assert fixed.loc["accuracy", "precision_n"] == 0 and np.isnan(fixed.loc["accuracy", "precision_mean"])
    y, p = scored_splits(0, 0.3)["test"]
    assert np.isnan(precision_score(y, np.zeros_like(y), zero_division=np.nan))  # scikit-learn agrees
    text = render(report, "markdown")
    assert "| accuracy | undef | 0.000±0.000 | 0.000±0.000 | 3 | 3 |" in text
    # The bottom line first, then the tables; a constant ratio is in the title
    assert text.startswith("**Bottom line") and "\n**synthetic (ratio 10) · test split · fixed rule" in text
    assert "coll." in text
    csv = pd.read_csv(io.StringIO(render(report, "csv")))
    cell = csv[(csv["table"] == "summary") & (csv["loss"] == "accuracy") & (csv["metric"] == "precision")]
    cell = cell[cell["rule"] == "fixed"]
    assert cell["mean"].isna().all() and (cell["n_defined"] == 0).all() and (cell["collapsed"] == 3).all()


# ----------------------------------------------------------------------------------------------------------
# Formats agree


def test_numbers_print_alike_and_never_minus_zero() -> None:
    assert format_number(-0.0001) == "0.000" and format_number(-0.0) == "0.000" and format_number(0.1234) == "0.123"
    assert format_signed(-0.0004) == "0.000" and format_signed(0.0123) == "+0.012" and format_signed(-0.02) == "-0.020"
    assert format_number(float("nan")) == "undef"
    assert format_ratio(5.0) == "5" and format_ratio(2.5) == "2.5" and format_ratio(None, 28.1) == "natural 28.1"
    assert latex_escape("Δ ± τ <") == "$\\Delta$ $\\pm$ $\\tau$ $<$"


def test_every_format_carries_the_same_numbers(scored: Path) -> None:
    report = build_report(load_runs(scored))
    markdown, latex = render(report, "markdown"), render(report, "latex")
    long = pd.read_csv(io.StringIO(render(report, "csv")), keep_default_na=False, na_values=[""])
    assert set(long["table"]) == {"summary", "paired", "ranking", "bottom", "bottom_vs"}
    for _, row in long[long["table"] == "bottom"].iterrows():
        interval = f"{format_number(row['mean'])} [{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"
        assert f"| {format_number(row['val_mean'])} | {interval} |" in markdown
    assert set(long["data.imbalance_ratio"].dropna()) == {"20", "natural"}
    assert set(long.loc[long["data.imbalance_ratio"] == "natural", "natural_ratio"]) == {28.1}
    assert "| natural |" in markdown and "& natural &" in latex
    assert "**keel/yeast4 (natural ratio 28.1) · test split" in markdown and "keel/yeast4 (natural ratio 28.1)" in latex
    summary = long[long["table"] == "summary"]
    for _, row in summary.iterrows():
        cell = f"{format_number(row['mean'])}±{format_number(row['std'])}"
        assert cell in markdown and cell.replace("±", "$\\pm$") in latex
    for _, row in long[long["table"] == "paired"].iterrows():
        # Ratios differ between the two data sets here, so loss, ratio and rules name one markdown line.
        start = f"| {row['loss']} | {row['data.imbalance_ratio']} | {row['rule']} | {row['baseline_rule']} |"
        lines = [line for line in markdown.splitlines() if line.startswith(start) and row["metric"] in "f1 f2"]
        few = row["n_pairs"] < MIN_PAIRS  # no interval, the test flagged
        assert not few or (pd.isna(row["ci_low"]) and pd.isna(row["ci_high"]))
        expected = [
            format_signed(row["delta"]),
            "withheld" if few else f"[{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]",
            ("<0.001" if row["p"] < 0.001 else f"{row['p']:.3f}") + ("†" if few else ""),
            ("<0.001" if row["p_holm"] < 0.001 else f"{row['p_holm']:.3f}") + ("†" if few else ""),
            str(int(row["n_pairs"])),
        ]
        assert expected in [[c.strip() for c in line.strip("|").split("|")][4:] for line in lines]
    assert "-0.000" not in markdown + latex + render(report, "csv")


def test_intervals_from_fewer_than_five_pairs_are_withheld(scored: Path) -> None:
    runs = load_runs(scored)
    full = long_table(build_report(runs))
    paired = full[full["table"] == "paired"]
    assert (paired["n_pairs"] == 6).all() and paired["ci_low"].notna().all()
    runs.table = runs.table[runs.table["seed"] < MIN_PAIRS - 1]  # four seeds: four pairs
    report = build_report(runs)
    paired = long_table(report).query("table == 'paired'")
    assert (paired["n_pairs"] == 4).all() and paired["ci_low"].isna().all() and paired["ci_high"].isna().all()
    assert paired["p"].notna().all()  # the test is kept, flagged
    text = render(report, "markdown")
    compared = [line for line in text.splitlines() if "| withheld |" in line]
    assert compared and all("†" in line and "[" not in line for line in compared)
    assert "fewer than 5 pairs; no interval is given" in text


def test_cells_on_fewer_runs_than_the_fullest_are_marked(scored: Path) -> None:
    runs = load_runs(scored)
    one = runs.table[(runs.table["loss"] == "wbce") & (runs.table["seed"] == 0)]["run_id"].iloc[0]
    runs.table = runs.table[runs.table["run_id"] != one]  # wbce on one data set: 5 runs, the others 6
    summary = build_report(runs).summaries["fixed"]
    text = render(build_report(runs), "markdown")
    for _, row in summary.iterrows():
        cell = f"{format_number(row['f1_mean'])}±{format_number(row['f1_std'])}"
        marked = row["n"] < 6
        assert (cell + "*" in text) == marked, (row["loss"], row["n"])
    assert "* mean over fewer runs than the table's fullest cells (6)" in text


def test_pooling_is_named_in_the_titles_it_changes(sweep: FakeSweep) -> None:
    report = build_report(load_runs(sweep.root), by=["loss"])
    assert report.pooled == ["data.imbalance_ratio"]
    titles = [s.title for s in sections(report)]
    summaries = [t for t in titles if "mean±std" in t]
    tests = [t for t in titles if " Δ " in t]
    assert summaries and all(t.endswith("mean±std over seeds and pooled ratio (--by)") for t in summaries)
    assert tests and all(t.endswith("· pooled ratio (--by)") for t in tests)
    assert all("pooled" not in s.title for s in sections(build_report(load_runs(sweep.root))))


def test_sections_fit_80_columns(scored: Path) -> None:
    for section in sections(build_report(load_runs(scored))):
        widths = [max(len(h), *(len(r[i]) for r in section.rows)) for i, h in enumerate(section.header)]
        assert sum(widths) + 2 * (len(widths) - 1) <= 80, section.title


def test_long_table_round_trip(runs) -> None:
    report = build_report(runs)
    frame = long_table(report)
    back = pd.read_csv(io.StringIO(render(report, "csv")), dtype={"data.imbalance_ratio": str})
    assert list(back.columns) == list(frame.columns)
    np.testing.assert_allclose(back["mean"].to_numpy(float), frame["mean"].to_numpy(float), equal_nan=True)


# ----------------------------------------------------------------------------------------------------------
# Figures


def test_figures_are_written(scored: Path, tmp_path: Path) -> None:
    runs = load_runs(scored)
    report = build_report(runs)
    paths = save_figures(runs, report, tmp_path / "figs" / "report.png")
    assert [p.name for p in paths] == ["report.png", "report-learning.png", "report-pr.png", "report-cd.png"]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(p.name for p in paths)


def test_figure_rings_means_on_fewer_runs(runs) -> None:
    from hfa.report.figures import metrics_figure

    report = build_report(runs)
    summary = report.summaries["fixed"]
    summary.loc[summary.index[1], "precision_n"] = 1  # precision defined for one run of this cell
    few = summary[summary["precision_n"] < summary["n"].max()]
    assert len(few) == 1
    figure = metrics_figure(report)
    texts = {t.get_text() for ax in figure.axes for t in ax.texts}
    for _, row in few.iterrows():
        assert f"{int(row['precision_n'])}/{int(summary['n'].max())}" in texts
    rings = [line for ax in figure.axes for line in ax.lines if line.get_markerfacecolor() == "none"]
    assert rings
    legend = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    assert any(text.startswith("ring, k/n beside it") for text in legend)


def test_figure_bars_stay_inside_the_metric_range(scored: Path) -> None:
    from hfa.report.figures import metrics_figure

    report = build_report(load_runs(scored))
    for summary in report.summaries.values():
        summary["precision_std"] = 5.0  # a bar this long would reach -4 and 6
        summary["precision_mean"] = 0.5
    figure = metrics_figure(report)
    bars = [c for ax in figure.axes for c in ax.collections if hasattr(c, "get_segments")]
    ys = np.concatenate([np.asarray(seg)[:, 1] for c in bars for seg in c.get_segments()])
    assert ys.size and ys.min() == 0.0 and ys.max() == 1.0


def test_figure_suffix_is_checked(runs, tmp_path: Path) -> None:
    with pytest.raises(HfaError, match=r"unknown suffix '.jpg'; allowed: .png, .pdf, .svg"):
        save_figures(runs, build_report(runs), tmp_path / "plot.jpg")
    assert not (tmp_path / "plot.jpg").exists()


def test_categorical_key_is_drawn_as_categories(tmp_path: Path) -> None:
    from hfa.report.figures import _positions

    rng = np.random.default_rng(3)
    for hidden in ([32], [64, 64]):
        for seed in range(2):
            cfg = config_dict("bce", 5.0, seed, **{"model.hidden": hidden})
            write_run(tmp_path, f"h{len(hidden)}-{seed}", "bce", cfg, metrics_frame(rng))
    report = build_report(load_runs(tmp_path))
    positions, labels, numeric = _positions(report, report.summaries["fixed"], "model.hidden")
    assert not numeric and labels == ["[32]", "[64, 64]"] and positions.tolist() == [0.0, 1.0]


def test_natural_ratio_is_placed_at_its_value(scored: Path) -> None:
    from hfa.report.figures import _positions

    report = build_report(load_runs(scored))
    summary = report.summaries["fixed"]
    positions, labels, numeric = _positions(report, summary, "data.imbalance_ratio")
    assert numeric and labels is None
    assert set(positions[summary["data.name"] == "keel/yeast4"]) == {28.1}


def test_a_natural_ratio_shared_by_all_rows_is_in_titles_and_csv(tmp_path: Path) -> None:
    for seed in range(2):
        for name in ("bce", "f1"):
            cfg = config_dict(name, None, seed, **{"data.name": "keel/yeast4"})
            write_scored_run(tmp_path, f"{name}-{seed}", name, cfg, scored_splits(seed, 0.3), source_ratio=28.1)
    report = build_report(load_runs(tmp_path))
    assert "data.imbalance_ratio" not in report.keys
    text = render(report, "markdown")
    assert text.startswith("**Bottom line") and "\n**keel/yeast4 (natural ratio 28.1) · test split" in text
    csv = pd.read_csv(io.StringIO(render(report, "csv")))
    assert set(csv.loc[csv["table"] == "summary", "natural_ratio"]) == {28.1}
