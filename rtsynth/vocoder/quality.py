"""Copy-synthesis distances between an original note and its vocoded mel.

Both are magnitude-only (phase-blind, as hearing mostly is) and ignore what lies more than
`db_range` below the original's peak, the range the mel keeps, so a vocoder is not judged
on detail the model never sees.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rtsynth.dsp.mel import mel_power, stft_power
from rtsynth.settings import MelSettings

STFT_SIZES = (512, 1024, 2048)


def multi_resolution_stft_distance(
    reference: np.ndarray, estimate: np.ndarray, settings: MelSettings, sizes: tuple[int, ...] = STFT_SIZES
) -> dict[str, float]:
    """Spectral convergence and mean |log-magnitude difference| (nepers), averaged over sizes."""
    reference, estimate = _same_length(reference, estimate)
    convergence, log_l1 = [], []
    for n_fft in sizes:
        geometry = replace(settings, n_fft=n_fft, hop_length=n_fft // 4)
        ref = np.sqrt(stft_power(reference, geometry))
        est = np.sqrt(stft_power(estimate, geometry))
        floor = ref.max() * 10.0 ** (-settings.db_range / 20.0) + 1e-12
        convergence.append(np.linalg.norm(ref - est) / max(float(np.linalg.norm(ref)), 1e-12))
        log_l1.append(np.abs(np.log(np.maximum(ref, floor)) - np.log(np.maximum(est, floor))).mean())
    return {"spectral_convergence": float(np.mean(convergence)), "log_stft_l1": float(np.mean(log_l1))}


def mel_db_distance(reference: np.ndarray, estimate: np.ndarray, settings: MelSettings) -> float:
    """Mean |dB difference| of the mel spectrograms, both floored db_range below the reference peak."""
    reference, estimate = _same_length(reference, estimate)
    ref = 10 * np.log10(np.maximum(mel_power(reference, settings), 1e-20))
    est = 10 * np.log10(np.maximum(mel_power(estimate, settings), 1e-20))
    floor = ref.max() - settings.db_range
    return float(np.abs(np.maximum(ref, floor) - np.maximum(est, floor)).mean())


def _same_length(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(a), len(b))
    return np.asarray(a[:n], np.float32), np.asarray(b[:n], np.float32)
