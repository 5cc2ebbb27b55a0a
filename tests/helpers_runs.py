"""Fake run folders with known numbers, in the format `hfa train` / `hfa sweep` write.

The numbers come from a seeded generator and are kept in ``FakeSweep.values`` so tests compute their
expectations independently (numpy, scipy) instead of reading them back through the code under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hfa.config import Config

SPLITS = ("val", "test")
RULES = ("fixed", "tuned", "mean")
RATES = (
    "precision",
    "recall",
    "specificity",
    "f1",
    "accuracy",
    "balanced_accuracy",
    "g_mean",
    "mcc",
    "roc_auc",
    "average_precision",
    "brier",
    "ece",
)
# label -> (loss.name, extra config, extra F-beta columns the run records, as runs.trained_betas decides).
LOSSES: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "bce": ("bce", {}, ()),
    "fbeta(beta=2)": ("fbeta", {"loss.beta": 2.0}, ("f2",)),
}
RATIOS = (100.0, 5.0)  # deliberately not in sorted order on disk
SEEDS = (0, 1, 2)
NAME = "fake"


@dataclass
class FakeSweep:
    root: Path  # the sweep folder <base>/<NAME>
    values: dict[tuple[str, float, int, str, str, str], float] = field(default_factory=dict)
    failed_id: str = ""

    def value(self, loss: str, ratio: float, seed: int, metric: str, split: str = "test", rule: str = "fixed"):
        return self.values[(loss, ratio, seed, split, rule, metric)]

    def cell(self, loss: str, ratio: float, metric: str, split: str = "test", rule: str = "fixed") -> np.ndarray:
        return np.array([self.value(loss, ratio, s, metric, split, rule) for s in SEEDS])


def config_dict(loss_name: str, ratio: float | None, seed: int, **dotted: Any) -> dict[str, Any]:
    """A fully resolved config as a run records it: ``Config().to_dict()`` without the sweep block."""
    config = Config().to_dict()
    config.pop("sweep", None)
    config["name"] = NAME
    config["seed"] = seed
    config["data"]["imbalance_ratio"] = ratio
    config["loss"]["name"] = loss_name
    for key, value in dotted.items():
        section, leaf = key.split(".")
        config[section][leaf] = value
    return config


def write_run(
    root: Path,
    run_id: str,
    loss_label: str,
    config: dict[str, Any],
    metrics: pd.DataFrame | None,
    status: str = "ok",
    error: str | None = None,
) -> Path:
    folder = root / config["name"] / run_id
    folder.mkdir(parents=True)
    run = {
        "run_id": run_id,
        "name": config["name"],
        "status": status,
        "error": error,
        "loss_label": loss_label,
        "timings": {"total_s": 1.5},
        "device": "cpu",
        "versions": {"hfa": "0.1.0"},
        "best_epoch": 3,
        "epochs_run": 5,
        "data": {"n_train": 100},
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    (folder / "config.yaml").write_text(yaml.dump(config, Dumper=dumper, sort_keys=False), encoding="utf-8")
    if metrics is not None:
        metrics.to_csv(folder / "metrics.csv", index=False)
    # Files report must ignore.
    (folder / "history.csv").write_text("epoch,train_loss\n1,0.5\n", encoding="utf-8")
    return folder


def metrics_frame(rng: np.random.Generator, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Random counts and rates (the rates need not match the counts: tests read each back as written)."""
    rows = []
    names = (*RATES, *extra)
    for split in SPLITS:
        for rule in RULES:
            threshold = {"fixed": 0.5, "tuned": 0.37, "mean": None}[rule]
            counts = dict(zip(("tp", "fp", "fn", "tn"), rng.integers(1, 50, size=4).tolist(), strict=True))
            rates = dict(zip(names, np.round(rng.uniform(0.2, 0.95, size=len(names)), 4).tolist(), strict=True))
            rows.append({"split": split, "rule": rule, "threshold": threshold, **counts, **rates})
    return pd.DataFrame(rows)


def make_sweep(root: Path, seeds: tuple[int, ...] = SEEDS, with_failed: bool = True) -> FakeSweep:
    """2 losses x 2 ratios x seeds ok runs, plus (optionally) one failed f1 run without metrics."""
    rng = np.random.default_rng(20240601)
    sweep = FakeSweep(root=root / NAME)
    for label, (loss_name, extra, fscores) in LOSSES.items():
        for ratio in RATIOS:
            for seed in seeds:
                metrics = metrics_frame(rng, fscores)
                run_id = f"{loss_name}-r{ratio:g}-s{seed}"
                write_run(root, run_id, label, config_dict(loss_name, ratio, seed, **extra), metrics)
                for row in metrics.to_dict("records"):
                    for metric in (*RATES, *fscores, "tp", "fp", "fn", "tn"):
                        sweep.values[(label, ratio, seed, row["split"], row["rule"], metric)] = row[metric]
    if with_failed:
        sweep.failed_id = "f1-r100-s0"
        write_run(
            root, sweep.failed_id, "f1", config_dict("f1", 100.0, 0), None, status="failed", error="CUDA out of memory"
        )
    return sweep


def scored_splits(
    seed: int, shift: float, n: int = 400, pos_rate: float = 0.1
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Validation and test labels with scores a model of quality ``shift`` would give (seeded)."""
    rng = np.random.default_rng(seed)
    out = {}
    for split in SPLITS:
        y = (rng.random(n) < pos_rate).astype(int)
        y[:2] = (1, 0)
        p = np.clip(rng.normal(0.3 + shift * y, 0.15), 0.0, 1.0)
        out[split] = (y, p)
    return out


def write_scored_run(
    root: Path,
    run_id: str,
    loss_label: str,
    config: dict[str, Any],
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    source_ratio: float | None = None,
) -> Path:
    """A run folder whose metrics.csv and curves.csv are computed from real scores, as runs.finish_run does."""
    from hfa.metrics import curve_points, evaluate

    betas = (1.0, config["loss"]["beta"]) if config["loss"]["name"] == "fbeta" else (1.0,)
    metrics = evaluate(
        splits,
        threshold=config["eval"]["threshold"],
        beta=config["loss"]["beta"],
        betas=betas,
        tune_betas=config["eval"]["tune_betas"],
    )
    folder = write_run(root, run_id, loss_label, config, metrics)
    curve_points(splits).to_csv(folder / "curves.csv", index=False)
    epochs = np.arange(1, 6)
    history = pd.DataFrame({"epoch": epochs, "train_loss": 1 / epochs, "val_loss": 1 / epochs, "val_f1": 0.1 * epochs})
    history.to_csv(folder / "history.csv", index=False)
    if source_ratio is not None:
        run = json.loads((folder / "run.json").read_text())
        run["data"] = {"source": {"ratio": source_ratio}}
        (folder / "run.json").write_text(json.dumps(run))
    return folder
