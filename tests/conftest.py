"""Fixtures shared by the tests: fake sweeps with known numbers (see helpers_runs.py), and a config that trains in
about a second (the run-folder, signal and concurrency tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers_runs import FakeSweep, make_sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> FakeSweep:
    """Shared by the tests that only read it."""
    return make_sweep(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def fresh_sweep(tmp_path: Path) -> FakeSweep:
    """For tests that add or delete runs."""
    return make_sweep(tmp_path)


TINY = {
    "name": "tiny",
    "data": {"name": "synthetic", "n_samples": 1000, "cluster_std": 2.0, "imbalance_ratio": 4},
    "model": {"hidden": [4]},
    "train": {"epochs": 2, "batch_size": 256, "lr": 0.01, "patience": 0, "device": "cpu"},
}


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """A config file named ``tiny``: two epochs of a 4-unit MLP on 1,000 synthetic rows."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path
