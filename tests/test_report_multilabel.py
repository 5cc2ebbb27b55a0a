"""Reports of multi-label runs (the label a row key, never pooled; pairs matched label by label) and the
``tuned_f<beta>`` rules of ``eval.tune_betas`` (BCE tuned for the F-beta an F-beta loss is compared on).
Expectations come from metrics.csv read with pandas, scipy and scikit-learn, not through the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import fbeta_score
from typer.testing import CliRunner

from helpers_runs import config_dict, scored_splits, write_run, write_scored_run
from hfa.cli import app
from hfa.errors import HfaError
from hfa.metrics import evaluate, tune_threshold
from hfa.metrics_multilabel import evaluate_multilabel
from hfa.report import build_report, load_runs, render
from hfa.report.collect import row_keys

LABELS = ["z", "a", "m"]  # not in alphabetical order: the report keeps the targets' order
SEEDS = range(6)
runner = CliRunner()


def multilabel_splits(seed: int, shift: float, n: int = 300) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for split in ("val", "test"):
        y = (rng.random((n, len(LABELS))) < [0.1, 0.3, 0.05]).astype(int)
        y[:2] = [[1, 1, 1], [0, 0, 0]]
        p = np.clip(rng.normal(0.3 + shift * y, 0.15), 0.0, 1.0)
        out[split] = (y, p)
    return out


@pytest.fixture(scope="module")
def multilabel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bce and wbce on three labels, six seeds, metrics.csv from evaluate_multilabel on real scores."""
    root = tmp_path_factory.mktemp("multilabel")
    for loss, shift in (("bce", 0.2), ("wbce", 0.3)):
        for seed in SEEDS:
            cfg = config_dict(loss, None, seed, **{"data.name": "mulan/yeast"})
            metrics = evaluate_multilabel(multilabel_splits(100 + seed, shift + 0.02 * seed), LABELS)
            write_run(root, f"{loss}-s{seed}", loss, cfg, metrics)
    return root / "fake"


def read_metrics(root: Path, loss: str, label: str, rule: str, metric: str) -> pd.Series:
    """metrics.csv of each seed's run, read directly: seed -> value on the test split."""
    values = {}
    for seed in SEEDS:
        table = pd.read_csv(root / f"{loss}-s{seed}" / "metrics.csv", keep_default_na=False, na_values=[""])
        row = table[(table["split"] == "test") & (table["rule"] == rule) & (table["label"] == label)]
        values[seed] = float(row[metric].iloc[0])
    return pd.Series(values)


def test_the_label_is_a_row_key_in_target_order_with_the_averages_last(multilabel: Path) -> None:
    runs = load_runs(multilabel)
    assert row_keys(runs.table)[:3] == ["data.name", "label", "loss"]
    summary = build_report(runs).summaries["fixed"]
    assert list(dict.fromkeys(summary["label"])) == [*LABELS, "macro", "micro"]
    assert len(summary) == 2 * (len(LABELS) + 2) and (summary["n"] == len(SEEDS)).all()
    # --by without the label still separates labels: a label row pooled with the macro row would be wrong.
    assert "label" in build_report(runs, by=["loss"]).keys


def test_per_label_means_and_pairs_match_the_run_files(multilabel: Path) -> None:
    report = build_report(load_runs(multilabel), metrics=["precision", "recall", "f1"], tests=["recall", "f1"])
    summary = report.summaries["tuned"].set_index(["label", "loss"])
    expected = read_metrics(multilabel, "wbce", "a", "tuned", "recall")
    assert summary.loc[("a", "wbce"), "recall_mean"] == pytest.approx(expected.mean())
    assert summary.loc[("a", "wbce"), "recall_std"] == pytest.approx(expected.std(ddof=1))
    assert set(report.comparisons) == {"recall", "f1"}
    paired = report.comparisons["recall"]
    row = paired[(paired["label"] == "m") & (paired["rule"] == "fixed") & (paired["baseline_rule"] == "fixed")]
    wbce, bce = (read_metrics(multilabel, loss, "m", "fixed", "recall") for loss in ("wbce", "bce"))
    d = wbce - bce
    assert row["n"].iloc[0] == len(SEEDS)
    assert row["delta"].iloc[0] == pytest.approx(d.mean())
    assert row["p"].iloc[0] == pytest.approx(stats.wilcoxon(d.to_numpy(), method="exact").pvalue)
    assert "label" in report.match


def test_ranking_blocks_are_the_labels_not_their_averages(multilabel: Path) -> None:
    report = build_report(load_runs(multilabel))
    fixed = next(r for r in report.rankings if r.rule == "fixed")
    assert fixed.blocks == len(LABELS)
    by_hand = {label: read_metrics(multilabel, "bce", label, "fixed", "f1").mean() for label in LABELS}
    scores = fixed.scores.reset_index().set_index("label")["bce"]
    assert scores.to_dict() == pytest.approx(by_hand)


def test_label_selection_and_its_errors(multilabel: Path) -> None:
    summary = build_report(load_runs(multilabel, labels=["macro"])).summaries["fixed"]
    assert set(summary["label"]) == {"macro"}
    with pytest.raises(HfaError, match="unknown label 'b'; the runs have: z, a, m, macro, micro"):
        load_runs(multilabel, labels=["b"])
    text = render(build_report(load_runs(multilabel, labels=["a", "macro"])), "markdown")
    assert "(1 label)" in text and "| a | bce |" in text


def test_report_cli_on_multilabel_runs(multilabel: Path, tmp_path: Path) -> None:
    shown = runner.invoke(app, ["report", str(multilabel), "--test", "recall,precision", "--label", "m,macro"])
    assert shown.exit_code == 0, shown.output
    assert "Δ recall" in shown.output and "Δ precision" in shown.output
    for args in (["--label", "nope"], ["--test", "mcc"]):
        refused = runner.invoke(app, ["report", str(multilabel), *args])
        assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1, refused.output
    single = tmp_path / "single"
    write_scored_run(single, "bce-s0", "bce", config_dict("bce", 5.0, 0), scored_splits(0, 0.3))
    refused = runner.invoke(app, ["report", str(single / "fake"), "--label", "macro"])
    assert refused.exit_code == 2 and "one target" in refused.output


# ----------------------------------------------------------------------------------------------------------
# eval.tune_betas: tuned_f<beta> rules


def test_tuned_fbeta_rules_tune_each_beta_on_validation() -> None:
    splits = scored_splits(7, 0.25)
    table = evaluate(splits, tune_betas=(2.0, 0.5, 2.0))
    assert list(dict.fromkeys(table["rule"])) == ["fixed", "tuned", "tuned_f2", "tuned_f0.5", "mean"]
    for beta, rule in ((2.0, "tuned_f2"), (0.5, "tuned_f0.5")):
        t = tune_threshold(*splits["val"], metric="fbeta", beta=beta)
        rows = table[table["rule"] == rule].set_index("split")
        assert rows["threshold"].tolist() == [t, t]  # tuned on val, applied to test
        y, p = splits["test"]
        predicted = (p >= t).astype(int)
        assert rows.loc["test", "tp"] == ((predicted == 1) & (y == 1)).sum()
        # No other threshold of the validation scores has a higher F-beta there.
        y_val, p_val = splits["val"]
        best = max(fbeta_score(y_val, (p_val >= c).astype(int), beta=beta, zero_division=0) for c in np.unique(p_val))
        assert fbeta_score(y_val, (p_val >= t).astype(int), beta=beta) == pytest.approx(best)


def test_multilabel_tuned_fbeta_rules_are_per_label() -> None:
    splits = multilabel_splits(3, 0.25)
    table = evaluate_multilabel(splits, LABELS, tune_betas=(3.0,))
    rows = table[(table["split"] == "val") & (table["rule"] == "tuned_f3")].set_index("label")
    y, p = splits["val"]
    for j, label in enumerate(LABELS):
        assert rows.loc[label, "threshold"] == tune_threshold(y[:, j], p[:, j], metric="fbeta", beta=3.0)
    assert np.isnan(rows.loc["macro", "threshold"])


def bce_or_f2(loss: str) -> tuple[dict[str, float], str]:
    """The config keys and the report label of ``bce`` or ``fbeta`` at beta 2, the two losses of these sweeps."""
    return ({"loss.beta": 2.0}, "fbeta(beta=2)") if loss == "fbeta" else ({}, loss)


@pytest.fixture(scope="module")
def tuned_f2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tuned_f2")
    for loss, shift in (("bce", 0.25), ("fbeta", 0.3)):
        extra, label = bce_or_f2(loss)
        for seed in SEEDS:
            cfg = config_dict(loss, 10.0, seed, **extra, **{"eval.tune_betas": [2.0]})
            write_scored_run(root, f"{loss}-s{seed}", label, cfg, scored_splits(50 + seed, shift))
    return root / "fake"


def test_fbeta_is_compared_with_bce_tuned_for_that_fbeta(tuned_f2: Path) -> None:
    report = build_report(load_runs(tuned_f2))
    f2 = report.comparisons["f2"]
    assert set(zip(f2["rule"], f2["baseline_rule"], strict=True)) == {
        ("fixed", "fixed"),
        ("fixed", "tuned_f2"),
        ("tuned_f2", "tuned_f2"),
    }
    # F1 keeps the F1-tuned rule.
    assert set(report.comparisons["f1"]["baseline_rule"]) == {"fixed", "tuned"}
    row = f2[(f2["rule"] == "fixed") & (f2["baseline_rule"] == "tuned_f2")].iloc[0]
    d = []
    for seed in SEEDS:
        splits = scored_splits(50 + seed, 0.25)
        t = tune_threshold(*splits["val"], metric="fbeta", beta=2.0)
        bce = fbeta_score(splits["test"][0], (splits["test"][1] >= t).astype(int), beta=2.0)
        y, p = scored_splits(50 + seed, 0.3)["test"]
        d.append(fbeta_score(y, (p >= 0.5).astype(int), beta=2.0) - bce)
    assert row["delta"] == pytest.approx(np.mean(d))
    assert "tuned_f2 rule (τ maximising F2 on validation)" in render(report, "markdown")


def test_tune_betas_is_validated() -> None:
    from hfa.config import load_config

    assert load_config(None, ["eval.tune_betas=[2, 0.5]"]).eval.tune_betas == [2.0, 0.5]
    for bad in ("[0]", "[-1]", "[.inf]", "two", "[0.00001]", "[123456.7]"):
        with pytest.raises(HfaError, match="eval.tune_betas"):
            load_config(None, [f"eval.tune_betas={bad}"])


# ----------------------------------------------------------------------------------------------------------
# Review findings: F-beta of multi-label runs, partial tune_betas, failed runs under --label


@pytest.fixture(scope="module")
def multilabel_fbeta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bce and fbeta(beta=2) multi-label runs, metrics.csv as runs.finish_run writes them (f2 for the fbeta runs)."""
    root = tmp_path_factory.mktemp("multilabel_fbeta")
    for loss, shift in (("bce", 0.2), ("fbeta", 0.3)):
        extra, label = bce_or_f2(loss)
        betas = (1.0, *extra.values())  # the F-betas a run records: runs.trained_betas
        for seed in SEEDS:
            cfg = config_dict(loss, None, seed, **{"data.name": "mulan/yeast", **extra})
            metrics = evaluate_multilabel(multilabel_splits(200 + seed, shift), LABELS, betas=betas)
            write_run(root, f"{loss}-s{seed}", label, cfg, metrics)
    return root / "fake"


def test_macro_fbeta_is_scikit_learns_macro_not_the_micro(multilabel_fbeta: Path) -> None:
    splits = multilabel_splits(200, 0.2)
    y, p = splits["test"]
    predicted = (p >= 0.5).astype(int)
    report = build_report(load_runs(multilabel_fbeta, metrics=["f2"]))  # the default report shows f2
    assert "f2" in report.metrics
    fixed = report.summaries["fixed"]
    runs = load_runs(multilabel_fbeta, metrics=["f2", "f3"])
    rows = runs.table[(runs.table["run_id"] == "bce-s0") & (runs.table["split"] == "test")]
    rows = rows[rows["rule"] == "fixed"].set_index("label")
    for beta in (2.0, 3.0):
        expected = fbeta_score(y, predicted, beta=beta, average="macro", zero_division=0)
        assert rows.loc["macro", f"f{beta:g}"] == pytest.approx(expected)
        assert rows.loc["micro", f"f{beta:g}"] == pytest.approx(fbeta_score(y, predicted, beta=beta, average="micro"))
    macro = fixed[(fixed["label"] == "macro") & (fixed["loss"] == "bce")]["f2_mean"].iloc[0]
    micro = fixed[(fixed["label"] == "micro") & (fixed["loss"] == "bce")]["f2_mean"].iloc[0]
    assert macro != pytest.approx(micro)
    shown = runner.invoke(app, ["report", str(multilabel_fbeta)])
    assert shown.exit_code == 0 and "Δ f2" in shown.output, shown.output


def test_a_baseline_with_more_tuned_rules_still_pairs(tmp_path: Path) -> None:
    """eval.tune_betas only adds rules: BCE re-run with it pairs with F-beta runs trained without it."""
    for loss, shift in (("bce", 0.25), ("fbeta", 0.3)):
        extra, label = bce_or_f2(loss)
        tuned = {} if extra else {"eval.tune_betas": [2.0]}  # only the baseline asks for tuned_f2
        for seed in SEEDS:
            cfg = config_dict(loss, 10.0, seed, **extra, **tuned)
            write_scored_run(tmp_path, f"{loss}-s{seed}", label, cfg, scored_splits(80 + seed, shift))
    report = build_report(load_runs(tmp_path / "fake"))
    assert "eval.tune_betas" not in report.keys and "eval.tune_betas" not in report.match
    f2 = report.comparisons["f2"]
    assert (f2["n"] == len(SEEDS)).all() and "tuned_f2" in set(f2["baseline_rule"])


def test_label_selection_keeps_failed_runs_counted(multilabel: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(multilabel.parent, root)
    write_run(root, "wbce-s99", "wbce", config_dict("wbce", None, 99, **{"data.name": "mulan/yeast"}), None,
              status="failed", error="diverged")  # fmt: skip
    shown = runner.invoke(app, ["report", str(root / "fake"), "--label", "a"])
    assert shown.exit_code == 0 and "1 of 13 runs left out (status failed)" in shown.output, shown.output
