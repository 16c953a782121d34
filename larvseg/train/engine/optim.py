"""The optimizer and learning-rate schedule of a run (the paper's SGD + poly, or AdamW)."""

from __future__ import annotations

import torch
from torch import nn

from ..config import TrainConfig


def poly_lr(iteration: int, config: TrainConfig) -> float:
    """mmseg's poly schedule: `(lr - min_lr) * (1 - it / iterations) ** power + min_lr`."""
    optim = config.optim
    progress = min(iteration / optim.iterations, 1.0)
    return (optim.lr - optim.min_lr) * (1.0 - progress) ** optim.power + optim.min_lr


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW over all parameters, as `config.optim.name` says."""
    optim = config.optim
    if optim.name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
    )
