"""Stacked training (hfa.stacked) against training each run alone: same seed, same numbers, same files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import hfa.runs
import hfa.stacked
from hfa.config import Config, DataConfig, run_id
from hfa.data import prepare_data
from hfa.losses import build_loss
from hfa.model import MLP, build_model
from hfa.runs import execute_run, execute_stack
from hfa.stacked import StackedMLP, fit_stacked, keep_members, stack_groups, stack_key
from hfa.sweep import execute, run_batch, units
from hfa.training import TrainingError, predict_proba

COUNTS = ["tp", "fp", "fn", "tn"]
DATA = DataConfig(name="synthetic", n_samples=2000, imbalance_ratio=5, cluster_std=2.0)
# (seed, loss, extra loss settings): chosen so that the members stop early at four different epochs.
MEMBERS = [(0, "bce", {}), (1, "wbce", {}), (2, "f1", {}), (3, "fbeta", {"beta": 2.0})]


def make_config(seed: int, loss: str, epochs: int = 20, **loss_settings) -> Config:
    cfg = Config(name="stk", seed=seed, data=DATA.model_copy())
    cfg.loss.name = loss
    for key, value in loss_settings.items():
        setattr(cfg.loss, key, value)
    cfg.model.hidden = [16, 16]
    cfg.train.epochs, cfg.train.patience, cfg.train.batch_size, cfg.train.lr = epochs, 2, 64, 0.01
    cfg.train.device = "cpu"
    return cfg


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny matmuls gain nothing from threads, and on a busy machine intra-op threads make them crawl.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The same four configs trained as one stack (by the sweep) and each alone (by ``execute_run``)."""
    root = tmp_path_factory.mktemp("stacked")
    configs = [make_config(seed, loss, **extra) for seed, loss, extra in MEMBERS]
    summary = execute(configs, root / "stacked")
    alone = [execute_run(cfg, root / "alone") for cfg in configs]
    return configs, summary, alone, root


def _folder_tables(run_dir: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame, dict]:
    info = json.loads((run_dir / "run.json").read_text())
    state = torch.load(run_dir / "model.pt", weights_only=True)
    return info, pd.read_csv(run_dir / "metrics.csv"), pd.read_csv(run_dir / "history.csv"), state


def _assert_same_run(stacked_dir: Path, alone_dir: Path, cfg: Config) -> None:
    info_s, metrics_s, history_s, state_s = _folder_tables(stacked_dir)
    info_a, metrics_a, history_a, state_a = _folder_tables(alone_dir)
    for key in ("status", "best_epoch", "epochs_run", "stopped", "run_id", "loss_label", "pos_weight"):
        assert info_s[key] == info_a[key], key
    assert list(history_s.columns) == list(history_a.columns)
    assert history_s["epoch"].tolist() == history_a["epoch"].tolist()
    assert history_s["best"].tolist() == history_a["best"].tolist()
    for column in ("train_loss", "val_loss", "val_f1"):
        np.testing.assert_allclose(history_s[column], history_a[column], rtol=1e-5, atol=1e-6)
    assert list(metrics_s.columns) == list(metrics_a.columns)
    assert metrics_s[["split", "rule"]].equals(metrics_a[["split", "rule"]])
    fixed = metrics_s["rule"] == "fixed"
    assert metrics_s.loc[fixed, COUNTS].equals(metrics_a.loc[fixed, COUNTS])
    numbers = [c for c in metrics_s.columns if c not in ("split", "rule")]
    np.testing.assert_allclose(metrics_s[numbers], metrics_a[numbers], rtol=1e-4, atol=1e-4)

    splits = prepare_data(cfg.data)
    x_test = torch.as_tensor(splits.x_test)
    predictions = []
    for state in (state_s, state_a):
        model = build_model(splits.n_features, cfg.model)
        model.load_state_dict(state)
        predictions.append(predict_proba(model, x_test))
    np.testing.assert_allclose(predictions[0], predictions[1], atol=1e-5)


@pytest.mark.slow
def test_stacked_sweep_equals_each_run_alone(trained):
    configs, summary, alone, _ = trained
    assert summary.count("ok") == len(configs)
    stops = []
    for cfg, report, outcome in zip(configs, summary.reports, alone, strict=True):
        assert report.run_dir == outcome.run_dir.parent.parent.parent / "stacked" / cfg.name / outcome.run_dir.name
        _assert_same_run(report.run_dir, outcome.run_dir, cfg)
        info = json.loads((report.run_dir / "run.json").read_text())
        assert (info["stacked"], outcome.info["stacked"]) == (len(configs), 1)
        assert info["stopped"] == "early_stopping"
        stops.append(info["epochs_run"])
    # The premise of the comparison: members leave the stack at different epochs while others train on.
    assert len(set(stops)) == len(configs), stops


@pytest.mark.slow
def test_stacked_folders_hold_the_same_files(trained):
    _, summary, alone, _ = trained
    for report, outcome in zip(summary.reports, alone, strict=True):
        assert sorted(p.name for p in report.run_dir.iterdir()) == sorted(p.name for p in outcome.run_dir.iterdir())
        assert (report.run_dir / "config.yaml").read_text() == (outcome.run_dir / "config.yaml").read_text()
        info_s = json.loads((report.run_dir / "run.json").read_text())
        assert set(info_s) == set(outcome.info)


@pytest.mark.slow
def test_a_sweep_writes_the_same_folders_with_and_without_stacking(trained):
    configs, summary, _, root = trained
    unstacked = [cfg.model_copy(deep=True) for cfg in configs]
    for cfg in unstacked:
        cfg.train.stack = False
    plain = execute(unstacked, root / "unstacked")
    names = sorted(p.name for p in (root / "stacked" / "stk").iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in (root / "unstacked" / "stk").iterdir() if not p.name.startswith("."))
    assert len(names) == len(configs)
    for cfg, stacked, single in zip(configs, summary.reports, plain.reports, strict=True):
        assert stacked.run_dir.name == single.run_dir.name
        assert json.loads((single.run_dir / "run.json").read_text())["stacked"] == 1
        _assert_same_run(stacked.run_dir, single.run_dir, cfg)


def test_stack_key_refuses_what_a_stack_cannot_replay():
    base = make_config(0, "bce")
    assert stack_key(base) is not None
    assert stack_key(make_config(5, "f1", delta=0.2)) == stack_key(base)  # seeds and losses stack
    dropout, off, amp, lr, width = (base.model_copy(deep=True) for _ in range(5))
    dropout.model.dropout = 0.1
    off.train.stack = False
    amp.train.amp = True
    lr.train.lr = 0.02
    width.model.hidden = [8]
    assert stack_key(dropout) is None and stack_key(off) is None and stack_key(amp) is None
    assert stack_key(lr) != stack_key(base) and stack_key(width) != stack_key(base)

    configs = [make_config(seed, "bce") for seed in range(5)] + [dropout, off, lr]
    groups = stack_groups(configs, limit=2)
    assert sorted(len(g) for g in groups) == [1, 1, 1, 1, 2, 2]
    assert sorted(c.seed for g in groups for c in g) == sorted(c.seed for c in configs)


@pytest.mark.slow
def test_unstackable_runs_fall_back_to_training_alone(tmp_path):
    configs = []
    for seed in (0, 1):
        cfg = make_config(seed, "bce", epochs=3)
        cfg.model.dropout = 0.2
        configs.append(cfg)
        off = make_config(seed, "f1", epochs=3)
        off.train.stack = False
        configs.append(off)
    assert all(len(unit) == 1 for unit in units(configs))
    by_id = {r.run_dir.name: r for unit in units(configs) for r in run_batch(unit, str(tmp_path))}
    reports = [by_id[run_id(cfg)] for cfg in configs]
    assert [r.status for r in reports] == ["ok"] * 4
    for cfg, report in zip(configs, reports, strict=True):
        assert json.loads((report.run_dir / "run.json").read_text())["stacked"] == 1
        alone = execute_run(cfg, tmp_path / "alone")
        _assert_same_run(report.run_dir, alone.run_dir, cfg)


class _NaNFrom(torch.nn.Module):
    """A loss that turns NaN at its ``n``-th call, as a diverging run's loss does."""

    def __init__(self, loss: torch.nn.Module, n: int):
        super().__init__()
        self.loss, self.n, self.calls = loss, n, 0

    def forward(self, logits, targets):
        self.calls += 1
        value = self.loss(logits, targets)
        return value * math.nan if self.calls >= self.n else value


@pytest.mark.slow
def test_a_diverging_member_fails_alone(tmp_path, monkeypatch):
    build = hfa.runs.build_run_loss

    def diverging_for_seed_1(cfg, y_train):
        loss = build(cfg, y_train)
        return _NaNFrom(loss, 30) if cfg.seed == 1 else loss  # 12 batches + 1 validation an epoch: epoch 3

    monkeypatch.setattr(hfa.runs, "build_run_loss", diverging_for_seed_1)
    configs = [make_config(seed, "bce", epochs=6) for seed in (0, 1, 2)]
    summary = execute(configs, tmp_path / "stacked")
    assert [r.status for r in summary.reports] == ["ok", "failed", "ok"]
    failed = json.loads((summary.reports[1].run_dir / "run.json").read_text())
    with pytest.raises(TrainingError) as alone_error:
        execute_run(configs[1], tmp_path / "alone")
    assert failed["status"] == "failed" and failed["error"] == str(alone_error.value)
    assert "epoch 3" in failed["error"]
    for i in (0, 2):
        alone = execute_run(configs[i], tmp_path / "alone")
        _assert_same_run(summary.reports[i].run_dir, alone.run_dir, configs[i])


def test_stacked_mlp_matches_its_members():
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(MLP(5, [7, 4], activation="tanh"))
    stack = StackedMLP(members)
    x = torch.randn(3, 11, 5)
    expected = torch.stack([member(x[m]) for m, member in enumerate(members)])
    torch.testing.assert_close(stack(x), expected)
    torch.testing.assert_close(stack(x[0]), torch.stack([member(x[0]) for member in members]))
    assert torch.equal(stack(x[0], slice(1, 3)), stack(x[0])[1:3])  # a member's numbers ignore its neighbours
    copy = MLP(5, [7, 4], activation="tanh")
    stack.load_member(1, copy)
    for name, value in members[1].state_dict().items():
        assert torch.equal(copy.state_dict()[name], value)

    optimizer = torch.optim.Adam(stack.parameters(), lr=0.1)
    stack(x).sum().backward()
    optimizer.step()
    moments = [optimizer.state[p]["exp_avg"].clone() for p in stack.parameters()]
    before = stack(x).detach()
    optimizer = keep_members(stack, optimizer, [0, 2])
    assert stack.size == 2
    torch.testing.assert_close(stack(x[[0, 2]]), before[[0, 2]], rtol=0, atol=0)
    for param, moment in zip(stack.parameters(), moments, strict=True):
        assert torch.equal(optimizer.state[param]["exp_avg"], moment[[0, 2]])
    stack(x[[0, 2]]).sum().backward()  # the shrunk stack trains on
    optimizer.step()

    logistic = [MLP(5, []), MLP(5, [])]
    torch.testing.assert_close(StackedMLP(logistic)(x[:2]), torch.stack([m(x[i]) for i, m in enumerate(logistic)]))

    with pytest.raises(ValueError, match="dropout"):
        StackedMLP([MLP(5, [7], dropout=0.1)])
    with pytest.raises(ValueError, match="same layers"):
        StackedMLP([MLP(5, [7]), MLP(5, [8])])


def test_validation_a_few_members_at_a_time_changes_nothing(monkeypatch):
    torch.manual_seed(0)
    x, y = torch.randn(200, 3), (torch.rand(200) < 0.3).float()
    cfg = make_config(0, "bce", epochs=3).train
    losses = [build_loss(name) for name in ("bce", "f1", "bce")]

    def train() -> list:
        members = []
        for seed in (0, 1, 2):
            torch.manual_seed(seed)
            members.append(MLP(3, [8]))
        return fit_stacked(members, x[:150], y[:150], x[150:], y[150:], cfg, [0, 1, 2], losses)

    whole = train()
    monkeypatch.setattr(hfa.stacked, "_VALIDATION_ELEMENTS", 1)
    for a, b in zip(whole, train(), strict=True):
        assert a.history == b.history


def test_fit_stacked_rejects_mismatched_members():
    members = [MLP(2, [3])]
    x, y = torch.randn(8, 2), torch.ones(8)
    with pytest.raises(ValueError, match="one seed and one loss"):
        fit_stacked(members, x, y, x, y, make_config(0, "bce").train, [0, 1], [torch.nn.BCEWithLogitsLoss()])


@pytest.mark.slow
def test_execute_stack_results_follow_the_configs(tmp_path):
    configs = [make_config(seed, "bce", epochs=2) for seed in (3, 1)]
    outcomes = execute_stack(configs, tmp_path)
    assert [o.run_dir.name for o in outcomes] == [hfa.runs.run_dir_for(c, tmp_path).name for c in configs]
    assert [yaml.safe_load((o.run_dir / "config.yaml").read_text())["seed"] for o in outcomes] == [3, 1]
    with pytest.raises(ValueError, match="stackable"):
        execute_stack([configs[0], make_config(0, "bce", epochs=3)], tmp_path)
