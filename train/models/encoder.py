"""Feature extractor φ: mel [B, n_mels, frames] -> shared feature vector h.

2-D convolutions over (mel, time): local spectral patterns (harmonic spacing, formant
shapes, attacks) are learned once and recognised at every pitch, which is what lets
timbre generalise across the pitch range from a thousand notes; a dense layer over the
mel bins (tried first) had to learn them per pitch and overfitted. For CPU speed, time is
average-pooled first (durations are 250 ms classes, ~11 frames, so 4-frame resolution
loses nothing), a patch-sized stem downsamples again and channels stay few. No batch
normalisation, so a data-parallel gradient equals the single-process one exactly.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from rtsynth.settings import sounding_level
from rtsynth.train.config import ModelConfig
from rtsynth.train.models.init import xavier_linear


def encoder_grid(config: ModelConfig, n_mels: int, n_frames: int) -> tuple[int, int]:
    """(mel rows, frames) of the last feature map."""
    scale = 2 ** (len(config.encoder_channels) - 1)
    sm, st = config.encoder_stem
    mel_factor, frame_factor = sm * scale, config.time_pool * st * scale
    if n_mels % mel_factor or n_frames % frame_factor:
        raise ValueError(
            f"a {n_mels}x{n_frames} mel is not divisible by the encoder's downsampling {mel_factor}x{frame_factor}"
        )
    return n_mels // mel_factor, n_frames // frame_factor


def _refine(channels: int, depth: int) -> list[nn.Module]:
    """depth - 1 stride-1 convolutions that keep the resolution of their stage."""
    layers: list[nn.Module] = []
    for _ in range(depth - 1):
        layers += [nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU()]
    return layers


class FeatureExtractor(nn.Module):
    """φ. The input is standardised per mel bin with statistics of the training split
    (`fit_input_statistics`, kept as buffers in the checkpoint): raw [0, 1] mels share a
    large offset that dominates the first layer's gradient and slows learning severalfold.
    """

    input_mean: torch.Tensor  # buffers
    input_std: torch.Tensor

    def __init__(self, config: ModelConfig, n_mels: int, n_frames: int):
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(n_mels, 1))
        self.register_buffer("input_std", torch.ones(n_mels, 1))
        ch, stem = config.encoder_channels, config.encoder_stem
        layers: list[nn.Module] = [
            nn.AvgPool2d((1, config.time_pool)),
            nn.Conv2d(1, ch[0], stem, stem),
            nn.LeakyReLU(),
            *_refine(ch[0], config.encoder_depth),
        ]
        for a, b in itertools.pairwise(ch):
            layers += [nn.Conv2d(a, b, 3, 2, 1), nn.LeakyReLU(), *_refine(b, config.encoder_depth)]
        self.convs = nn.Sequential(*layers)
        rows, frames = encoder_grid(config, n_mels, n_frames)
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(ch[-1] * rows * frames, config.hidden), nn.LeakyReLU())
        self.summary = SoundingSummary(config, n_mels) if config.summary_hidden else None
        xavier_linear(self)

    @torch.no_grad()
    def fit_input_statistics(self, mels: torch.Tensor, floor: float = 1e-3) -> None:
        """Per-bin mean and standard deviation over notes and frames of `mels` [N, M, T]."""
        self.input_mean.copy_(mels.mean(dim=(0, 2)).unsqueeze(1))
        self.input_std.copy_(mels.std(dim=(0, 2)).unsqueeze(1).clamp_min(floor))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = (mel - self.input_mean) / self.input_std
        h = self.project(self.convs(x.unsqueeze(1)))
        return h if self.summary is None else h + self.summary(mel, x)


class SoundingSummary(nn.Module):
    """Mean of each standardised mel bin over the note's sounding frames -> h.

    Why: timbre is what stays the same while a note sounds. The convolutional path sees a
    1 s note and a 6 s one as different pictures and has to learn from a thousand notes that
    they share an instrument; the mean over the frames within the trim level does not change
    with the duration. Each bin's spread over time, tried beside it, carried more of the
    dynamics colour into z_T (docs/results.md). Sounding frames are those whose loudest bin
    reaches prep's trim level.
    """

    def __init__(self, config: ModelConfig, n_mels: int):
        super().__init__()
        self.level = sounding_level()
        self.mlp = nn.Sequential(
            nn.Linear(n_mels, config.summary_hidden),
            nn.LeakyReLU(),
            nn.Linear(config.summary_hidden, config.hidden),
        )

    def forward(self, mel: torch.Tensor, standardised: torch.Tensor) -> torch.Tensor:
        sounding = (mel.amax(dim=1, keepdim=True) >= self.level).float()
        weights = sounding / sounding.sum(dim=2, keepdim=True).clamp_min(1.0)
        return self.mlp((standardised * weights).sum(dim=2))
