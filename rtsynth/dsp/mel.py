"""Mel spectrograms in numpy, identical for training features and runtime synthesis.

Matches librosa's defaults (Slaney mel scale and area normalisation, Hann window,
centred frames with zero padding) so results can be checked against it, without making
the runtime depend on librosa.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rtsynth.settings import MelSettings

_F_SP = 200.0 / 3  # Slaney scale: linear below 1 kHz ...
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0  # ... logarithmic above


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-10) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_band_edges(settings: MelSettings) -> np.ndarray:
    """The n_mels + 2 frequencies (Hz) of the triangular filters: band i rises from edge i,
    peaks at edge i + 1 (its centre) and falls to edge i + 2."""
    return mel_to_hz(np.linspace(hz_to_mel(settings.fmin), hz_to_mel(settings.f_max), settings.n_mels + 2))


@lru_cache(maxsize=8)
def mel_filterbank(settings: MelSettings) -> np.ndarray:
    """Triangular filters [n_mels, n_fft // 2 + 1], each with unit area (Slaney norm).

    Cached per settings (read-only result): it is needed for every note.
    """
    fft_freqs = np.linspace(0, settings.sample_rate / 2, settings.n_fft // 2 + 1)
    edges = mel_band_edges(settings)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights = weights.astype(np.float32)
    weights.flags.writeable = False
    return weights


def stft_power(audio: np.ndarray, settings: MelSettings) -> np.ndarray:
    """|STFT|^2 [n_fft // 2 + 1, n_frames] with centred, zero-padded Hann frames."""
    n_fft, hop = settings.n_fft, settings.hop_length
    padded = np.pad(np.asarray(audio, dtype=np.float32), n_fft // 2)
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    spectrum = np.fft.rfft(frames * window, axis=1)
    return (np.abs(spectrum) ** 2).T.astype(np.float32)


def mel_power(audio: np.ndarray, settings: MelSettings) -> np.ndarray:
    """Mel power spectrogram [n_mels, n_frames]."""
    power: np.ndarray = mel_filterbank(settings) @ stft_power(audio, settings)
    return power


def power_to_unit(mel: np.ndarray, db_range: float) -> tuple[np.ndarray, float]:
    """Power mel -> values in [0, 1] over `db_range` dB below the peak, and the peak in dB."""
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    peak_db = float(db.max())
    unit = np.clip((db - peak_db) / db_range + 1.0, 0.0, 1.0)
    return unit.astype(np.float32), peak_db


def unit_to_power(unit: np.ndarray, peak_db: float, db_range: float) -> np.ndarray:
    """Inverse of `power_to_unit`: silence (0) maps to the floor db_range below the peak."""
    db = (np.asarray(unit, dtype=np.float32) - 1.0) * db_range + peak_db
    power: np.ndarray = np.power(10.0, db / 10.0, dtype=np.float32)
    return power
