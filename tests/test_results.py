"""Run folders -> the long results table and the sweep's results.csv."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers_runs import NAME, RATIOS, SEEDS, FakeSweep, config_dict, metrics_frame, write_run
from hfa.errors import HfaError
from hfa.metrics import count_metric, metric_columns
from hfa.results import (
    ALWAYS_KEYS,
    ID_COLUMNS,
    ROW_COLUMNS,
    collect_results,
    config_columns,
    find_runs,
    flatten_config,
    results_frame,
    varying_keys,
    write_results,
)

N_OK = 2 * len(RATIOS) * len(SEEDS)
# The fake sweep trains an fbeta(beta=2) loss, so every run gets an f2 column.
METRIC_COLUMNS = metric_columns((1.0, 2.0))


def test_find_runs_recurses_and_sorts(sweep: FakeSweep) -> None:
    runs = find_runs(sweep.root.parent)
    assert len(runs) == N_OK + 1
    assert runs == sorted(runs)
    assert all((r / "run.json").is_file() for r in runs)
    # A single run folder is a root too.
    assert find_runs(runs[0]) == [runs[0]]


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_find_runs_errors_name_the_folder(tmp_path: Path, make: str) -> None:
    root = tmp_path / "runs"
    if make == "empty":
        root.mkdir()
    elif make == "file":
        root.write_text("x")
    with pytest.raises(HfaError, match=r"no runs under .*runs.*run\.json written by hfa train/sweep"):
        find_runs(root)


def test_collect_results_rows_and_columns(sweep: FakeSweep) -> None:
    df = collect_results(sweep.root.parent)
    assert len(df) == N_OK * 6 + 1  # 2 splits x 3 rules per ok run, one row for the failed run
    columns = list(df.columns)
    assert columns[: len(ID_COLUMNS)] == list(ID_COLUMNS)
    split_at = columns.index("split")
    assert columns[split_at : split_at + 3] == list(ROW_COLUMNS)
    assert columns[split_at + 3 :] == list(METRIC_COLUMNS)
    settings = config_columns(df)
    assert settings[0] == "seed" and "name" not in settings and "sweep" not in settings
    assert {"data.imbalance_ratio", "loss.name", "loss.beta", "model.hidden", "train.epochs"} <= set(settings)
    assert set(df["model.hidden"]) == {"[64, 64]"}
    assert set(df["loss"]) == {"bce", "fbeta(beta=2)", "f1"}


def test_failed_run_is_one_row_with_its_error(sweep: FakeSweep) -> None:
    df = collect_results(sweep.root.parent)
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1
    row = failed.iloc[0]
    assert row["run_id"] == sweep.failed_id and row["error"] == "CUDA out of memory"
    assert pd.isna(row["split"]) and pd.isna(row["rule"]) and pd.isna(row["f1"])
    assert row["loss.name"] == "f1" and row["data.imbalance_ratio"] == 100.0


def test_metric_values_come_through_unchanged(sweep: FakeSweep) -> None:
    df = collect_results(sweep.root.parent)
    row = df[(df["run_id"] == "fbeta-r5-s2") & (df["split"] == "val") & (df["rule"] == "tuned")].iloc[0]
    assert row["recall"] == sweep.value("fbeta(beta=2)", 5.0, 2, "recall", "val", "tuned")
    assert row["threshold"] == 0.37
    mean_rows = df[df["rule"] == "mean"]
    assert mean_rows["threshold"].isna().all()


def test_varying_keys(sweep: FakeSweep) -> None:
    assert varying_keys(collect_results(sweep.root.parent)) == [
        "seed",
        "data.imbalance_ratio",
        "loss.name",
        "loss.beta",
    ]


def test_varying_keys_of_a_single_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    write_run(tmp_path, "only", "bce", config_dict("bce", 10.0, 0), metrics_frame(rng))
    assert varying_keys(collect_results(tmp_path)) == []


def test_results_frame_default_keys(sweep: FakeSweep) -> None:
    table = results_frame(sweep.root)
    expected_keys = ["seed", "data.imbalance_ratio", "loss.name", "loss.beta"]
    assert list(table.columns) == ["run_id", "status", "error", "loss", *expected_keys, *ROW_COLUMNS, *METRIC_COLUMNS]
    assert len(table) == N_OK * 6 + 1


def test_results_frame_given_keys_keep_the_always_keys(sweep: FakeSweep) -> None:
    table = results_frame(sweep.root, keys=["model.hidden"])
    keys = list(table.columns[4 : list(table.columns).index("split")])
    assert set(keys) == {"model.hidden", *ALWAYS_KEYS}
    assert keys.index("seed") < keys.index("data.imbalance_ratio") < keys.index("model.hidden")


def test_results_frame_unknown_key(sweep: FakeSweep) -> None:
    with pytest.raises(HfaError, match=r"unknown config key 'data.ratio'; available: seed, data.name"):
        results_frame(sweep.root, keys=["data.ratio"])


def test_write_results_is_rebuilt_from_the_runs(fresh_sweep: FakeSweep) -> None:
    sweep = fresh_sweep
    path = write_results(sweep.root)
    assert path == sweep.root / "results.csv"
    first = pd.read_csv(path)
    assert len(first) == N_OK * 6 + 1
    assert not list(sweep.root.glob(".results.csv.*"))  # no temporary file left behind

    # A run deleted from disk disappears from the table on the next write.
    shutil.rmtree(sweep.root / sweep.failed_id)
    second = pd.read_csv(write_results(sweep.root))
    assert len(second) == N_OK * 6
    assert (second["status"] == "ok").all()
    expected = sweep.value("bce", 100.0, 1, "f1")
    got = second[(second["run_id"] == "bce-r100-s1") & (second["split"] == "test") & (second["rule"] == "fixed")]
    assert math.isclose(got["f1"].item(), expected)


def test_ok_run_without_metrics_is_an_error(tmp_path: Path) -> None:
    write_run(tmp_path, "r1", "bce", config_dict("bce", 10.0, 0), None, status="ok")
    with pytest.raises(HfaError, match=r"metrics\.csv"):
        collect_results(tmp_path)


def test_corrupt_run_json_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / NAME / "r1"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{not json")
    with pytest.raises(HfaError, match=r"cannot read .*r1/run\.json"):
        collect_results(tmp_path)


def test_missing_loss_label_falls_back_to_loss_name(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    folder = write_run(tmp_path, "r1", "ignored", config_dict("wbce", 10.0, 0), metrics_frame(rng))
    run = json.loads((folder / "run.json").read_text())
    del run["loss_label"]
    (folder / "run.json").write_text(json.dumps(run))
    assert set(collect_results(tmp_path)["loss"]) == {"wbce"}


def test_flatten_config() -> None:
    flat = flatten_config({"name": "x", "seed": 1, "model": {"hidden": [8, 4]}, "sweep": {"seed": [1, 2]}})
    assert flat == {"seed": 1, "model.hidden": "[8, 4]"}


def test_staging_folders_of_runs_being_written_are_skipped(fresh_sweep: FakeSweep, tmp_path: Path) -> None:
    staging = tmp_path / NAME / ".bce-r5-s9.x1y2"
    staging.mkdir()
    (staging / "run.json").write_text(json.dumps({"status": "ok"}))
    assert staging not in find_runs(tmp_path)
    assert len(find_runs(tmp_path)) == N_OK + 1


def test_fbeta_column_is_filled_for_every_run_from_its_counts(sweep: FakeSweep) -> None:
    df = collect_results(sweep.root.parent)
    ok = df[df["status"] == "ok"]
    assert ok["f2"].notna().sum() == len(ok[ok["rule"] != "mean"]) + len(
        ok[(ok["rule"] == "mean") & (ok["loss"] != "bce")]
    )
    bce = ok[(ok["loss"] == "bce") & (ok["rule"] != "mean")]
    expected = count_metric("f2", bce["tp"], bce["fp"], bce["fn"], bce["tn"])
    np.testing.assert_allclose(bce["f2"], expected)
    b2 = 4.0
    row = bce.iloc[0]
    assert row["f2"] == pytest.approx((1 + b2) * row["tp"] / ((1 + b2) * row["tp"] + b2 * row["fn"] + row["fp"]))
    # fbeta's own F2 comes through as written, not recomputed.
    fb = ok[(ok["run_id"] == "fbeta-r5-s0") & (ok["split"] == "test") & (ok["rule"] == "fixed")].iloc[0]
    assert fb["f2"] == sweep.value("fbeta(beta=2)", 5.0, 0, "f2")
    # Without curves.csv the mean rule of a metric the run did not record stays unknown, not guessed.
    assert ok[(ok["loss"] == "bce") & (ok["rule"] == "mean")]["f2"].isna().all()


def test_requested_metrics_and_the_mean_rule_from_curves(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    folder = write_run(tmp_path, "r1", "bce", config_dict("bce", 10.0, 0), metrics_frame(rng))
    grid = np.round(np.arange(1, 10) / 10, 1)
    counts = {c: rng.integers(0, 30, size=9) for c in ("tp", "fp", "fn", "tn")}
    counts["tp"][-1], counts["fp"][-1] = 0, 0  # nothing predicted positive at 0.9: precision undefined there
    curves = pd.DataFrame(
        {"split": "test", "threshold": np.r_[grid, 0.95], **{c: np.r_[v, 0] for c, v in counts.items()}}
    )
    curves.to_csv(folder / "curves.csv", index=False)
    df = collect_results(tmp_path, metrics=["f3", "npv", "precision"])
    mean = df[(df["split"] == "test") & (df["rule"] == "mean")].iloc[0]
    f3 = [count_metric("f3", *(counts[c][i] for c in ("tp", "fp", "fn", "tn"))) for i in range(9)]
    assert mean["f3"] == pytest.approx(np.mean(f3))
    npv = [counts["tn"][i] / (counts["tn"][i] + counts["fn"][i]) for i in range(9)]
    assert mean["npv"] == pytest.approx(np.mean(npv))
    # precision was recorded by the run: kept as written, never recomputed.
    assert mean["precision"] == pytest.approx(metrics_frame(np.random.default_rng(7)).iloc[5]["precision"])
    fixed = df[(df["split"] == "val") & (df["rule"] == "fixed")].iloc[0]
    assert fixed["f3"] == pytest.approx(10 * fixed["tp"] / (10 * fixed["tp"] + 9 * fixed["fn"] + fixed["fp"]))
    assert list(df.columns).index("f3") > list(df.columns).index("f1")


def test_legacy_fbeta_column_is_named_by_its_beta(tmp_path: Path) -> None:
    metrics = metrics_frame(np.random.default_rng(8)).rename(columns={"g_mean": "fbeta"})
    write_run(tmp_path, "old", "bce", config_dict("bce", 10.0, 0, **{"loss.beta": 2.0}), metrics)
    df = collect_results(tmp_path)
    assert "fbeta" not in df.columns
    np.testing.assert_allclose(df["f2"].dropna(), metrics["fbeta"])
