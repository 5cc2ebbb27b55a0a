"""Fixtures shared by the report and results tests: fake sweeps with known numbers (see helpers_runs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers_runs import FakeSweep, make_sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> FakeSweep:
    """Shared by the tests that only read it."""
    return make_sweep(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def fresh_sweep(tmp_path: Path) -> FakeSweep:
    """For tests that add or delete runs."""
    return make_sweep(tmp_path)
