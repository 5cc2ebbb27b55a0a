"""The classifier: a multilayer perceptron that outputs one logit per row."""

from __future__ import annotations

import torch
from torch import nn

from hfa.config import ModelConfig

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MLP(nn.Module):
    """``in_features -> hidden[0] -> ... -> hidden[-1] -> 1``; with ``hidden=[]`` it is logistic regression."""

    def __init__(self, in_features: int, hidden: list[int], dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for out in hidden:
            layers += [nn.Linear(width, out), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = out
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def build_model(in_features: int, cfg: ModelConfig) -> MLP:
    return MLP(in_features, list(cfg.hidden), cfg.dropout, cfg.activation)
