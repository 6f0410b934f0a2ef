"""Noise above the decoder's top band ("air"): what a model trained on 22.05 kHz mels cannot play.

The decoder's noise bands stop near 11 kHz and its partials at K·f0, so a low note has nothing
above 11 kHz, where the instruments it learned have bow and breath noise and upper partials.
`rtsynth calibrate` measures, per timbre, dynamics and key, the density the reference has
there and the model lacks, relative to the note's own power, at a few band centres; the
runtime plays noise bands there whose gains follow the note's power frame by frame. Like the
spectral band replication of audio codecs: the shape is side information, the envelope comes
from the note. Only where the ear cannot resolve the partials up there (`unresolved`) does
noise stand in for them; where it can (a high note), the band's density goes to the partials
k·f0 inside it (`partial_air`), so no noise fills the gaps between them.

Densities are in dB relative to the note's mean power, per kHz.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rtsynth.dsp.harmonic import NOISE_DENSITY_RATE

AIR_BANDS_HZ = (11600.0, 13000.0, 15000.0, 17500.0, 20500.0, 23000.0)  # a 22.05 kHz-mel decoder ends at 10.9 kHz
AIR_SILENT_DB = -120.0  # what the table holds for a band the model needs nothing added in
AIR_RANGE_DB = (AIR_SILENT_DB, 0.0)  # a note with more than its own power per kHz up there is a broken table
PER_KHZ = 1000.0


def unresolved(f0_hz: float, centres_hz: tuple[float, ...]) -> np.ndarray:
    """Bands where a note's partials lie closer than half the ear's bandwidth there (the ERB of
    Glasberg and Moore, 1990): the ear hears their level, not each partial, so noise may stand in
    for them. Where partials are resolved (a high note), noise would fill the gaps between them."""
    erb = 24.7 * (4.37 * np.asarray(centres_hz, dtype=np.float64) / 1000.0 + 1.0)
    out: np.ndarray = f0_hz <= erb / 2
    return out


def band_density_db(y: np.ndarray, sr: int, centres_hz: tuple[float, ...], picks: slice) -> np.ndarray:
    """The note's power density around the picked centres, dB relative to its power per kHz.

    Around a centre means weighted by the triangle from the centre below to the one above,
    the shape the synthesizer's noise band has there (rtsynth.dsp.harmonic.noise_bands)."""
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64) * np.hanning(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    total = spectrum.sum()
    centres = np.asarray(centres_hz, dtype=np.float64)
    out = []
    for band in range(len(centres))[picks]:
        weights = np.interp(freqs, centres, np.eye(len(centres))[band], left=0.0, right=0.0)
        if centres[band] >= sr / 2 or not weights.any() or total <= 0:
            out.append(AIR_SILENT_DB)
            continue
        per_hz = (weights @ spectrum) / weights.sum() / (sr / len(y)) / total
        out.append(max(AIR_SILENT_DB, 10 * np.log10(per_hz * PER_KHZ + 1e-30)))
    return np.asarray(out)


def air_gains(power: np.ndarray, density: np.ndarray) -> np.ndarray:
    """Frame powers [T] (mean square) and linear densities per kHz [A, T] -> noise band gains
    [A, T]: a gain g is a density of g² / (NOISE_DENSITY_RATE / 2) per Hz at its centre."""
    out: np.ndarray = np.sqrt(np.maximum(density * power[None, :], 0.0) * (NOISE_DENSITY_RATE / 2 / PER_KHZ))
    return out


def density_from_db(db: np.ndarray) -> np.ndarray:
    """dB per kHz -> linear; AIR_SILENT_DB and below is none."""
    out: np.ndarray = np.where(db > AIR_SILENT_DB, 10.0 ** (db / 10.0), 0.0)
    return out


@lru_cache(maxsize=256)  # per key: a keyboard's worth
def partial_air(
    f0_hz: float, partials: int, centres_hz: tuple[float, ...], first_air: int
) -> tuple[np.ndarray, np.ndarray]:
    """How a note's air band gains play as partials: [A, K] weights (air gains [T, A] @ weights
    = amplitudes [T, K] the partials k·f0 up there gain, added in power to the decoder's) and
    which air bands are resolved for it [A]; an unresolved band's row is zero (it stays noise).

    A band's noise has the density g²·w(f)² / (NOISE_DENSITY_RATE / 2) per Hz, w its triangle
    over the centres (the bands' sum is Σ g·w); a partial standing for the f0 Hz around it has
    power a²/2, so a = sqrt(2·f0 / (NOISE_DENSITY_RATE / 2)) · Σ g·w(k·f0)."""
    centres = np.asarray(centres_hz, dtype=np.float64)
    resolved = ~unresolved(f0_hz, centres_hz[first_air:])
    freqs = f0_hz * np.arange(1, partials + 1)
    weights = np.zeros((len(centres) - first_air, partials))
    for row, band in enumerate(range(first_air, len(centres))):
        if resolved[row]:  # the band's triangle, as rtsynth.dsp.harmonic.noise_bands draws it
            weights[row] = np.interp(freqs, centres, np.eye(len(centres))[band])
    weights *= np.sqrt(2.0 * f0_hz / (NOISE_DENSITY_RATE / 2))
    weights.flags.writeable = False
    resolved.flags.writeable = False
    return weights, resolved
