"""Measurements the engine tests make on rendered or captured audio."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

from rtsynth.dsp import pitch

SR = 48000


def estimate_f0(x: np.ndarray, expected_hz: float, sr: int = SR) -> float:
    return pitch.estimate_f0(x, expected_hz, sr)


cents, midi_hz = pitch.cents, pitch.midi_hz


def seg(y: np.ndarray, start: float, stop: float, sr: int = SR) -> np.ndarray:
    return y[int(start * sr) : int(stop * sr)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def held_level(y: np.ndarray, sr: int = SR) -> float:
    """Median of 20 ms RMS windows: a dropped block or two does not move it."""
    n = int(0.02 * sr)
    windows = y[: len(y) // n * n].reshape(-1, n)
    return float(np.median(np.sqrt(np.mean(windows**2, axis=1))))


def spectrum_db(x: np.ndarray, n_fft: int = 4096) -> np.ndarray:
    """Mean log-magnitude spectrum: a timbre fingerprint independent of level (peak at 0 dB)."""
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[:: n_fft // 2]
    mag = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).mean(axis=0)
    db = 20 * np.log10(mag + 1e-9)
    return db - db.max()


def high_band(y: np.ndarray, cutoff: float = 4000.0, sr: int = SR) -> np.ndarray:
    """|high-passed signal|: clicks are broadband, the test notes are not."""
    sos = butter(8, cutoff, "highpass", fs=sr, output="sos")
    return np.abs(sosfilt(sos, y))


def onset(y: np.ndarray, threshold: float) -> int:
    above = np.flatnonzero(np.abs(y) > threshold)
    return int(above[0]) if len(above) else -1


def vibrato_fit(y: np.ndarray, note: int, hz: float, sr: int = SR) -> tuple[float, float]:
    """The depth (cents) of a vibrato at `hz` in the pitch of every 20 ms window, 5 ms apart,
    and how far the pitch strays from that sine in nine windows of ten (cents; a block a live
    capture dropped throws a window or two)."""
    starts = range(0, len(y) - sr // 50, sr // 200)
    track = np.array([cents(estimate_f0(y[i : i + sr // 50], midi_hz(note), sr), midi_hz(note)) for i in starts])
    t = np.arange(len(track)) / 200
    kept = np.isfinite(track)  # a window inside a dropped capture block is silent: it has no pitch
    track, t = track[kept], t[kept]
    basis = np.stack([np.cos(2 * np.pi * hz * t), np.sin(2 * np.pi * hz * t), np.ones_like(t)], axis=1)
    fit, *_ = np.linalg.lstsq(basis, track, rcond=None)
    return float(np.hypot(*fit[:2])), float(np.percentile(np.abs(basis @ fit - track), 90))
