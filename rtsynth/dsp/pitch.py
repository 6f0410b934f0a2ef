"""Pitch of rendered audio, for checking that the instrument plays the notes it is asked for."""

from __future__ import annotations

import numpy as np


def estimate_f0(x: np.ndarray, expected_hz: float, sr: int) -> float:
    """Autocorrelation pitch: the strongest period within +-6 semitones of the expected f0.

    Periodicity is robust where spectral harmonic sums are not (weak fundamentals, vocoder
    sidebands); the search window is wide enough that a wrong note is still reported wrong.
    """
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    acf = np.fft.irfft(np.abs(np.fft.rfft(x, n)) ** 2)[: len(x)] / (len(x) - np.arange(len(x)))
    lo, hi = int(sr / (expected_hz * 2**0.5)), int(sr / (expected_hz * 2**-0.5)) + 1
    k = lo + int(np.argmax(acf[lo:hi]))
    a, b, c = acf[k - 1 : k + 2]
    return float(sr / (k + 0.5 * (a - c) / (a - 2 * b + c)))


def cents(f: float, ref: float) -> float:
    return float(1200 * np.log2(f / ref))


def midi_hz(note: float, a4_hz: float = 440.0) -> float:
    return a4_hz * 2 ** ((note - 69) / 12)
