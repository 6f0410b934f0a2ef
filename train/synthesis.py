"""Torch twins of the runtime's synthesis, batched and differentiable: the harmonic-plus-noise
synthesizer (rtsynth.dsp.harmonic) and the reading of a harmonic decoder's outputs into its
parameters (rtsynth.synthesis.FrameReader), so the decoder trains against audio
(rtsynth.train.audio) with a log-mel or a multi-resolution STFT loss. Parity with the numpy
runtime is tested, sample for sample and parameter for parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rtsynth.dsp.harmonic import NOISE_LOOP, NYQUIST_FADE, noise_bands
from rtsynth.dsp.mel import mel_filterbank
from rtsynth.settings import MelSettings
from rtsynth.synthesis import FrameReader
from rtsynth.train.models.harmonic import PartialRenderer, midi_to_hz


def _frame_blend(n_samples: int, sample_rate: int, frame_seconds: float, n_frames: int, device: torch.device):
    position = torch.arange(n_samples, dtype=torch.float64, device=device) / (sample_rate * frame_seconds)
    left = torch.clamp(torch.floor(position).long(), max=n_frames - 1)
    right = torch.clamp(left + 1, max=n_frames - 1)
    return left, right, (position - left).clamp(0.0, 1.0)


def _lerp(values: torch.Tensor, left: torch.Tensor, right: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """values [B, T, ...] -> per sample [B, N, ...]."""
    shape = (1, -1) + (1,) * (values.dim() - 2)
    return values[:, left] * (1 - t).view(shape) + values[:, right] * t.view(shape)


@dataclass(frozen=True)
class _Segments:
    """The samples grouped by the frame to their left: segment j starts at sample `starts[j]`,
    blends frame `frames[j]` towards `rights[j]`, and sample n is element `flat[n]` of the
    segments laid out `length` samples apart. Work done once per segment instead of per
    sample is what makes the steady path fast."""

    frames: torch.Tensor  # [J]
    rights: torch.Tensor  # [J]
    starts: torch.Tensor  # [J]
    length: int
    flat: torch.Tensor  # [N]
    t: torch.Tensor  # [N] blend towards the right frame

    @classmethod
    def of(cls, left: torch.Tensor, right: torch.Tensor, t: torch.Tensor) -> _Segments:
        frames, counts = torch.unique_consecutive(left, return_counts=True)
        starts = torch.cumsum(counts, 0) - counts
        segment = torch.repeat_interleave(torch.arange(len(frames), device=left.device), counts)
        length = int(counts.max())
        flat = segment * length + torch.arange(len(left), device=left.device) - starts[segment]
        return cls(frames, right[starts], starts, length, flat, t)

    def blend(self, ends: torch.Tensor) -> torch.Tensor:
        """ends [B, 2, J, length] (each segment's sum at its left and its right frame) -> [B, N]."""
        both = ends.flatten(2)[:, :, self.flat]
        return both[:, 0] * (1 - self.t) + both[:, 1] * self.t


class HarmonicNoiseSynth(torch.nn.Module):
    """(f0 [B, T] Hz, amplitudes [B, T, K], noise [B, T, Bands]) -> audio [B, N] at `sample_rate`.

    Noise comes from the runtime's own band loops (the same seeded noise), each item read
    from `offsets[b]`; pass the offsets the runtime used to compare sample for sample. When
    every item holds one f0 (as tune-audio's notes do) the partials of a frame segment are one
    matrix product with a table of cos/sin(k·ω·l), as the runtime's steady path does: the
    same samples (tested), without a sine per sample and partial.
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
        if offsets is None:
            offsets = torch.zeros(f0.shape[0], dtype=torch.long, device=f0.device)
        segments = _Segments.of(left, right, t)
        ends = self._noise(noise, segments, offsets)
        if bool((f0 == f0[:, :1]).all()):
            return segments.blend(ends.double() + self._steady_partials(f0[:, 0], amplitudes, segments)).float()
        return (self._gliding_partials(f0, amplitudes, left, right, t) + segments.blend(ends.double())).float()

    def _fade(self, k: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        """Each partial's gain as it nears Nyquist (f0 broadcast against k)."""
        return ((0.5 - k * f0 / self.sample_rate) / NYQUIST_FADE).clamp(0.0, 1.0)

    def _gliding_partials(
        self, f0: torch.Tensor, amplitudes: torch.Tensor, left: torch.Tensor, right: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """A sine per sample and partial of the integrated phase: any f0 track. [B, N] float64."""
        f0_n = _lerp(f0.double(), left, right, t)  # [B, N]
        step = 2 * np.pi * f0_n / self.sample_rate
        phase = torch.cumsum(step, dim=1) - step  # phase 0 at the first sample
        k = torch.arange(1, amplitudes.shape[2] + 1, dtype=torch.float64, device=f0.device)
        amp = _lerp(amplitudes.double(), left, right, t) * self._fade(k, f0_n[..., None])
        return (amp * torch.sin(torch.remainder(phase[..., None] * k, 2 * np.pi))).sum(dim=2)

    def _steady_partials(self, f0: torch.Tensor, amplitudes: torch.Tensor, segments: _Segments) -> torch.Tensor:
        """One f0 per item [B]: sin(k·ω·(s + l)) = sin(kωs)·cos(kωl) + cos(kωs)·sin(kωl), so each
        segment's partials at its left and right frame are a product with one table of
        cos/sin(kωl) per item. [B, 2, J, length] float64."""
        k = torch.arange(1, amplitudes.shape[2] + 1, dtype=torch.float64, device=f0.device)
        omega = (2 * np.pi * f0.double() / self.sample_rate)[:, None, None]  # [B, 1, 1]
        amp = amplitudes.double() * self._fade(k, f0.double()[:, None, None])
        ends = torch.stack([amp[:, segments.frames], amp[:, segments.rights]], dim=1)  # [B, 2, J, K]
        start = torch.remainder(omega * segments.starts.double()[None, :, None] * k, 2 * np.pi)[:, None]
        weights = torch.cat([ends * torch.sin(start), ends * torch.cos(start)], dim=3)  # [B, 2, J, 2K]
        within = torch.arange(segments.length, dtype=torch.float64, device=f0.device)[None, :, None]
        angle = torch.remainder(omega * within * k, 2 * np.pi)  # [B, length, K]
        table = torch.cat([torch.cos(angle), torch.sin(angle)], dim=2)  # [B, length, 2K]
        return weights @ table.transpose(1, 2)[:, None]

    def _noise(self, noise: torch.Tensor, segments: _Segments, offsets: torch.Tensor) -> torch.Tensor:
        """Each segment's noise at its left and right frame's gains: [B, 2, J, length] float32
        (the loops' own precision)."""
        within = segments.starts[:, None] + torch.arange(segments.length, device=noise.device)[None, :]  # [J, length]
        index = (within[None] + offsets[:, None, None]) % NOISE_LOOP  # [B, J, length]
        bands = self.loops[:, index]  # [Bands, B, J, length]
        gains = torch.stack([noise[:, segments.frames], noise[:, segments.rights]], dim=1).float()  # [B, 2, J, Bands]
        return torch.einsum("bejc,cbjl->bejl", gains, bands)


def multi_resolution_stft_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    ffts: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64),
    floor_db: float | None = None,
) -> torch.Tensor:
    """DDSP's loss: over several FFT sizes (hop a quarter of each), L1 of the magnitudes plus
    L1 of their logs, summed; pred and target [B, N] audio. `floor_db`: the logs are taken
    over a floor this far below each target's loudest bin, so silence before and after a note
    (and a render's digital zeros) weighs no more than a bin 80 dB down, not 1e-7."""
    loss = pred.new_zeros(())
    for n_fft in ffts:
        window = torch.hann_window(n_fft, device=pred.device)
        mags = [torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True).abs() for x in (pred, target)]
        eps: torch.Tensor | float = 1e-7
        if floor_db is not None:
            eps = mags[1].amax(dim=(1, 2), keepdim=True).clamp_min(1e-7) * 10 ** (-floor_db / 20)
        loss = loss + (mags[0] - mags[1]).abs().mean()
        loss = loss + (torch.log(mags[0] + eps) - torch.log(mags[1] + eps)).abs().mean()
    return loss


def noise_shares(response: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Twin of rtsynth.synthesis.NoiseShares.of, batched: response [B, n_mels, K] ->
    (share [B, K, n_mels], kept [B, n_mels], total [B, K])."""
    r = response.transpose(1, 2).double()
    zeros = torch.zeros_like(r)
    peak = r.amax(dim=2, keepdim=True)
    reached = torch.where(peak > 0, r / peak.clamp_min(1e-300), zeros)
    covered = reached.sum(dim=1, keepdim=True).clamp(max=1.0)
    reach = r.sum(dim=1, keepdim=True)
    share = torch.where(reach > 0, r * covered / reach.clamp_min(1e-300), zeros)
    share = torch.where(share < 1e-6, zeros, share)
    return share, (1.0 - share.sum(dim=1)).clamp(0.0, 1.0), r.sum(dim=2)


class DecodedFrames(torch.nn.Module):
    """Twin of rtsynth.synthesis.FrameReader: a harmonic decoder's pitch [B], partial powers
    [B, K, T] and noise powers [B, n_mels, T] -> (f0 [B, T], amplitudes [B, T, K], noise gains
    [B, T, bands]) at 0 dB, as the engine reads them (noise the partials reach goes to them)."""

    noise_gain_sq: torch.Tensor  # buffers
    band_from_mel: torch.Tensor

    def __init__(self, reader: FrameReader, response: PartialRenderer, out_rate: int):
        super().__init__()
        self.response = response  # the decoder's own partial response (PartialBins is its numpy twin)
        self.partial_scale, self.floor = reader.spec.partial_scale, reader.floor
        self.max_partial_hz = reader.spec.max_partial_hz
        self.register_buffer("noise_gain_sq", torch.from_numpy(reader.noise_gain_sq))
        self.register_buffer("band_from_mel", torch.from_numpy(reader.band_from_mel))
        self.band_centres = reader.band_centres(out_rate)

    def forward(
        self, pitch_midi: torch.Tensor, partial_power: torch.Tensor, noise_power: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f0 = midi_to_hz(pitch_midi.double())
        response = self.response(f0).double()
        if self.max_partial_hz is not None:
            live = f0[:, None] * self.response.harmonics.double() <= self.max_partial_hz
            response = response * live[:, None, :]
        share, kept, total = noise_shares(response)
        noise = self._above_floor(noise_power.double())
        moved = torch.bmm(share, noise)  # [B, K, T] mel power each partial takes
        total = total[..., None]
        partials = partial_power.double() + torch.where(
            total > 0, moved / total.clamp_min(1e-300), torch.zeros_like(moved)
        )
        amplitudes = _through_floor(torch.sqrt(partials * self.partial_scale), partials > self.floor)
        rest = noise * kept[..., None]
        density = (rest + (self._above_floor(rest) - rest).detach()) * self.noise_gain_sq[:, None]  # see _through_floor
        gains = torch.sqrt((self.band_from_mel @ density).clamp_min(1e-30)).transpose(1, 2)  # [B, T, bands]
        gains = torch.nn.functional.pad(gains, (0, len(self.band_centres) - gains.shape[2]))
        return f0[:, None].expand(-1, partial_power.shape[2]), amplitudes.transpose(1, 2), gains

    def _above_floor(self, power: torch.Tensor) -> torch.Tensor:
        """The decoder's faint floor is silence, as in the engine."""
        return torch.where(power > self.floor, power, torch.zeros_like(power))


def _through_floor(amplitude: torch.Tensor, sounding: torch.Tensor) -> torch.Tensor:
    """Silent below the floor, as the engine plays it, but with the gradient of the unfloored
    amplitude: a partial the decoder left under the floor can still be raised by training."""
    return amplitude + (amplitude * sounding - amplitude).detach()


def log_mel_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    ffts: tuple[int, ...] = (2048, 1024, 512),
    floor_db: float = 80.0,
) -> torch.Tensor:
    """Mean |dB| / 10 between 128-band mels of pred and target [B, N] at several FFT sizes (hop an
    eighth of each: 5 ms at 2048 and 48 kHz), over a floor `floor_db` below each target's peak:
    the distance the fidelity bench measures, made a loss."""
    loss = pred.new_zeros(())
    for n_fft in ffts:
        settings = MelSettings(sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 8, n_mels=128)
        bank = torch.tensor(mel_filterbank(settings), dtype=torch.float32, device=pred.device)
        window = torch.hann_window(n_fft, device=pred.device)
        powers = [
            bank @ torch.stft(x, n_fft, n_fft // 8, window=window, return_complex=True).abs().square()
            for x in (pred, target)
        ]
        loss = loss + _log_power_distance(powers[0], powers[1], floor_db)
    return loss / len(ffts)


def fine_spectrum_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    sample_rate: int,
    n_fft: int = 8192,
    max_hz: float = 1000.0,
    floor_db: float = 80.0,
) -> torch.Tensor:
    """Mean |dB| / 10 between long-window power spectra below `max_hz`, over a floor `floor_db`
    under each target's peak: a 6 Hz bin tells a low note's partials from the noise between them,
    which no mel band of `log_mel_loss` does (a tuba's lowest notes had partials 5-20 dB over
    that noise where the instrument has 30-50). Up to 1 kHz: the lowest 8 partials of every key
    below MIDI 47; taken up to 4 kHz it darkened the notes (centroid ratio 0.98 -> 0.93)."""
    window = torch.hann_window(n_fft, device=pred.device)
    bins = int(max_hz * n_fft / sample_rate) + 1
    powers = [
        torch.stft(x, n_fft, n_fft // 4, window=window, return_complex=True)[:, :bins].abs().square()
        for x in (pred, target)
    ]
    return _log_power_distance(powers[0], powers[1], floor_db)


def _log_power_distance(pred: torch.Tensor, target: torch.Tensor, floor_db: float) -> torch.Tensor:
    """Mean |log10| difference of two [B, F, T] powers over a floor `floor_db` under each
    target's peak (silence weighs no more than a bin that far down)."""
    eps = target.amax(dim=(1, 2), keepdim=True).clamp_min(1e-20) * 10 ** (-floor_db / 10)
    return (torch.log10(pred + eps) - torch.log10(target + eps)).abs().mean()
