"""How a bundle's decoder becomes sound: `synthesis` in bundle.json.

Absent (or kind "mel-vocoder"): the decoder's mel is vocoded and resampled (rtsynth.vocoder).
Kind "harmonic-noise": the decoder also outputs, per latent, the pitch it reads (MIDI), the
power of each partial k·f0 per frame and a noise power per mel band per frame (what the
harmonic decoder computes before it writes them into its mel), and the runtime synthesizes
the note from them at the output rate (rtsynth.dsp.harmonic): no vocoder, no resampler.

Units, as the harmonic decoder defines them: powers are relative to the note's peak (the
mel's 0 dB); a partial of power p has amplitude sqrt(p × partial_scale) at 0 dB, and a noise
power n in mel band m is the mel power white noise of that density gives through the
bundle's mel settings. The note's level (the loudness table) is one gain on top, as for mels.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from rtsynth.dsp.harmonic import NOISE_DENSITY_RATE
from rtsynth.dsp.mel import mel_band_edges, mel_filterbank
from rtsynth.dsp.pitch import midi_hz
from rtsynth.settings import MelSettings

MEL_VOCODER = "mel-vocoder"
HARMONIC_NOISE = "harmonic-noise"
HANN_POWER_SUM = 3.0 / 8.0  # sum of a periodic Hann window's squares, per sample
REACH = 6  # FFT bins either side of a partial that the harmonic decoder's response covers
SHARES_KEPT = 1024  # pitches whose noise shares are kept (a class latent's pitch reading repeats)
# Decoder output further under the note's peak plays silence: its faint floor would be a noise
# bed under every note. 8 dB under the mel path's silence (rtsynth.vocoder.loudness): between the
# two lie an instrument's breath between its partials and its faint upper partials, and with
# them the fidelity bench finds the notes closer to the reference (docs/results.md).
SILENCE_DB = -76.0


class SynthesisError(ValueError):
    """bundle.json's `synthesis` cannot be used; the message names the field."""


@dataclass(frozen=True)
class HarmonicNoiseSpec:
    """The decoder outputs a harmonic-noise bundle adds, and how to read them."""

    partials: int  # K: partial_power is [batch, K, n_frames]
    partial_scale: float  # amplitude² of a partial per unit of partial_power
    noise_bands_hz: tuple[float, ...]  # centres of the synthesizer's noise bands, increasing
    # partials above this were never trained (a decoder trained on 22.05 kHz mels: 11025 Hz)
    # and stay silent; None: every partial below the output's Nyquist plays
    max_partial_hz: float | None = None
    pitch_output: str = "pitch_midi"  # [batch] MIDI the decoder reads from z_P
    partials_output: str = "partial_power"
    noise_output: str = "noise_power"  # [batch, n_mels, n_frames]

    @property
    def outputs(self) -> tuple[str, str, str]:
        return self.pitch_output, self.partials_output, self.noise_output

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": HARMONIC_NOISE,
            "partials": self.partials,
            "partial_scale": self.partial_scale,
            "noise_bands_hz": list(self.noise_bands_hz),
            "max_partial_hz": self.max_partial_hz,
            "outputs": {"pitch": self.pitch_output, "partials": self.partials_output, "noise": self.noise_output},
        }


def parse_synthesis(data: dict[str, Any]) -> HarmonicNoiseSpec | None:
    """bundle.json's `synthesis` -> the harmonic-noise spec, or None for the mel path."""
    kind = data.get("kind", MEL_VOCODER) if data else MEL_VOCODER
    if kind == MEL_VOCODER:
        return None
    if kind != HARMONIC_NOISE:
        raise SynthesisError(f"synthesis.kind {kind!r} is unknown; use {MEL_VOCODER!r} or {HARMONIC_NOISE!r}")
    partials = _field(data, "partials")
    if not isinstance(partials, int) or isinstance(partials, bool) or partials < 1:
        raise SynthesisError(f"synthesis.partials must be a positive integer, got {partials!r}")
    scale = _field(data, "partial_scale")
    if not _finite(scale) or scale <= 0:
        raise SynthesisError(f"synthesis.partial_scale must be a finite positive number, got {scale!r}")
    bands = _field(data, "noise_bands_hz")
    if not isinstance(bands, list) or len(bands) < 2 or not all(_finite(b) and b > 0 for b in bands):
        raise SynthesisError("synthesis.noise_bands_hz must be a list of at least 2 finite positive frequencies")
    if any(b >= a for b, a in itertools.pairwise(bands)):
        raise SynthesisError("synthesis.noise_bands_hz must be increasing")
    top = data.get("max_partial_hz")
    if top is not None and (not _finite(top) or top <= 0):
        raise SynthesisError(f"synthesis.max_partial_hz must be a finite positive frequency or null, got {top!r}")
    outputs = data.get("outputs", {})
    names = {key: outputs.get(key, default) for key, default in _OUTPUT_DEFAULTS.items()}
    if not all(isinstance(n, str) and n for n in names.values()) or len(set(names.values())) != 3:
        raise SynthesisError(f"synthesis.outputs must name three different decoder outputs, got {outputs!r}")
    return HarmonicNoiseSpec(
        partials,
        float(scale),
        tuple(float(b) for b in bands),
        None if top is None else float(top),
        names["pitch"],
        names["partials"],
        names["noise"],
    )


_OUTPUT_DEFAULTS = {"pitch": "pitch_midi", "partials": "partial_power", "noise": "noise_power"}


def _field(data: dict[str, Any], name: str) -> Any:
    if name not in data:
        raise SynthesisError(f"synthesis.{name} is missing (a {HARMONIC_NOISE} bundle needs it)")
    return data[name]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def band_means(bands: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[bands, bins] weights: each band a triangle over the bins from its lower to its upper
    neighbour's centre (its own centre's two nearest bins where they are closer), rows summing to 1."""
    edges = np.concatenate([[2 * bands[0] - bands[1]], bands, [2 * bands[-1] - bands[-2]]])
    rise = (centres[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    fall = (edges[2:, None] - centres[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    weights = np.clip(np.minimum(rise, fall), 0.0, None)
    weights += np.stack([np.interp(bands, centres, row) for row in np.eye(len(centres))]).T  # narrow bands
    out: np.ndarray = weights / weights.sum(axis=1, keepdims=True)
    return out


@dataclass(frozen=True)
class NoiseShares:
    """A bin at a partial's peak gives it all its noise; one it reaches at a quarter of its peak,
    a quarter; one no partial reaches keeps its noise. Shared between partials in proportion to
    their response there."""

    share: sparse.csr_matrix  # [K, n_mels] float32: each partial's share of each bin's noise
    kept: np.ndarray  # [n_mels] float32: the share of each bin's noise that stays noise
    total: np.ndarray  # [K] a partial's mel power over all bins (between two centres it reaches both)

    @classmethod
    def of(cls, response: np.ndarray) -> NoiseShares:
        peak = response.max(axis=1, keepdims=True)
        reached = np.divide(response, peak, out=np.zeros_like(response), where=peak > 0)
        covered = np.minimum(reached.sum(axis=0), 1.0)
        reach = response.sum(axis=0)
        share = np.divide(response * covered, reach, out=np.zeros_like(response), where=reach > 0)
        share[share < 1e-6] = 0.0  # a partial's far sidelobes: nothing worth a multiply
        kept = (1.0 - share.sum(axis=0)).clip(0.0, 1.0)
        return cls(sparse.csr_matrix(share.astype(np.float32)), kept.astype(np.float32), response.sum(axis=1))


class PartialBins:
    """Where the harmonic decoder put each partial in its mel (its own sinusoid response, in
    numpy), and so which bins' noise the partials can claim."""

    def __init__(self, mel: MelSettings, partials: int, max_partial_hz: float | None = None):
        self.filterbank = mel_filterbank(mel).astype(np.float64)  # [n_mels, n_fft // 2 + 1]
        self.max_partial_hz = max_partial_hz  # partials above it play silent: they take no noise
        self.n_fft, self.bin_hz = mel.n_fft, mel.sample_rate / mel.n_fft
        self.harmonics = np.arange(1, partials + 1, dtype=np.float64)
        self.scale = 1.0 / float(self._response(np.array([1000.0])).max())
        self._known: dict[float, NoiseShares] = {}  # a class's pitch comes back note after note

    def response(self, pitch_midi: float) -> np.ndarray:
        """[K, n_mels] mel power of each partial of this pitch per unit of partial power."""
        return self._response(midi_hz(pitch_midi) * self.harmonics) * self.scale

    def shares(self, pitch_midi: float) -> NoiseShares:
        """Which share of each bin's noise each partial takes (see `NoiseShares`)."""
        key = float(pitch_midi)
        shares = self._known.get(key)  # read once: the note-start and render threads both decode
        if shares is None:
            response = self.response(key)
            if self.max_partial_hz is not None:
                response[midi_hz(key) * self.harmonics > self.max_partial_hz] = 0.0
            shares = NoiseShares.of(response)
            if len(self._known) >= SHARES_KEPT:
                self._known.clear()
            self._known[key] = shares
        return shares

    def _response(self, freqs: np.ndarray) -> np.ndarray:
        """[K, n_mels] mel power of unit sinusoids at `freqs` through a periodic Hann window."""
        position = freqs / self.bin_hz
        bins = np.floor(position)[:, None].astype(np.int64) + np.arange(1 - REACH, REACH + 1)
        inside = (bins >= 0) & (bins < self.filterbank.shape[1])
        offset = bins - position[:, None]
        lobe = 0.5 * np.sinc(offset) + 0.25 * np.sinc(offset - 1) + 0.25 * np.sinc(offset + 1)
        weight = (0.5 * self.n_fft * lobe) ** 2 * inside
        columns = self.filterbank[:, np.clip(bins, 0, self.filterbank.shape[1] - 1)]  # [n_mels, K, 2 REACH]
        out: np.ndarray = np.einsum("kj,mkj->km", weight, columns)
        return out


class FrameReader:
    """Decoder outputs of one latent -> the synthesizer's amplitudes and noise gains at 0 dB."""

    def __init__(self, spec: HarmonicNoiseSpec, mel: MelSettings):
        self.spec = spec
        self.bins = PartialBins(mel, spec.partials, spec.max_partial_hz)
        edges = mel_band_edges(mel)
        self.mel_centres = edges[1:-1]
        # white noise of variance s² at the model's rate gives mel power s² × 3/8 × n_fft × Σ filter;
        # the synthesizer's gain g means density g² / (NOISE_DENSITY_RATE / 2)
        filter_sum = mel_filterbank(mel).sum(axis=1).astype(np.float64)
        self.noise_gain_sq = (NOISE_DENSITY_RATE / mel.sample_rate) / (HANN_POWER_SUM * mel.n_fft * filter_sum)
        self.bands = np.asarray(spec.noise_bands_hz)
        # each band's density: the mean over the mel bins it spans (a triangle from the band below
        # to the one above), so a band keeps the noise energy of its bins: [bands, mels]
        self.band_from_mel = band_means(self.bands, self.mel_centres)
        self.floor = 10.0 ** (SILENCE_DB / 10.0)  # power relative to the note's peak

    def band_centres(self, out_rate: int, air_hz: tuple[float, ...] = ()) -> tuple[float, ...]:
        """The synthesizer's bands: the bundle's, then the calibrated air bands above them that
        are below Nyquist (rtsynth.dsp.air); without air, a silent band just above the last one
        (the noise would otherwise stay flat up to Nyquist, where the decoder never trained)."""
        air = tuple(f for f in air_hz if self.bands[-1] < f < out_rate / 2)
        top = min(out_rate / 2, self.bands[-1] * 1.05)
        if air or top <= self.bands[-1]:
            return (*self.spec.noise_bands_hz, *air)
        return (*self.spec.noise_bands_hz, top)

    def tonal(
        self, pitch_midi: float, partial_power: np.ndarray, noise_power: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Noise in the mel bins the partials reach goes to those partials (`PartialBins.shares`).

        The decoder learned from mel power alone, which cannot tell a partial from noise inside
        one bin, and it explains a register's upper partials as noise more often than not;
        synthesized as noise they sound hiss where the instrument has partials. Noise in bins
        between the partials stays noise: breath, bow, a drum. [K, T] and [n_mels, T] powers;
        the mel power of the two together is kept."""
        shares = self.bins.shares(pitch_midi)
        noise = np.where(noise_power > self.floor, noise_power, 0.0).astype(np.float32)
        moved = shares.share @ noise  # [K, T] mel power each partial takes
        partials = partial_power.astype(np.float64)
        live = shares.total > 0
        partials[live] += moved[live] / shares.total[live, None]
        return partials, noise * shares.kept[:, None]

    def amplitudes(self, partial_power: np.ndarray) -> np.ndarray:
        """[K, T] power -> [K, T] amplitude at 0 dB."""
        power = np.where(partial_power > self.floor, partial_power, 0.0)
        out: np.ndarray = np.sqrt(power * self.spec.partial_scale)
        return out

    def noise_gains(self, noise_power: np.ndarray, n_bands: int) -> np.ndarray:
        """[n_mels, T] mel power -> [T, n_bands] gains (density read at each band's centre;
        bands past the bundle's, from `band_centres`, silent). Only the mel bins that sound
        somewhere are summed: a note's noise is above the floor in a few percent of them."""
        sounding = noise_power > self.floor
        rows = np.flatnonzero(sounding.any(axis=1))
        density = np.where(sounding[rows], noise_power[rows], 0.0) * self.noise_gain_sq[rows, None]
        out = np.zeros((noise_power.shape[1], n_bands))
        out[:, : len(self.bands)] = np.sqrt(np.maximum(self.band_from_mel[:, rows] @ density, 0.0)).T
        return out
