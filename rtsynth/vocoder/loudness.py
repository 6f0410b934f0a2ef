"""Loudness restore: from a per-note normalised mel back to the note's real level.

The cache and the decoder hold mels in [0, 1] over `db_range` dB below each note's own
peak, so a note's level lives only in its peak dB (the bundle's loudness table x velocity).
Every vocoder here is scale-invariant (magnitude in, waveform out, linear in the magnitude),
so the vocoders work on power relative to the peak (0 dB) and the level is restored as one
exact output gain. That keeps the phase estimate independent of the level and makes a
velocity change a multiplication.
"""

from __future__ import annotations

import math

import numpy as np

from rtsynth.dsp.mel import unit_to_power

# Unit-mel values at or below this are silence: 68 dB below the note's peak on the 80 dB scale.
# Prep's mels are exactly 0 in most quiet cells, but a decoder's output never quite reaches 0:
# its faint floor (most cells of a decoded mel) would become a noise bed under every note, and
# re-analysed audio then named the wrong dynamics for 7 notes in 10 (0.3 vs 0.7 gated).
SILENCE_FLOOR = 0.15


def relative_power(unit: np.ndarray, db_range: float) -> np.ndarray:
    """Unit mel -> power relative to the note's peak (peak = 1).

    The floor (see SILENCE_FLOOR) becomes silence rather than a constant noise floor far
    down, so silent tails and the gaps between harmonics stay silent.
    """
    power = unit_to_power(unit, 0.0, db_range)
    power[np.asarray(unit) <= SILENCE_FLOOR] = 0.0
    return power


def level_gain(peak_db: float) -> float:
    """Amplitude gain that puts relative-power audio at the level of a `peak_db` note."""
    if not math.isfinite(peak_db):
        raise ValueError(f"peak_db must be a finite number of dB, got {peak_db}")
    return float(10.0 ** (peak_db / 20.0))
