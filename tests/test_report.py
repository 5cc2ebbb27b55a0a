"""Summaries, paired tests, text formats and plots, checked against numpy and scipy on known numbers."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from helpers_runs import RATIOS, SEEDS, FakeSweep, config_dict, metrics_frame, write_run
from hfa.errors import HfaError
from hfa.plots import plot_summary
from hfa.report import (
    format_comparison,
    format_summary,
    latex_escape,
    paired_comparison,
    pooled_keys,
    summarize,
    wilcoxon_p,
)
from hfa.results import collect_results

LOSSES = ("bce", "fbeta(beta=2)")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def table(sweep: FakeSweep) -> pd.DataFrame:
    return collect_results(sweep.root)


def test_summarize_matches_numpy(sweep: FakeSweep, table: pd.DataFrame) -> None:
    summary = summarize(table)
    assert list(summary.columns) == [
        "loss",
        "data.imbalance_ratio",
        *(f"{m}_{s}" for m in ("precision", "recall", "f1") for s in ("mean", "std")),
        "n",
    ]
    # Baseline first, ratios numerically (they were written 100 then 5); the failed f1 run is left out.
    assert list(summary["loss"]) == ["bce", "bce", "fbeta(beta=2)", "fbeta(beta=2)"]
    assert list(summary["data.imbalance_ratio"]) == [5.0, 100.0, 5.0, 100.0]
    assert (summary["n"] == len(SEEDS)).all()
    for _, row in summary.iterrows():
        for metric in ("precision", "recall", "f1"):
            values = sweep.cell(row["loss"], row["data.imbalance_ratio"], metric)
            assert row[f"{metric}_mean"] == pytest.approx(np.mean(values))
            assert row[f"{metric}_std"] == pytest.approx(np.std(values, ddof=1))


def test_summarize_other_split_rule_and_metrics(sweep: FakeSweep, table: pd.DataFrame) -> None:
    summary = summarize(table, by=["loss"], split="val", rule="mean", metrics=["mcc"])
    assert list(summary.columns) == ["loss", "mcc_mean", "mcc_std", "n"]
    bce = summary[summary["loss"] == "bce"].iloc[0]
    values = np.concatenate([sweep.cell("bce", r, "mcc", "val", "mean") for r in RATIOS])
    assert bce["n"] == len(values)
    assert bce["mcc_mean"] == pytest.approx(values.mean())
    assert bce["mcc_std"] == pytest.approx(values.std(ddof=1))


def test_summarize_single_run_has_no_std(tmp_path: Path) -> None:
    write_run(tmp_path, "r1", "bce", config_dict("bce", 10.0, 0), metrics_frame(np.random.default_rng(1)))
    summary = summarize(collect_results(tmp_path))
    assert summary["n"].tolist() == [1]
    assert math.isnan(summary["f1_std"].iloc[0])
    assert "(n=1)" in format_summary(summary, "markdown") and "±" not in format_summary(summary, "markdown")


def test_summarize_missing_ratio_is_a_group_sorted_last(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    write_run(tmp_path, "a", "bce", config_dict("bce", None, 0), metrics_frame(rng))
    write_run(tmp_path, "b", "bce", config_dict("bce", 20.0, 0), metrics_frame(rng))
    summary = summarize(collect_results(tmp_path))
    assert summary["data.imbalance_ratio"].iloc[0] == 20.0 and pd.isna(summary["data.imbalance_ratio"].iloc[1])
    assert "| bce | null |" in format_summary(summary, "markdown")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": ["loss", "ratio"]}, r"unknown grouping key 'ratio'; available: loss, name, seed, data\.name"),
        ({"metrics": ["f2"]}, r"unknown metric 'f2'; available: tp, fp, fn, tn, precision"),
        ({"split": "train"}, r"unknown split 'train'; allowed: val, test"),
        ({"rule": "best"}, r"unknown rule 'best'; allowed: fixed, tuned, mean"),
    ],
)
def test_summarize_rejects_bad_choices(table: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(HfaError, match=message):
        summarize(table, **kwargs)


def test_paired_comparison_matches_scipy(sweep: FakeSweep, table: pd.DataFrame) -> None:
    paired = paired_comparison(table, baseline="bce")
    assert list(paired.columns) == [
        "loss",
        "data.imbalance_ratio",
        "metric",
        "baseline",
        "mean_diff",
        "pairs",
        "p_value",
    ]
    assert list(paired["data.imbalance_ratio"]) == [5.0, 100.0]
    for _, row in paired.iterrows():
        ratio = row["data.imbalance_ratio"]
        diffs = sweep.cell("fbeta(beta=2)", ratio, "f1") - sweep.cell("bce", ratio, "f1")
        assert row["loss"] == "fbeta(beta=2)" and row["pairs"] == len(SEEDS)
        assert row["mean_diff"] == pytest.approx(diffs.mean())
        assert row["p_value"] == pytest.approx(wilcoxon(diffs).pvalue)


def test_paired_comparison_with_six_seeds_can_be_significant(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    f1_base = rng.uniform(0.4, 0.6, size=6)
    gains = np.array([0.05, 0.07, 0.02, 0.09, 0.04, 0.06])
    for seed in range(6):
        for label, f1 in (("bce", f1_base[seed]), ("f1", f1_base[seed] + gains[seed])):
            metrics = metrics_frame(rng)
            metrics["f1"] = f1
            write_run(tmp_path, f"{label}-{seed}", label, config_dict(label, 10.0, seed), metrics)
    paired = paired_comparison(collect_results(tmp_path), metric="f1")
    row = paired.iloc[0]
    assert row["pairs"] == 6 and row["mean_diff"] == pytest.approx(gains.mean())
    assert row["p_value"] == pytest.approx(wilcoxon(gains).pvalue) == pytest.approx(2 / 2**6)


def test_paired_comparison_unknown_baseline(table: pd.DataFrame) -> None:
    with pytest.raises(HfaError, match=r"baseline loss 'focal' .*losses present: bce, fbeta\(beta=2\)"):
        paired_comparison(table, baseline="focal")


def test_paired_comparison_ambiguous_runs_name_the_key(fresh_sweep: FakeSweep, tmp_path: Path) -> None:
    # A second fbeta run per seed differing only in delta: which one pairs with bce is undefined.
    rng = np.random.default_rng(4)
    cfg = config_dict("fbeta", 5.0, 0, **{"loss.beta": 2.0, "loss.delta": 0.2})
    write_run(tmp_path, "fbeta-d02", "fbeta(beta=2)", cfg, metrics_frame(rng))
    table = collect_results(tmp_path)
    with pytest.raises(HfaError, match=r"ambiguous.*differ in loss\.delta: add it with --by"):
        paired_comparison(table)
    assert pooled_keys(table) == ["loss.delta"]
    paired = paired_comparison(table, by=["loss", "data.imbalance_ratio", "loss.delta"])
    assert paired["pairs"].tolist() == [3, 1, 3]  # ratio 5: delta 0.1 then 0.2; ratio 100


def test_wilcoxon_p_undefined_cases() -> None:
    assert math.isnan(wilcoxon_p([0.1]))
    assert math.isnan(wilcoxon_p([0.0, 0.0, 0.0]))
    assert math.isnan(wilcoxon_p([np.nan, 0.2]))
    assert wilcoxon_p([0.1, -0.2, 0.3]) == pytest.approx(wilcoxon([0.1, -0.2, 0.3]).pvalue)


def test_markdown_cells(sweep: FakeSweep, table: pd.DataFrame) -> None:
    text = format_summary(summarize(table), "markdown")
    lines = text.splitlines()
    assert lines[0] == "| loss | data.imbalance_ratio | precision | recall | f1 |"
    assert lines[1] == "| --- | --- | ---: | ---: | ---: |"
    values = sweep.cell("fbeta(beta=2)", 100.0, "f1")
    cell = f"{values.mean():.3f} ± {values.std(ddof=1):.3f} (n=3)"
    assert any(line.startswith("| fbeta(beta=2) | 100 |") and line.endswith(f"| {cell} |") for line in lines)


def test_csv_round_trip(table: pd.DataFrame) -> None:
    summary = summarize(table)
    back = pd.read_csv(io.StringIO(format_summary(summary, "csv")))
    assert list(back.columns) == list(summary.columns)
    pd.testing.assert_frame_equal(back, summary, check_dtype=False)


def test_latex(table: pd.DataFrame) -> None:
    text = format_summary(summarize(table), "latex")
    assert text.startswith("\\begin{tabular}{llrrrr}\n\\toprule\n")
    assert "\\midrule" in text and text.rstrip().endswith("\\bottomrule\n\\end{tabular}")
    assert "data.imbalance\\_ratio" in text and "data.imbalance_ratio" not in text
    assert "$\\pm$" in text and "±" not in text
    assert latex_escape("a_b & 50% ±") == "a\\_b \\& 50\\% $\\pm$"


def test_comparison_formats(table: pd.DataFrame) -> None:
    paired = paired_comparison(table)
    markdown = format_comparison(paired, "markdown")
    assert markdown.splitlines()[0] == "| loss | data.imbalance_ratio | Δ f1 | pairs | p-value |"
    assert "$\\Delta$ f1" in format_comparison(paired, "latex")
    back = pd.read_csv(io.StringIO(format_comparison(paired, "csv")))
    assert back["pairs"].tolist() == paired["pairs"].tolist()


def test_unknown_format(table: pd.DataFrame) -> None:
    with pytest.raises(HfaError, match=r"unknown format 'html'; allowed: markdown, csv, latex"):
        format_summary(summarize(table), "html")


def test_plot_writes_png(table: pd.DataFrame, tmp_path: Path) -> None:
    path = plot_summary(summarize(table), tmp_path / "figs" / "summary.png")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert [p.name for p in path.parent.iterdir()] == ["summary.png"]  # the temporary file was renamed


def test_plot_categorical_x(table: pd.DataFrame, tmp_path: Path) -> None:
    summary = summarize(table, by=["loss"], metrics=["f1"])
    path = plot_summary(summary, tmp_path / "by_loss.svg", x="loss", metrics=["f1"])
    assert path.read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": "train.lr"}, r"cannot plot against 'train.lr'.*available: loss, data.imbalance_ratio"),
        ({"metrics": ["mcc"]}, r"cannot plot metric 'mcc'.*available: precision, recall, f1"),
        ({"path": "plot.jpg"}, r"unknown suffix '.jpg'; allowed: .png, .pdf, .svg"),
    ],
)
def test_plot_errors(table: pd.DataFrame, tmp_path: Path, kwargs: dict, message: str) -> None:
    path = tmp_path / kwargs.pop("path", "plot.png")
    with pytest.raises(HfaError, match=message):
        plot_summary(summarize(table), path, **kwargs)
    assert not path.exists()


def test_no_rows_for_the_choice(tmp_path: Path) -> None:
    write_run(tmp_path, "f", "f1", config_dict("f1", 10.0, 0), None, status="failed", error="boom")
    with pytest.raises(HfaError, match=r"no test/fixed rows among the 0 successful run\(s\) of 1"):
        summarize(collect_results(tmp_path))


def test_latex_comparison_escapes_headers_and_symbols(table: pd.DataFrame) -> None:
    text = format_comparison(paired_comparison(table), "latex")
    assert "data.imbalance\\_ratio & $\\Delta$ f1 & pairs & p-value" in text
    assert latex_escape("<0.001") == "$<$0.001"
