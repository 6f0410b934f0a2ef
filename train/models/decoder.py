"""Decoder D: z_S [B, 20] -> mel [B, n_mels, frames] in [0, 1].

A trunk of 1-D transposed convolutions along time (every layer one matrix product, fast on
CPU; each stage doubles the frame rate, `decoder_depth - 1` stride-1 convolutions refine
it), then one of two output heads (`decoder_output`):

- "mel": a layer that writes each frame's whole spectrum from its feature vector, through
  a sigmoid whose bias starts at the training split's mean spectrum (a sigmoid that starts
  saturated near 0 wastes the first epochs on a vanishing gradient);
- "harmonic": partials at a pitch read from z_P plus a noise floor (train/models/harmonic.py),
  for models over many pitches.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from rtsynth.train.config import ModelConfig
from rtsynth.train.models.harmonic import HarmonicHead, HarmonicSetup
from rtsynth.train.models.init import xavier_linear


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


class MelHead(nn.Module):
    """Trunk features [B, C, T'] -> mel [B, n_mels, T] through a sigmoid."""

    def __init__(self, channels: int, kernel: int, stride: int, n_mels: int):
        super().__init__()
        self.output = nn.ConvTranspose1d(channels, n_mels, kernel, stride, (kernel - stride) // 2)

    @torch.no_grad()
    def fit_output_bias(self, mels: torch.Tensor, eps: float = 1e-3) -> None:
        """Output bias = logit of the mean value of each mel bin in `mels` [N, M, T]."""
        mean = mels.mean(dim=(0, 2)).clamp(eps, 1 - eps)
        assert self.output.bias is not None  # built with bias
        self.output.bias.copy_(torch.log(mean / (1 - mean)))

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.output(h))


class Decoder(nn.Module):
    def __init__(
        self, config: ModelConfig, latent_size: int, n_mels: int, n_frames: int, harmonic: HarmonicSetup | None = None
    ):
        super().__init__()
        ch = config.decoder_channels
        self.shape = (ch[0], decoder_frames(config, n_frames))
        self.expand = nn.Sequential(
            nn.Linear(latent_size, config.hidden),
            nn.LeakyReLU(),
            nn.Linear(config.hidden, ch[0] * self.shape[1]),
            nn.LeakyReLU(),
        )
        layers: list[nn.Module] = _refine(ch[0], config.decoder_depth)
        for a, b in itertools.pairwise(ch):
            layers += [nn.ConvTranspose1d(a, b, 4, 2, 1), nn.LeakyReLU(), *_refine(b, config.decoder_depth)]
        deconvs = nn.Sequential(*layers)
        xavier_linear(self)
        k, s = config.decoder_kernel, config.decoder_stride
        if config.decoder_output == "mel":
            self.head: MelHead | HarmonicHead = MelHead(ch[-1], k, s, n_mels)
        elif harmonic is None:
            raise ValueError("decoder_output 'harmonic' needs the dataset's mel settings and pitch classes")
        else:
            self.head = HarmonicHead(ch[-1], k, s, n_mels, config.partials, config.pitch_hidden, harmonic)
        self.deconvs = deconvs  # registered after the head: the parameter order of older checkpoints

    def fit_output_bias(self, mels: torch.Tensor) -> None:
        """Start the output at the training split's mean spectrum `mels` [N, M, T]."""
        self.head.fit_output_bias(mels)

    def sounding_pitch(self, z: torch.Tensor) -> torch.Tensor | None:
        """The pitch (MIDI) the harmonic head sounds for z_S; None for the "mel" head."""
        return self.head.pitch(z).float() if isinstance(self.head, HarmonicHead) else None

    def class_pitch(self, pitch_labels: torch.Tensor) -> torch.Tensor:
        """MIDI numbers of pitch class indices (harmonic head only)."""
        if not isinstance(self.head, HarmonicHead):
            raise TypeError("class pitches need the harmonic head")
        return self.head.pitch.classes[pitch_labels]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.expand(z).view(-1, *self.shape)
        return self.head(self.deconvs(h), z)
