"""Initialisation as Dal Rí et al. section III-C states it."""

from __future__ import annotations

from torch import nn


def xavier_linear(module: nn.Module) -> None:
    """Xavier for the linear layers of encoder and decoder."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def kaiming_linear(module: nn.Module, negative_slope: float = 0.01) -> None:
    """Kaiming for the classifiers and removers (LeakyReLU networks)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, a=negative_slope, nonlinearity="leaky_relu")
            nn.init.zeros_(m.bias)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with LeakyReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(nn.LeakyReLU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)
