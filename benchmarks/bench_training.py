"""Case 2: training throughput of ``hfa.training.fit`` against a plain ``DataLoader`` loop.

Both sides train the same MLP (``hfa.model.build_model`` with the default config) with Adam, BCE, the same batch
size and number of epochs, and both pay for the same per-epoch extras that ``fit`` always does: the loss and F1 on
the whole validation split, and a copy of the weights whenever the validation loss improves. Throughput is training
rows times epochs over the wall time of the whole call.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bench_loss import tensor_ops
from common import Row, Settings, compare, fmt_count, rate_row
from hfa.config import ModelConfig, TrainConfig
from hfa.losses import build_loss
from hfa.model import build_model
from hfa.training import fit, hard_f1

N_TRAIN, N_VAL, N_FEATURES = 100_000, 20_000, 20
TARGET = 5.0  # on CPU; 10x on a GPU (targets.py)


def synthetic(n: int, n_features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows whose label is a noisy linear rule with about 10 % positives."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=generator)
    w = torch.randn(n_features, generator=generator)
    score = x @ w / math.sqrt(n_features) + 0.5 * torch.randn(n, generator=generator)
    y = (score > 1.3).float()
    return x, y


def plain_loop(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    cfg: TrainConfig,
    device: torch.device,
) -> None:
    """The loop from the PyTorch tutorials: CPU tensors in a DataLoader, each batch moved to the device."""
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=cfg.batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    criterion = nn.BCEWithLogitsLoss()
    x_val, y_val = x_val.to(device), y_val.to(device)
    best = math.inf
    for _ in range(cfg.epochs):
        model.train()
        running = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = criterion(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * len(xb)
        model.eval()
        with torch.no_grad():
            val_logits = model(x_val)
            val_loss = criterion(val_logits, y_val).item()
            hard_f1(val_logits[None], y_val[None]).item()
        if val_loss < best:
            best, _ = val_loss, copy.deepcopy(model.state_dict())


def flop_per_row(hidden: list[int]) -> float:
    """FLOP per training row: forward (2 x MACs) and backward (4 x MACs) of the MLP, plus the per-epoch
    validation forward spread over the epoch's training rows."""
    widths = [N_FEATURES, *hidden, 1]
    macs = sum(a * b for a, b in zip(widths, widths[1:], strict=False))
    return 6 * macs + 2 * macs * N_VAL / N_TRAIN


# (case, model): the default MLP, and issue 10's dropout case (hidden [32, 16], dropout 0.1).
CASES = (
    ("training", ModelConfig()),
    ("training dropout", ModelConfig(hidden=[32, 16], dropout=0.1)),
)


def run(settings: Settings) -> list[Row]:
    return [_case(settings, case, model_cfg) for case, model_cfg in CASES]


def _case(settings: Settings, case: str, model_cfg: ModelConfig) -> Row:
    device = settings.device
    epochs = 1 if settings.quick else 2
    cfg = TrainConfig(epochs=epochs, batch_size=256, lr=1e-3, patience=0)
    x_train, y_train = synthetic(N_TRAIN, N_FEATURES, seed=0)
    x_val, y_val = synthetic(N_VAL, N_FEATURES, seed=1)
    on_device = [t.to(device) for t in (x_train, y_train, x_val, y_val)]
    loss_fn = build_loss("bce").to(device)

    def with_hfa() -> None:
        torch.manual_seed(0)
        model = build_model(N_FEATURES, model_cfg).to(device)
        fit(model, loss_fn, *on_device, cfg, seed=0)

    def with_dataloader() -> None:
        torch.manual_seed(0)
        model = build_model(N_FEATURES, model_cfg).to(device)
        plain_loop(model, x_train, y_train, x_val, y_val, cfg, device)

    repeats = 2 if settings.quick else 3
    seconds = compare({"hfa": with_hfa, "plain": with_dataloader}, device, repeats, warmup=1)
    # Tensor operations a step: one epoch of 100 batches (validation on one batch), set-up spread over them.
    steps, batch = 100, cfg.batch_size
    short = TrainConfig(epochs=1, batch_size=batch, lr=1e-3, patience=0)
    small = [t[: steps * batch] for t in on_device[:2]] + [t[:batch] for t in on_device[2:]]
    ops = tensor_ops(lambda: fit(build_model(N_FEATURES, model_cfg).to(device), loss_fn, *small, short, seed=0))
    rows_seen = N_TRAIN * epochs
    widths = "-".join(map(str, model_cfg.hidden))
    return rate_row(
        case,
        f"{fmt_count(N_TRAIN)}x{N_FEATURES}, {epochs} ep, hidden {widths}, dropout {model_cfg.dropout:g}",
        rows_seen / seconds["hfa"],
        rows_seen / seconds["plain"],
        "training rows per second",
        TARGET,
        repeats=repeats,
        note=f"fit vs DataLoader(shuffle=True) loop; batch {cfg.batch_size}, Adam, BCE, val {fmt_count(N_VAL)}",
        extra={"flop_per_row": flop_per_row(list(model_cfg.hidden)), "ops_per_step": ops / steps, "batch": batch},
    )
