"""A key's colour: a static correction of its spectrum's shape, band by band, below the air.

The decoder's frames give each note a spectral shape learned across every timbre and register;
where it misses the instrument's the same way all along a note, `rtsynth calibrate` measures,
per timbre, dynamics and key, how the reference shares its power among COLOUR_BANDS_HZ and how
the model does, and the runtime scales each partial and noise band by the difference at its
frequency. Shares, not levels: the correction moves power between bands and leaves the note's
own level to the level calibration. Above COLOUR_TOP_HZ the air (rtsynth.dsp.air) takes over.
"""

from __future__ import annotations

import itertools

import numpy as np

from rtsynth.dsp.fidelity import average_power

COLOUR_TOP_HZ = 11000.0  # the decoder's noise bands end near here; the air starts above
COLOUR_EDGES_HZ = tuple(float(f) for f in np.geomspace(40.0, COLOUR_TOP_HZ, 25))
COLOUR_BANDS_HZ = tuple(float(np.sqrt(a * b)) for a, b in itertools.pairwise(COLOUR_EDGES_HZ))
COLOUR_RANGE_DB = (-24.0, 12.0)  # a cut deeper than a boost: a band the reference lacks may go quiet,
# but boosting what the model barely has would boost its noise floor
SHARE_FLOOR_DB = -120.0


def band_shares_db(y: np.ndarray, sr: int) -> np.ndarray:
    """[bands] each colour band's share of the note's power between the outer edges, dB: its
    average spectrum (rtsynth.dsp.fidelity.average_power) summed between the edges."""
    freqs, power = average_power(y.astype(np.float64), sr)
    band = np.searchsorted(COLOUR_EDGES_HZ, freqs, side="right") - 1  # -1 below, len(bands) above
    inside = (band >= 0) & (band < len(COLOUR_BANDS_HZ))
    sums = np.bincount(band[inside], weights=power[inside], minlength=len(COLOUR_BANDS_HZ))
    total = sums.sum()
    if total <= 0:
        return np.full(len(COLOUR_BANDS_HZ), SHARE_FLOOR_DB)
    out: np.ndarray = np.maximum(10 * np.log10(sums / total + 1e-30), SHARE_FLOOR_DB)
    return out


def colour_change_db(reference_db: np.ndarray, model_db: np.ndarray) -> np.ndarray:
    """What a key's bands need, in range: the reference's shares over the model's."""
    out: np.ndarray = np.clip(np.asarray(reference_db) - np.asarray(model_db), *COLOUR_RANGE_DB)
    return out


def colour_weights(freqs_hz: np.ndarray, centres_hz: tuple[float, ...]) -> np.ndarray:
    """[rows, bands] the interpolation, in log frequency, of a colour (dB per band) at each
    row's frequency: held below the lowest centre and up to COLOUR_TOP_HZ, none above it."""
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    at = np.log(np.clip(freqs, 1.0, None))
    centres = np.log(np.asarray(centres_hz, dtype=np.float64))
    weights = np.stack([np.interp(at, centres, row) for row in np.eye(len(centres))], axis=1)
    weights[freqs > COLOUR_TOP_HZ] = 0.0
    return weights
