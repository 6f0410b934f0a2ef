"""How a note is judged against the reference renderer (numpy only): the fidelity bench's
measures, and the level measure `rtsynth calibrate` matches.

Every function takes mono float audio at `sr`; levels are dB, pitch errors cents. The tests
check each measure on signals whose answer is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rtsynth.dsp.audio import sounding_span as trimmed_span
from rtsynth.dsp.mel import mel_power
from rtsynth.dsp.pitch import midi_hz
from rtsynth.settings import PAPER_TRIM, MelSettings

PARTIALS = 8
TOP_DB = 40.0  # sounding = within this of the note's loudest 10 ms
FLOOR_DB = -80.0  # log-mel floor below each note's own peak
PARTIAL_SEARCH_CENTS = 60.0  # a partial is looked for this close to k * f0
PARTIAL_FLOOR_DB = 45.0  # partials further below the strongest one are not measured
PARTIAL_PROMINENCE_DB = 10.0  # a partial stands this far over the median between its neighbours
HIGH_HZ = 11025.0


def cents(f: float | np.ndarray, ref: float | np.ndarray) -> np.ndarray:
    out: np.ndarray = 1200.0 * np.log2(np.asarray(f) / np.asarray(ref))
    return out


def envelope_db(y: np.ndarray, sr: int, window_s: float = 0.01) -> np.ndarray:
    """Level in dB of consecutive `window_s` windows."""
    n = max(1, int(window_s * sr))
    frames = y[: len(y) // n * n].reshape(-1, n)
    out: np.ndarray = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-20)
    return out


def sounding_span(y: np.ndarray, sr: int) -> tuple[float, float]:
    """(start, end) seconds of the part within TOP_DB of the loudest 10 ms; (0, 0) if silent."""
    level = envelope_db(y, sr)
    if not len(level) or level.max() <= -150:
        return 0.0, 0.0
    loud = np.flatnonzero(level > level.max() - TOP_DB)
    if not len(loud):
        return 0.0, 0.0
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


def sounding_length_s(y: np.ndarray, sr: int) -> float:
    """Sounding length by prep's trim rule: what a corpus note's duration label, and so the
    duration a note is asked for, measures; 0 for silence."""
    if not np.any(y):
        return 0.0
    start, end = trimmed_span(y, PAPER_TRIM)
    return (end - start) / sr


def sounding_length_step_s(sr: int) -> float:
    """How finely `sounding_length_s` reads a length: one trim hop."""
    return PAPER_TRIM.hop_length / sr


def rms_db(y: np.ndarray, sr: int) -> float:
    """Level of the sounding part."""
    start, end = sounding_span(y, sr)
    part = y[int(start * sr) : int(end * sr)]
    return float(10 * np.log10(np.mean(part.astype(np.float64) ** 2) + 1e-20)) if len(part) else -200.0


def steady_part(y: np.ndarray, sr: int, held_s: float) -> np.ndarray:
    """The held part of a note away from its attack and release, for pitch measures."""
    start, _ = sounding_span(y, sr)
    a, b = start + min(0.1, 0.3 * held_s), start + max(0.15, held_s - 0.05)
    return y[int(a * sr) : int(b * sr)]


def average_power(y: np.ndarray, sr: int, zero_pad: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, power) of the average power spectrum over 8192-sample Hann frames a
    quarter apart, each zero-padded to `zero_pad` times its length."""
    n = 8192
    y = np.pad(y, (0, max(0, n - len(y))))
    frames = np.lib.stride_tricks.sliding_window_view(y, n)[:: n // 4]
    power = np.mean(np.abs(np.fft.rfft(frames * np.hanning(n), zero_pad * n, axis=1)) ** 2, axis=0)
    return np.fft.rfftfreq(zero_pad * n, 1 / sr), power


def spectrum_db(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, dB) of `average_power`, zero-padded 4x so a partial's peak is found to a
    fraction of a bin."""
    freqs, power = average_power(y, sr, zero_pad=4)
    return freqs, 10 * np.log10(power + 1e-20)


def partial_cents(y: np.ndarray, sr: int, f0: float, partials: int = PARTIALS) -> np.ndarray:
    """Each of the lowest `partials` partials' position in cents from k * f0 (NaN where there
    is no peak within PARTIAL_SEARCH_CENTS, as when the band's loudest bin is its edge on a
    slope; where the peak is a bump of noise, less than PARTIAL_PROMINENCE_DB over the
    spectrum's median within f0 / 2 of k * f0; where it is more than PARTIAL_FLOOR_DB under
    the strongest; above Nyquist). A missing partial is a matter of colour, not of tuning."""
    freqs, db = spectrum_db(y, sr)
    out = np.full(partials, np.nan)
    peaks = np.full(partials, -np.inf)
    for k in range(1, partials + 1):
        target = k * f0
        if target * 2 ** (PARTIAL_SEARCH_CENTS / 1200) >= sr / 2:
            break
        band = np.flatnonzero(np.abs(cents(np.maximum(freqs, 1e-9), target)) <= PARTIAL_SEARCH_CENTS)
        i = band[np.argmax(db[band])]
        between = np.median(db[np.abs(freqs - target) <= f0 / 2])
        if 0 < i < len(db) - 1 and db[i] >= max(db[i - 1], db[i + 1]) and db[i] - between >= PARTIAL_PROMINENCE_DB:
            a, b, c = db[i - 1], db[i], db[i + 1]
            shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
            peaks[k - 1] = b - 0.25 * (a - c) * shift
            out[k - 1] = cents(freqs[i] + shift * (freqs[1] - freqs[0]), target)
    out[peaks < np.max(peaks) - PARTIAL_FLOOR_DB] = np.nan
    return out


def f0_error_cents(partial_errors: np.ndarray) -> float:
    """The pitch error read from the partials: the strongest evidence is their median (a
    missing fundamental does not leave the note unpitched)."""
    found = partial_errors[np.isfinite(partial_errors)]
    return float(np.median(found)) if len(found) else float("nan")


def subharmonic_db(y: np.ndarray, sr: int, f0: float) -> float:
    """Level at f0 / 2 relative to f0's (dB): near 0 or above reads as an octave low."""
    freqs, db = spectrum_db(y, sr)

    def peak(f: float) -> float:
        band = np.abs(cents(np.maximum(freqs, 1e-9), f)) <= PARTIAL_SEARCH_CENTS
        return float(db[band].max())

    return peak(f0 / 2) - peak(f0)


MEL = MelSettings(sample_rate=48000, n_fft=2048, hop_length=240, n_mels=128)


def log_mel(y: np.ndarray) -> np.ndarray:
    """128-band log-mel (48 kHz, 5 ms hop) in dB below the note's own peak, floored."""
    power = mel_power(y.astype(np.float32), MEL)
    db = 10 * np.log10(power + 1e-20)
    out: np.ndarray = np.maximum(db - db.max(), FLOOR_DB)
    return out


def sounding_log_mels(model: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two notes' normalised log-mels [n_mels, frames] over the frames where either sounds."""
    n = max(len(model), len(ref))
    a, b = log_mel(np.pad(model, (0, n - len(model)))), log_mel(np.pad(ref, (0, n - len(ref))))
    sounding = (a.max(axis=0) > -TOP_DB) | (b.max(axis=0) > -TOP_DB)
    return a[:, sounding], b[:, sounding]


def log_mel_distance(model: np.ndarray, ref: np.ndarray) -> float:
    """Mean |dB| between the two notes' normalised log-mels over the frames where either sounds."""
    a, b = sounding_log_mels(model, ref)
    return float(np.mean(np.abs(a - b))) if a.size else float("nan")


def high_band_db(y: np.ndarray, sr: int) -> float:
    """The share of a note's power above HIGH_HZ (what a 22.05 kHz model cannot play), dB."""
    freqs, db = spectrum_db(y, sr)
    power = 10 ** (db / 10)
    return float(10 * np.log10(power[freqs > HIGH_HZ].sum() / power.sum() + 1e-20))


def centroid_hz(y: np.ndarray, sr: int) -> float:
    freqs, db = spectrum_db(y, sr)
    power = 10 ** (db / 10)
    return float(np.sum(freqs * power) / np.sum(power))


def click_score(y: np.ndarray) -> float:
    """Largest sample step over the typical step (RMS of the steps): a click stands out."""
    steps = np.abs(np.diff(y.astype(np.float64)))
    typical = np.sqrt(np.mean(steps**2))
    return float(steps.max() / typical) if typical > 0 else 0.0


def neighbour_deviation(levels: np.ndarray, reach: int = 3) -> np.ndarray:
    """Each key's level minus the median of its neighbours within `reach` keys (itself left out):
    a dead key stands several dB below the keys around it."""
    out = np.full(len(levels), np.nan)
    for i in range(len(levels)):
        around = np.r_[levels[max(0, i - reach) : i], levels[i + 1 : i + 1 + reach]]
        around = around[np.isfinite(around)]
        if len(around) and np.isfinite(levels[i]):
            out[i] = levels[i] - np.median(around)
    return out


@dataclass(frozen=True)
class NoteMeasures:
    f0_error_cents: float  # the model's pitch against the key's
    partial_cents: list[float]  # lowest partials against k * the key's f0 (NaN: absent)
    reference_partial_cents: list[float]
    reference_f0_error_cents: float
    octave_error: bool  # a component at f0 / 2 within 6 dB of f0 where the reference has none
    pitched: bool  # any partial found
    reference_pitched: bool
    rms_db: float
    reference_rms_db: float
    log_mel_db: float
    centroid_ratio: float
    high_band_db: float  # power above 11 kHz against the whole, held part
    reference_high_band_db: float
    click_ratio: float  # the model's click score over the reference's
    sounding_s: float
    reference_sounding_s: float


def measure_note(model: np.ndarray, ref: np.ndarray, sr: int, note: int, held_s: float) -> NoteMeasures:
    f0 = midi_hz(note)
    steady, ref_steady = steady_part(model, sr, held_s), steady_part(ref, sr, held_s)
    partials, ref_partials = partial_cents(steady, sr, f0), partial_cents(ref_steady, sr, f0)
    octave = subharmonic_db(steady, sr, f0) > -6 and subharmonic_db(ref_steady, sr, f0) <= -6
    return NoteMeasures(
        f0_error_cents=f0_error_cents(partials),
        partial_cents=[round(float(c), 2) for c in partials],
        reference_partial_cents=[round(float(c), 2) for c in ref_partials],
        reference_f0_error_cents=f0_error_cents(ref_partials),
        octave_error=bool(octave),
        pitched=bool(np.isfinite(partials).any()),
        reference_pitched=bool(np.isfinite(ref_partials).any()),
        rms_db=rms_db(model, sr),
        reference_rms_db=rms_db(ref, sr),
        log_mel_db=log_mel_distance(model, ref),
        centroid_ratio=centroid_hz(steady, sr) / centroid_hz(ref_steady, sr),
        high_band_db=high_band_db(steady, sr),
        reference_high_band_db=high_band_db(ref_steady, sr),
        click_ratio=click_score(model) / max(click_score(ref), 1e-9),
        sounding_s=sounding_length_s(model, sr),
        reference_sounding_s=sounding_length_s(ref, sr),
    )


@dataclass(frozen=True)
class LevelMatch:
    """A note's level against the reference's, and how long the reference sounds."""

    difference_db: float
    reference_sounding_s: float


def level_match(model: np.ndarray, ref: np.ndarray, sr: int, note: int, held_s: float) -> LevelMatch:
    """The level difference and the reference's sounding length (`note` and `held_s` unused:
    the same arguments as `measure_note`, so that either measures a played pair)."""
    return LevelMatch(rms_db(model, sr) - rms_db(ref, sr), sounding_length_s(ref, sr))


def level_excursion(y: np.ndarray, sr: int, t0: float, t1: float) -> tuple[float, float]:
    """Largest dip and swell (dB, 20 ms windows) of the level over [t0, t1] against the straight
    line from the level just before to the level just after: a morph should move smoothly."""
    level = envelope_db(y, sr, 0.02)
    times = (np.arange(len(level)) + 0.5) * 0.02
    before = np.median(level[(times > t0 - 0.2) & (times < t0)])
    after = np.median(level[(times > t1) & (times < t1 + 0.2)])
    inside = (times >= t0) & (times <= t1)
    line = before + (after - before) * (times[inside] - t0) / (t1 - t0)
    excursion = level[inside] - line
    return float(excursion.min()), float(excursion.max())


def blend_excursion(
    y: np.ndarray,
    held_a: np.ndarray,
    held_b: np.ndarray,
    sr: int,
    t0: float,
    t1: float,
    position: Callable[[np.ndarray], np.ndarray],
) -> tuple[float, float]:
    """Largest dip and swell (dB, 20 ms windows) over [t0, t1] of a morph `y` against the same
    note held at each end, their levels blended by the morph's position (a function of time,
    0 at a, 1 at b): what the morph itself adds, not the notes' own envelopes."""
    levels = [envelope_db(x, sr, 0.02) for x in (y, held_a, held_b)]
    n = min(len(level) for level in levels)
    times = (np.arange(n) + 0.5) * 0.02
    inside = (times >= t0) & (times <= t1)
    x = np.clip(position(times[inside]), 0.0, 1.0)
    blend = (1 - x) * levels[1][:n][inside] + x * levels[2][:n][inside]
    excursion = levels[0][:n][inside] - blend
    return float(excursion.min()), float(excursion.max())
