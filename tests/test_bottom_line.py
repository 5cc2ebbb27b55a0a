"""The bottom line recomputed by hand on a fake sweep with known numbers (tests/helpers_runs.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap, wilcoxon

from helpers_runs import LOSSES, RATIOS, SEEDS, make_sweep
from hfa.report import build_report, load_runs, render
from hfa.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return make_sweep(root, with_failed=False), root


@pytest.mark.parametrize("rule", ["fixed", "tuned"])
def test_the_bottom_line_by_hand(sweep, rule):
    fake, root = sweep
    report = build_report(load_runs(root), rules=["fixed", "tuned"])
    bottom = report.bottom
    assert bottom is not None and bottom.metric == "f1" and bottom.method_keys == ["loss"]
    lines = {line.block: line for line in bottom.lines if line.rule == rule}
    assert len(lines) == len(RATIOS)
    for ratio in RATIOS:
        line = lines[("synthetic", ratio)]
        val = {loss: fake.cell(loss, ratio, "f1", "val", rule).mean() for loss in LOSSES}
        best = max(sorted(val), key=val.__getitem__)
        other = next(loss for loss in LOSSES if loss != best)
        assert line.best == best and line.best_val == pytest.approx(val[best])
        test = fake.cell(best, ratio, "f1", "test", rule)
        assert line.test_mean == pytest.approx(test.mean()) and line.n == len(SEEDS)
        ci = bootstrap(
            (test,),
            np.mean,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        ).confidence_interval
        assert (line.ci_low, line.ci_high) == pytest.approx((ci.low, ci.high))
        d = test - fake.cell(other, ratio, "f1", "test", rule)  # paired on the seed
        p = wilcoxon(d, method="exact").pvalue  # 3 pairs, no ties: exact; one test, so Holm leaves p as it is
        row = line.others.iloc[0]
        assert row["method"] == other and row["delta"] == pytest.approx(d.mean())
        assert row["p"] == pytest.approx(p) and row["p_holm"] == pytest.approx(p)
        assert bool(row["tied"]) == (p >= 0.05)
        # 3 pairs can never give p < 0.05 (smallest exact p = 2 / 2**3 = 0.25): the report says so
        assert "smallest Holm p a Wilcoxon test can reach is 0.25 (>= 0.05)" in line.why


def test_the_report_opens_with_it_and_ranks_across_blocks(sweep):
    _, root = sweep
    report = build_report(load_runs(root), rules=["fixed", "tuned"])
    text = render(report, "markdown")
    assert text.startswith("**Bottom line · fixed rule")
    assert text.index("**Bottom line · tuned rule") < text.index("**synthetic")
    # two blocks (the ratios) and two methods: a ranking per rule, by the test means
    ranks = [r for r in report.bottom.rankings if r.rule == "fixed"]
    assert len(ranks) == 1 and ranks[0].blocks == len(RATIOS)
    assert "across 2 blocks, mean rank of test f1" in text


def test_the_csv_holds_the_bottom_line_worked_by_hand(sweep):
    import io

    import pandas as pd

    fake, root = sweep
    report = build_report(load_runs(root), rules=["fixed", "tuned"])
    frame = pd.read_csv(io.StringIO(render(report, "csv")))
    for rule in ("fixed", "tuned"):
        for ratio in RATIOS:
            here = frame[(frame["rule"] == rule) & (frame["data.imbalance_ratio"].astype(str) == str(ratio))]
            (choice,) = here[here["table"] == "bottom"].itertuples(index=False)
            val = {loss: fake.cell(loss, ratio, "f1", "val", rule).mean() for loss in LOSSES}
            best = max(sorted(val), key=val.__getitem__)
            test = fake.cell(best, ratio, "f1", "test", rule)
            assert choice.loss == best and choice.val_mean == pytest.approx(val[best])
            assert choice.mean == pytest.approx(test.mean()) and choice.n_runs == len(SEEDS)
            (other,) = here[here["table"] == "bottom_vs"].itertuples(index=False)
            d = test - fake.cell(other.loss, ratio, "f1", "test", rule)
            p = wilcoxon(d, method="exact").pvalue
            assert other.baseline == best and other.delta == pytest.approx(d.mean()) and other.n_pairs == len(SEEDS)
            assert other.p_holm == pytest.approx(p) and other.tied == (p >= 0.05)
    # The rankings name their methods in the column the bottom line keys them by.
    assert set(frame.loc[frame["table"] == "ranking", "loss"]) == set(LOSSES)
