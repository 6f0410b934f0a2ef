"""Decoder D: z_S [B, 20] -> mel [B, n_mels, frames] in [0, 1].

1-D transposed convolutions along time with the mel bins as output channels: every layer
is one matrix product (fast on CPU), and the output layer writes each frame's whole
spectrum from a feature vector. Each stage doubles the frame rate; `decoder_depth - 1`
stride-1 convolutions refine each stage. The output bias starts at the training split's
mean spectrum (`fit_output_bias`): a sigmoid that starts saturated near 0 wastes the
first epochs on a vanishing gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from train.config import ModelConfig
from train.models.init import xavier_linear


def decoder_frames(config: ModelConfig, n_frames: int) -> int:
    """Frames of the decoder's first feature map."""
    factor = config.decoder_stride * 2 ** (len(config.decoder_channels) - 1)
    if n_frames % factor:
        raise ValueError(f"{n_frames} frames are not divisible by the decoder's upsampling {factor}")
    return n_frames // factor


def _refine(channels: int, depth: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for _ in range(depth - 1):
        layers += [nn.Conv1d(channels, channels, 3, 1, 1), nn.LeakyReLU()]
    return layers


class Decoder(nn.Module):
    def __init__(self, config: ModelConfig, latent_size: int, n_mels: int, n_frames: int):
        super().__init__()
        ch = config.decoder_channels
        self.shape = (ch[0], decoder_frames(config, n_frames))
        self.expand = nn.Sequential(
            nn.Linear(latent_size, config.hidden), nn.LeakyReLU(),
            nn.Linear(config.hidden, ch[0] * self.shape[1]), nn.LeakyReLU(),
        )
        layers: list[nn.Module] = _refine(ch[0], config.decoder_depth)
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose1d(a, b, 4, 2, 1), nn.LeakyReLU(), *_refine(b, config.decoder_depth)]
        k, s = config.decoder_kernel, config.decoder_stride
        self.output = nn.ConvTranspose1d(ch[-1], n_mels, k, s, (k - s) // 2)
        self.deconvs = nn.Sequential(*layers)
        xavier_linear(self)

    @torch.no_grad()
    def fit_output_bias(self, mels: torch.Tensor, eps: float = 1e-3) -> None:
        """Output bias = logit of the mean value of each mel bin in `mels` [N, M, T]."""
        mean = mels.mean(dim=(0, 2)).clamp(eps, 1 - eps)
        self.output.bias.copy_(torch.log(mean / (1 - mean)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.expand(z).view(-1, *self.shape)
        return torch.sigmoid(self.output(self.deconvs(h)))
