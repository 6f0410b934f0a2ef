"""Harmonic output of the decoder: partials of one f0 written straight into the mel bins.

Why: an output layer that writes each frame's mel bins from a feature vector must learn a
separate spectrum for every pitch; over 81 pitches × 14 instruments it learned only a few
(11 % of reconstructions in tune, README). Here pitch is a number. A small network reads
the sounding pitch (MIDI, continuous) from z_P alone, trained on the pitch labels; the
decoder's trunk writes the log power of each partial per frame and of a noise floor per
mel bin; the partials sit at k·f0 and reach the mel bins through the exact response of
the Hann-windowed STFT and the mel filterbank to a sinusoid, so a morph along z_P glides
in pitch and the timbre latents only shape the partials. Every step exports to ONNX.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rtsynth.dsp.mel import mel_filterbank
from rtsynth.labels import latent_slices
from rtsynth.settings import MelSettings
from rtsynth.train.models.init import mlp, xavier_linear

REACH = 6  # FFT bins either side of a partial that its window main lobe and first sidelobes reach
LOG_POWER_RANGE = (-40.0, 10.0)  # natural-log power, relative to a partial's peak at 1 kHz


@dataclass(frozen=True)
class HarmonicSetup:
    """What the harmonic output needs from the dataset: its mel settings and pitch classes."""

    mel_settings: MelSettings
    pitch_midi: tuple[int, ...]  # MIDI number of each pitch class, in class-index order


def midi_to_hz(midi: torch.Tensor) -> torch.Tensor:
    return 440.0 * torch.pow(2.0, (midi - 69.0) / 12.0)


def hann_power(offset: torch.Tensor, n_fft: int) -> torch.Tensor:
    """|STFT|² at `offset` bins from a unit-amplitude sinusoid, periodic Hann window."""
    lobe = 0.5 * _sinc(offset) + 0.25 * _sinc(offset - 1) + 0.25 * _sinc(offset + 1)
    return (0.5 * n_fft * lobe) ** 2


def _sinc(x: torch.Tensor) -> torch.Tensor:
    """sin(πx)/(πx), written out: ONNX has no sinc operator."""
    safe = torch.where(x == 0, torch.ones_like(x), x) * np.pi
    return torch.where(x == 0, torch.ones_like(x), torch.sin(safe) / safe)


class PartialRenderer(nn.Module):
    """f0 [B] in Hz -> mel power of each partial k·f0 at unit amplitude [B, n_mels, partials].

    Matches `rtsynth.dsp.mel.mel_power` of a steady harmonic tone within a few dB down to
    60 dB below its peak (tests/test_harmonic.py); partials above Nyquist render as zero.
    The result is scaled so that a partial at 1 kHz peaks at 1 in its loudest mel bin.
    """

    filterbank_t: torch.Tensor  # buffers
    harmonics: torch.Tensor
    offsets: torch.Tensor

    def __init__(self, settings: MelSettings, partials: int):
        super().__init__()
        self.n_fft, self.bin_hz = settings.n_fft, settings.sample_rate / settings.n_fft
        self.register_buffer("filterbank_t", torch.from_numpy(np.array(mel_filterbank(settings).T)))
        self.register_buffer("harmonics", torch.arange(1, partials + 1, dtype=torch.float32))
        self.register_buffer("offsets", torch.arange(1 - REACH, REACH + 1))
        self.scale = 1.0 / float(self._response(torch.tensor([1000.0])).max())

    def forward(self, f0: torch.Tensor) -> torch.Tensor:
        return self._response(f0) * self.scale

    def _response(self, f0: torch.Tensor) -> torch.Tensor:
        position = (f0.double()[:, None] * self.harmonics.double()) / self.bin_hz  # [B, H] in FFT bins
        bins = torch.floor(position).long()[..., None] + self.offsets  # [B, H, 2 REACH]
        inside = (bins >= 0) & (bins < self.filterbank_t.shape[0])
        weight = (hann_power(bins - position[..., None], self.n_fft) * inside).float()
        columns = self.filterbank_t[bins.clamp(0, self.filterbank_t.shape[0] - 1)]  # [B, H, 2 REACH, M]
        return (weight[..., None] * columns).sum(dim=2).transpose(1, 2)  # onnxruntime: faster than an einsum


class PitchReader(nn.Module):
    """z_S -> the pitch to sound (MIDI, continuous), from z_P alone so timbre cannot detune it."""

    classes: torch.Tensor  # buffer

    def __init__(self, hidden: int, pitch_midi: tuple[int, ...]):
        super().__init__()
        self.slice = latent_slices()["pitch"]
        self.register_buffer("classes", torch.tensor(pitch_midi, dtype=torch.float32))
        self.centre = (max(pitch_midi) + min(pitch_midi)) / 2
        self.half_span = max((max(pitch_midi) - min(pitch_midi)) / 2, 1.0)
        dim = self.slice.stop - self.slice.start
        self.net = mlp([dim, hidden, hidden, 1])
        xavier_linear(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """MIDI in float64: see `HarmonicHead` for why the pitch path runs in double precision."""
        x = z[:, self.slice].double()
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                x = nn.functional.linear(x, layer.weight.double(), layer.bias.double())
            else:
                assert isinstance(layer, nn.LeakyReLU)  # mlp() builds Linear and LeakyReLU layers only
                x = torch.maximum(x, layer.negative_slope * x)  # LeakyReLU, in an op every runtime has for doubles
        return self.centre + self.half_span * x[:, 0]


class HarmonicHead(nn.Module):
    """Trunk features [B, C, T'] and z_S -> mel [B, n_mels, T] in [0, 1].

    Power = partials at the read pitch + a noise floor per bin, both as log power; mapped to
    [0, 1] like the training mels (dB over `db_range`), clamped. While training the clamp
    leaks 1 % so a bin pushed past the floor still gets a gradient back.

    The pitch and the partials' window weights are computed in float64: a partial almost on
    an FFT bin centre leaves its far sidelobes near a null, and where such a sidelobe is a mel
    bin's loudest term, two float32 ulps of pitch (what two runtimes' sums differ by) moved the
    output by 1e-4, the export's whole parity tolerance.
    """

    def __init__(
        self,
        channels: int,
        kernel: int,
        stride: int,
        n_mels: int,
        partials: int,
        pitch_hidden: int,
        setup: HarmonicSetup,
    ):
        super().__init__()
        pad = (kernel - stride) // 2
        self.partials = nn.ConvTranspose1d(channels, partials, kernel, stride, pad)
        self.noise = nn.ConvTranspose1d(channels, n_mels, kernel, stride, pad)
        self.pitch = PitchReader(pitch_hidden, setup.pitch_midi)
        self.render = PartialRenderer(setup.mel_settings, partials)
        self.unit_per_neper = 10.0 / (np.log(10.0) * setup.mel_settings.db_range)  # [0, 1] per natural-log power

    @torch.no_grad()
    def fit_output_bias(self, mels: torch.Tensor, eps: float = 1e-3, partial_db: float = -20.0) -> None:
        """Noise floor at the training split's mean spectrum; partials start `partial_db` down."""
        mean = mels.mean(dim=(0, 2)).clamp(eps, 1 - eps)
        assert self.noise.bias is not None and self.partials.bias is not None  # built with bias
        self.noise.bias.copy_((mean - 1) / self.unit_per_neper)
        self.partials.bias.fill_(partial_db / 10 * np.log(10))

    def synthesis_parameters(self, h: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pitch [B] MIDI, partial powers [B, K, T], noise powers [B, n_mels, T]): what the engine
        synthesizes from; the label loss alone trains the pitch."""
        pitch = self.pitch(z).detach()
        partials = torch.exp(self.partials(h).clamp(*LOG_POWER_RANGE))
        return pitch, partials, torch.exp(self.noise(h).clamp(*LOG_POWER_RANGE))

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        pitch, partials, noise = self.synthesis_parameters(h, z)
        power = torch.bmm(self.render(midi_to_hz(pitch)), partials) + noise
        unit = torch.log(power) * self.unit_per_neper + 1.0  # dB over the mel settings' range, one pass
        clamped = unit.clamp(0.0, 1.0)
        return clamped + 0.01 * (unit - clamped) if self.training else clamped
