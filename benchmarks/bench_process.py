"""Case 6: whole processes, as a user runs them.

- ``hfa train`` of issue 10's case (100,000 x 20 synthetic rows, hidden [32, 16], dropout 0.1, batch 256, 10
  epochs, Adam) against the plain script a user would write for it: scikit-learn's ``make_blobs`` and splits,
  ``StandardScaler``, ``TensorDataset`` + ``DataLoader(shuffle=True)``, the same model, optimiser, epochs and a
  validation loss per epoch, test F1 at 0.5 and a metrics CSV. Both are fresh processes; the wall time includes
  start-up, data, training, evaluation and writing.
- ``hfa sweep --config configs/quickstart.yaml`` (every grid point in one process, stacked) against a shell loop of
  ``hfa train`` processes over grid points of the same config (a sample of them, spread over the grid: each costs
  about as much as any other), compared as runs per minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, Row, Settings, fmt_count, rate_row

ROOT = HERE.parent
TRAIN_TARGET = 2.0
SWEEP_TARGET = 50.0
N_SAMPLES, N_FEATURES, EPOCHS = 100_000, 20, 10
TRAIN_OVERRIDES = [
    "name=bench",
    "data.name=synthetic",
    f"data.n_samples={N_SAMPLES}",
    f"data.n_features={N_FEATURES}",
    "data.imbalance_ratio=null",
    "model.hidden=[32, 16]",
    "model.dropout=0.1",
    f"train.epochs={EPOCHS}",
    "train.batch_size=256",
    "train.lr=0.001",
    "train.patience=0",
]

PLAIN_SCRIPT = f"""
import csv, sys
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x, y = make_blobs(n_samples={N_SAMPLES}, n_features={N_FEATURES}, centers=2, random_state=0)
x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0)
scaler = StandardScaler().fit(x_train)
tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)
x_train, x_val, x_test = (tensor(scaler.transform(a)) for a in (x_train, x_val, x_test))
y_train, y_val = tensor(y_train), tensor(y_val)
model = nn.Sequential(nn.Linear({N_FEATURES}, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 16), nn.ReLU(),
                      nn.Dropout(0.1), nn.Linear(16, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.BCEWithLogitsLoss()
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=256, shuffle=True)
for epoch in range({EPOCHS}):
    model.train()
    for xb, yb in loader:
        loss = criterion(model(xb).squeeze(-1), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_loss = criterion(model(x_val).squeeze(-1), y_val).item()
with torch.no_grad():
    predicted = (torch.sigmoid(model(x_test).squeeze(-1)) >= 0.5).int().numpy()
with open(sys.argv[1], "w", newline="") as handle:
    csv.writer(handle).writerows([["split", "f1"], ["test", f1_score(y_test, predicted)]])
"""


def _hfa() -> list[str]:
    script = Path(sys.executable).with_name("hfa")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from hfa.cli import main; main()"]


def _wall(argv: list[str], cwd: Path, threads: int | None = None) -> float:
    # --threads N reaches the child processes as OMP_NUM_THREADS, which torch reads at start-up.
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else None
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return time.perf_counter() - start


def train_process(settings: Settings, scratch: Path) -> Row:
    script = scratch / "plain.py"
    script.write_text(PLAIN_SCRIPT, encoding="utf-8")
    repeats = 1 if settings.quick else 3
    times: dict[str, list[float]] = {"hfa": [], "plain": []}
    device = [f"train.device={settings.device.type}"]
    for i in range(repeats):  # alternated, so a burst of load elsewhere hits both
        out = scratch / f"train{i}"
        hfa_argv = [*_hfa(), "train", "--quiet", "--out", str(out), *TRAIN_OVERRIDES, *device]
        times["hfa"].append(_wall(hfa_argv, ROOT, settings.threads))
        plain_argv = [sys.executable, str(script), str(scratch / f"plain{i}.csv")]
        times["plain"].append(_wall(plain_argv, ROOT, settings.threads))
    hfa, plain = (sorted(v)[len(v) // 2] for v in (times["hfa"], times["plain"]))
    return Row(
        case="train process",
        size=f"{fmt_count(N_SAMPLES)}x{N_FEATURES}, {EPOCHS} ep, hidden 32-16, dropout 0.1",
        hfa=f"{hfa:.1f} s",
        baseline=f"{plain:.1f} s",
        ratio=plain / hfa,
        target=f">= {TRAIN_TARGET:g}x",
        met=plain / hfa >= TRAIN_TARGET,
        hfa_value=hfa,
        baseline_value=plain,
        unit="s wall, fresh process",
        repeats=repeats,
        note="hfa train vs a plain DataLoader script (make_blobs, splits, scaler, same MLP/Adam/epochs, test F1)",
    )


def sweep_process(settings: Settings, scratch: Path) -> Row:
    config = ROOT / "configs" / "quickstart.yaml"
    sys.path.insert(0, str(ROOT / "src"))
    from hfa.sweep import expand

    grid = expand(config)
    points = grid.configs
    sample = 3 if settings.quick else 9
    picked = [points[round(i * (len(points) - 1) / (sample - 1))] for i in range(sample)]
    swept = _wall([*_hfa(), "sweep", "--config", str(config), "--out", str(scratch / "sweep")], ROOT, settings.threads)
    looped = 0.0
    for i, cfg in enumerate(picked):
        point = [f"seed={cfg.seed}", f"loss.name={cfg.loss.name}", f"data.imbalance_ratio={cfg.data.imbalance_ratio}"]
        argv = [*_hfa(), "train", "--quiet", "--config", str(config), "--out", str(scratch / f"loop{i}"), *point]
        looped += _wall(argv, ROOT, settings.threads)
    return rate_row(
        "sweep process",
        f"quickstart, {len(points)} runs",
        60 * len(points) / swept,
        60 * sample / looped,
        "runs per minute",
        SWEEP_TARGET,
        note=f"hfa sweep ({len(points)} runs, {swept:.0f} s) vs a loop of hfa train processes "
        f"({sample} grid points, {looped / sample:.1f} s each)",
    )


def run(settings: Settings) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="hfa-bench-") as tmp:
        scratch = Path(tmp)
        return [train_process(settings, scratch), sweep_process(settings, scratch)]
