"""Torch twin of rtsynth.dsp.harmonic: the same harmonic-plus-noise formulas, batched and
differentiable, so synthesis parameters can be trained against audio (with
`multi_resolution_stft_loss`). Parity with the numpy runtime is tested sample for sample.
"""

from __future__ import annotations

import numpy as np
import torch

from rtsynth.dsp.harmonic import NOISE_LOOP, NYQUIST_FADE, noise_bands


def _frame_blend(n_samples: int, sample_rate: int, frame_seconds: float, n_frames: int, device: torch.device):
    position = torch.arange(n_samples, dtype=torch.float64, device=device) / (sample_rate * frame_seconds)
    left = torch.clamp(torch.floor(position).long(), max=n_frames - 1)
    right = torch.clamp(left + 1, max=n_frames - 1)
    return left, right, (position - left).clamp(0.0, 1.0)


def _lerp(values: torch.Tensor, left: torch.Tensor, right: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """values [B, T, ...] -> per sample [B, N, ...]."""
    shape = (1, -1) + (1,) * (values.dim() - 2)
    return values[:, left] * (1 - t).view(shape) + values[:, right] * t.view(shape)


class HarmonicNoiseSynth(torch.nn.Module):
    """(f0 [B, T] Hz, amplitudes [B, T, K], noise [B, T, Bands]) -> audio [B, N] at `sample_rate`.

    Noise comes from the runtime's own band loops (the same seeded noise), each item read
    from `offsets[b]`; pass the offsets the runtime used to compare sample for sample.
    """

    loops: torch.Tensor  # buffer

    def __init__(self, sample_rate: int, frame_seconds: float, band_centres_hz: tuple[float, ...]):
        super().__init__()
        self.sample_rate, self.frame_seconds = sample_rate, frame_seconds
        self.register_buffer("loops", torch.from_numpy(np.array(noise_bands(sample_rate, band_centres_hz))))

    def forward(
        self,
        f0: torch.Tensor,
        amplitudes: torch.Tensor,
        noise: torch.Tensor,
        n_samples: int,
        offsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        left, right, t = _frame_blend(n_samples, self.sample_rate, self.frame_seconds, f0.shape[1], f0.device)
        f0_n = _lerp(f0.double(), left, right, t)  # [B, N]
        step = 2 * np.pi * f0_n / self.sample_rate
        phase = torch.cumsum(step, dim=1) - step  # phase 0 at the first sample
        k = torch.arange(1, amplitudes.shape[2] + 1, dtype=torch.float64, device=f0.device)
        amp = _lerp(amplitudes.double(), left, right, t)
        amp = amp * ((0.5 - k * f0_n[..., None] / self.sample_rate) / NYQUIST_FADE).clamp(0.0, 1.0)
        harmonic = (amp * torch.sin(torch.remainder(phase[..., None] * k, 2 * np.pi))).sum(dim=2)
        gains = _lerp(noise.double(), left, right, t)  # [B, N, Bands]
        if offsets is None:
            offsets = torch.zeros(f0.shape[0], dtype=torch.long, device=f0.device)
        index = (torch.arange(n_samples, device=f0.device)[None, :] + offsets[:, None]) % NOISE_LOOP  # [B, N]
        bands = self.loops[:, index].permute(1, 2, 0).double()  # [B, N, Bands]
        return (harmonic + (gains * bands).sum(dim=2)).float()


def multi_resolution_stft_loss(
    pred: torch.Tensor, target: torch.Tensor, ffts: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)
) -> torch.Tensor:
    """DDSP's loss: over several FFT sizes (hop a quarter of each), L1 of the magnitudes plus
    L1 of their logs, summed; pred and target [B, N] audio."""
    loss = pred.new_zeros(())
    for n_fft in ffts:
        window = torch.hann_window(n_fft, device=pred.device)
        mags = [torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True).abs() for x in (pred, target)]
        loss = loss + (mags[0] - mags[1]).abs().mean()
        loss = loss + (torch.log(mags[0] + 1e-7) - torch.log(mags[1] + 1e-7)).abs().mean()
    return loss
