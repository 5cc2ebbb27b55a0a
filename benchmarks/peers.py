"""What the issue-24 cases share: fresh processes timed with their peak memory, hfa's command, and the scripts a
user would write instead (scikit-learn's MLPClassifier, a plain PyTorch DataLoader loop, skorch).

Every peer script starts from the same rows as ``hfa train`` on ``data.name=synthetic``: hfa's blob centres,
scikit-learn's ``make_blobs`` and stratified ``train_test_split`` (test 20 %, validation 20 % of all rows) and
``StandardScaler`` fitted on the training rows, so both sides train on identical data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import HERE, Settings

ROOT = HERE.parent

PEER_DATA = """
import sys
import warnings

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def hfa_data(n_samples, n_features, seed, cluster_std=1.0):
    # hfa's synthetic set: fixed centres (RandomState(42)), samples from the seed; hfa's two stratified cuts.
    centres = np.random.RandomState(42).uniform(-10.0, 10.0, size=(2, n_features))
    x, y = make_blobs(n_samples=n_samples, centers=centres, cluster_std=cluster_std, random_state=seed)
    rest, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=seed)
    scaler = StandardScaler().fit(x[train])
    return [(scaler.transform(x[i]).astype(np.float32), y[i]) for i in (train, val, test)]
"""

MLP_SCRIPT = (
    PEER_DATA
    + """
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier

n_samples, n_features, epochs = (int(a) for a in sys.argv[1:4])
(x_train, y_train), _, (x_test, y_test) = hfa_data(n_samples, n_features, 0)
model = MLPClassifier(
    hidden_layer_sizes=(64, 64), solver="adam", batch_size=256, learning_rate_init=1e-3, max_iter=epochs,
    tol=0.0, n_iter_no_change=10**9, random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # max_iter reached: the epochs asked for
    model.fit(x_train, y_train)
print(f1_score(y_test, model.predict(x_test)))
"""
)

TORCH_MODEL = """
import torch
from torch import nn


def mlp(n_features, hidden):
    layers, width = [], n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 1), nn.Flatten(0))
"""

TORCH_RUN = (
    PEER_DATA
    + TORCH_MODEL
    + """
n_samples, n_features, epochs = (int(a) for a in sys.argv[1:4])
torch.manual_seed(0)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = hfa_data(n_samples, n_features, 0)
"""
)

LOADER_SCRIPT = (
    TORCH_RUN
    + """
from sklearn.metrics import f1_score
from torch.utils.data import DataLoader, TensorDataset

tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)
x_val, y_val, x_test = tensor(x_val), tensor(y_val), tensor(x_test)
model = mlp(n_features, [64, 64])
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.BCEWithLogitsLoss()
loader = DataLoader(TensorDataset(tensor(x_train), tensor(y_train)), batch_size=256, shuffle=True)
for epoch in range(epochs):
    model.train()
    for xb, yb in loader:
        loss = criterion(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_loss = criterion(model(x_val), y_val).item()
with torch.no_grad():
    print(f1_score(y_test, (model(x_test) >= 0).int().numpy()))
"""
)

SKORCH_SCRIPT = (
    TORCH_RUN
    + """
from skorch import NeuralNetBinaryClassifier
from skorch.dataset import Dataset
from skorch.helper import predefined_split

net = NeuralNetBinaryClassifier(
    mlp(n_features, [64, 64]), max_epochs=epochs, lr=1e-3, batch_size=256, optimizer=torch.optim.Adam,
    iterator_train__shuffle=True, train_split=predefined_split(Dataset(x_val, y_val.astype(np.float32))), verbose=0,
)
net.fit(x_train, y_train.astype(np.float32))
print(net.score(x_test, y_test))
"""
)


@dataclass(frozen=True)
class Process:
    seconds: float
    peak_bytes: int


def hfa_command() -> list[str]:
    script = Path(sys.executable).with_name("hfa")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from hfa.cli import main; main()"]


def child_env(threads: int | None) -> dict[str, str]:
    """The benchmark's environment for a child: hfa from this checkout, and ``--threads`` as OMP_NUM_THREADS."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_process(argv: list[str], settings: Settings, cwd: Path = ROOT) -> Process:
    """Seconds (wall, or user + system with ``--clock cpu``) and peak resident memory (the child's own
    ``ru_maxrss``, from ``wait4``) of one fresh process."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=child_env(settings.threads), stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-400:]
            raise RuntimeError(f"{' '.join(argv[:4])} failed ({child.returncode}): {tail}")
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return Process(wall if settings.clock == "wall" else usage.ru_utime + usage.ru_stime, peak)


def script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run_info(out: Path) -> dict:
    """run.json of the one run folder under ``out``."""
    (found,) = out.rglob("run.json")
    return json.loads(found.read_text())


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
