"""Priors p(z_ξ | y_ξ): a Gaussian mixture with one learnable mean per class, or N(0, I)."""

from __future__ import annotations

import math

import torch
from torch import nn


def gaussian_kl(
    mu: torch.Tensor, logvar: torch.Tensor, prior_mu: torch.Tensor | float = 0.0, prior_logvar: float = 0.0
) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(prior_mu, e^prior_logvar)) per row, summed over dimensions."""
    var_ratio = torch.exp(logvar - prior_logvar)
    sq = (mu - prior_mu) ** 2 / math.exp(prior_logvar)
    return 0.5 * (var_ratio + sq - 1.0 - (logvar - prior_logvar)).sum(dim=-1)


class GaussianMixturePrior(nn.Module):
    """K components N(μ_k, σ² I) with learnable μ_k (Xavier init) and fixed σ².

    The KL is taken to the component of the known label (Dal Rí et al., as in Luo et al.).
    """

    def __init__(self, n_classes: int, dim: int, logvar: float = 0.0):
        super().__init__()
        self.means = nn.Parameter(torch.empty(n_classes, dim))
        nn.init.xavier_uniform_(self.means)
        self.logvar = logvar

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return gaussian_kl(mu, logvar, self.means[labels], self.logvar)
