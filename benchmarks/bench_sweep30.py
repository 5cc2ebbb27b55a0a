"""Issue 24: a sweep of 30 small runs (losses bce, wbce, f1 x seeds 0-9; 10k synthetic rows x 2 features, hidden
32-32, batch 256, 10 epochs, no early stopping) as one ``hfa sweep`` process, against

- 30 skorch ``NeuralNetBinaryClassifier`` fits in one process, each on its seed's rows (scikit-learn's make_blobs,
  splits and scaler, as the other peers) with hfa's loss modules as skorch's criterion and a validation split;
- a shell loop of ``hfa train`` processes: a sample of the 30 runs (every 6th; every 10th with ``--quick``), the
  loop's time extrapolated to 30.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import Row, Settings, seconds_row
from peers import PEER_DATA, TORCH_MODEL, hfa_command, run_process, script

LOSSES, SEEDS = ("bce", "wbce", "f1"), tuple(range(10))
SKORCH_TARGET, LOOP_TARGET = 10.0, 30.0

CONFIG = """\
name: sweep30
seed: 0
data: {name: synthetic, n_samples: 10000, n_features: 2, cluster_std: 5.0, imbalance_ratio: null}
model: {hidden: [32, 32]}
train: {epochs: 10, batch_size: 256, lr: 0.003, patience: 0, device: cpu}
sweep:
  loss.name: [bce, wbce, f1]
  seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

SKORCH_SWEEP = (
    PEER_DATA
    + TORCH_MODEL
    + """
from skorch import NeuralNetBinaryClassifier
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from hfa.losses import build_loss



def probabilities(logits):  # what skorch does itself for BCEWithLogitsLoss, not for another criterion
    p = torch.sigmoid(logits)
    return torch.stack((1 - p, p), dim=1)


for seed in range(10):
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = hfa_data(10_000, 2, seed, cluster_std=5.0)
    y_train, y_val = y_train.astype(np.float32), y_val.astype(np.float32)
    for loss in ("bce", "wbce", "f1"):
        torch.manual_seed(seed)
        criterion = build_loss(loss).fit(torch.as_tensor(y_train))  # wbce: pos_weight from the training labels
        net = NeuralNetBinaryClassifier(
            mlp(2, [32, 32]), criterion=criterion, max_epochs=10, lr=3e-3, batch_size=256,
            optimizer=torch.optim.Adam, iterator_train__shuffle=True, predict_nonlinearity=probabilities,
            train_split=predefined_split(Dataset(x_val, y_val)), verbose=0,
        )
        net.fit(x_train, y_train)
        net.score(x_test, y_test)
"""
)


def run(settings: Settings) -> list[Row]:
    every = 10 if settings.quick else 6
    with tempfile.TemporaryDirectory(prefix="hfa-sweep30-") as tmp:
        scratch = Path(tmp)
        config = script(scratch, "sweep30.yaml", CONFIG)
        peer = script(scratch, "skorch_sweep.py", SKORCH_SWEEP)
        swept = run_process(
            [*hfa_command(), "sweep", "--config", str(config), "--out", str(scratch / "sweep")], settings
        )
        skorch = run_process([sys.executable, str(peer)], settings)
        points = [(loss, seed) for loss in LOSSES for seed in SEEDS][::every]
        looped = 0.0
        for i, (loss, seed) in enumerate(points):
            argv = [*hfa_command(), "train", "--quiet", "--config", str(config), "--out", str(scratch / f"loop{i}")]
            looped += run_process([*argv, f"loss.name={loss}", f"seed={seed}"], settings).seconds
    loop_30 = looped / len(points) * len(LOSSES) * len(SEEDS)
    size, unit = "3 losses x 10 seeds, 10k x 2", f"s {settings.clock} for the 30 runs, fresh processes"
    loop_note = f"a shell loop of hfa train: {len(points)} of the 30 runs timed, {looped / len(points):.2f} s each"
    return [
        seconds_row(
            "sweep of 30 vs skorch",
            size,
            swept.seconds,
            skorch.seconds,
            SKORCH_TARGET,
            unit,
            "hfa sweep (one process, stacked) vs 30 skorch fits in one process",
        ),
        seconds_row(
            "sweep of 30 vs hfa train loop",
            size,
            swept.seconds,
            loop_30,
            LOOP_TARGET,
            unit,
            f"hfa sweep (one process, stacked) vs {loop_note}",
        ),
    ]
