"""Variational heads V_ξ and classifiers C_ξ."""

from __future__ import annotations

import math

import torch
from torch import nn

from rtsynth.train.models.init import kaiming_linear, mlp, xavier_linear


class VariationalHead(nn.Module):
    """V_ξ: h -> (mu, logvar) of a diagonal Gaussian posterior over a d-dim latent.

    The log-variance is squashed smoothly into [logvar_min, logvar_max] so an early
    outlier cannot overflow exp() and turn the KL term infinite. It starts small
    (`logvar_init`): with unit variance the sampling noise would drown the class
    structure that the classifiers and the mixture prior need to find early on.
    """

    def __init__(self, hidden: int, head_hidden: int, dim: int, logvar_range: tuple[float, float], logvar_init: float):
        super().__init__()
        sizes = [hidden, head_hidden, 2 * dim] if head_hidden else [hidden, 2 * dim]
        self.net = mlp(sizes)
        self.low, self.high = logvar_range
        if not self.low < logvar_init < self.high:
            raise ValueError(f"initial log-variance {logvar_init} is outside the range {logvar_range}")
        p = (logvar_init - self.low) / (self.high - self.low)
        self.offset = math.log(p / (1 - p))  # a raw output of 0 gives logvar_init
        xavier_linear(self)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = self.net(h).chunk(2, dim=-1)
        logvar = self.low + (self.high - self.low) * torch.sigmoid(raw + self.offset)
        return mu, logvar


def classifier(dim: int, hidden: int, n_classes: int) -> nn.Sequential:
    """C_ξ: Linear(d, 64) - LeakyReLU - Linear(64, K) (Dal Rí et al. and its reference code)."""
    net = mlp([dim, hidden, n_classes])
    kaiming_linear(net)
    return net
