"""Removers R_ξ: predict descriptor ξ from the other three latents (Dal Rí et al. eq. 3-4).

Kept as a module apart from the VAE: they have their own optimiser and, under DDP, their
own wrapper, because they are trained in a second stage on detached latents.
"""

from __future__ import annotations

import torch
from torch import nn

from rtsynth.labels import DESCRIPTORS, LATENT_DIMS, LATENT_SIZE
from rtsynth.train.models.init import kaiming_linear, mlp


def others(z: dict[str, torch.Tensor], descriptor: str) -> torch.Tensor:
    """Concatenation of every latent except `descriptor`'s, in DESCRIPTORS order."""
    return torch.cat([z[d] for d in DESCRIPTORS if d != descriptor], dim=-1)


class Removers(nn.Module):
    def __init__(self, vocab_sizes: dict[str, int], hidden: tuple[int, ...]):
        super().__init__()
        self.nets = nn.ModuleDict(
            {d: mlp([LATENT_SIZE - LATENT_DIMS[d], *hidden, vocab_sizes[d]]) for d in DESCRIPTORS}
        )
        kaiming_linear(self)

    def forward(self, z: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {d: net(others(z, d)) for d, net in self.nets.items()}
