"""A key's colour: a static correction of its spectrum's shape, band by band, below the air.

The decoder's frames give each note a spectral shape learned across every timbre and register;
where it misses the instrument's the same way all along a note, `rtsynth calibrate` measures,
per timbre, dynamics and key, how far the model's log-mel lies from the reference's in each mel
band over the note (the fidelity bench's log-mel, each note under its own peak), and the runtime
scales each partial and noise band by that at its frequency, each frame keeping its power, so
the level tables still hold. Mel bands and dB, not wider bands and power: a band between a high
note's partials counts as much as a partial's band, as it does in the log-mel distance. The
median over the frames where the model's band is above the log-mel floor (under it the floor
hides how far it is), which is what moves an absolute (L1) distance most; and the shape alone
(the median band's change taken off): a change of every band alike is a level, which each
frame keeping its power would undo. Above COLOUR_TOP_HZ the air (rtsynth.dsp.air) takes over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtsynth.dsp.fidelity import FLOOR_DB, MEL, sounding_log_mels
from rtsynth.dsp.mel import mel_band_edges
from rtsynth.dsp.note import resample

COLOUR_TOP_HZ = 11000.0  # the decoder's noise bands end near here; the air starts above
COLOUR_BANDS_HZ = tuple(float(f) for f in mel_band_edges(MEL)[1:-1] if f <= COLOUR_TOP_HZ)  # MEL's centres
COLOUR_RANGE_DB = (-24.0, 12.0)  # a cut deeper than a boost: a band the reference lacks may go quiet,
# but boosting what the model barely has would boost its noise floor
MODEL_SOUNDS = 0.5  # a band is changed only where the model is above the log-mel floor this share of
# the note: under it the decoder wrote silence, which no gain raises, and a boost would land on the rest


def colour_change_db(model: np.ndarray, ref: np.ndarray, sr: int) -> np.ndarray:
    """[bands] what each colour band of the model's note needs, in range: the median, over the
    frames where either note sounds and the model's band is above the floor, of the reference's
    normalised log-mel over the model's, less the median band's; none where the model's band
    is above the floor for less than MODEL_SOUNDS of the note."""
    a, b = sounding_log_mels(*(resample(y, sr, MEL.sample_rate) for y in (model, ref)))
    bands = len(COLOUR_BANDS_HZ)
    heard = np.mean(a[:bands] > FLOOR_DB, axis=1) >= MODEL_SOUNDS if a.shape[1] else np.zeros(bands, dtype=bool)
    change = np.zeros(bands)
    if heard.any():
        ours, theirs = a[:bands][heard], b[:bands][heard]
        change[heard] = np.nanmedian(np.where(ours > FLOOR_DB, theirs - ours, np.nan), axis=1)
        change[heard] -= np.median(change[heard])
    out: np.ndarray = np.clip(change, *COLOUR_RANGE_DB)
    return out


@dataclass(frozen=True)
class ColourReach:
    """How a colour (dB per band) reaches rows at given frequencies (a key's partials and noise
    bands): each row between the two band centres around it, in log frequency; held below the
    lowest centre and up to COLOUR_TOP_HZ, none above it. Two indices and a weight per row,
    not a rows x bands matrix: a key's is made once and kept."""

    below: np.ndarray  # [rows] index of the centre under each row
    above: np.ndarray  # [rows] index of the centre over it
    weight: np.ndarray  # [rows] float32 share of `above` (0 where the row is held)
    live: np.ndarray  # [rows] float32 1, or 0 above COLOUR_TOP_HZ

    @classmethod
    def at(cls, freqs_hz: np.ndarray, centres_hz: tuple[float, ...]) -> ColourReach:
        freqs = np.asarray(freqs_hz, dtype=np.float64)
        at = np.log(np.clip(freqs, 1.0, None))
        centres = np.log(np.asarray(centres_hz, dtype=np.float64))
        above = (
            np.clip(np.searchsorted(centres, at), 1, len(centres) - 1) if len(centres) > 1 else np.zeros(len(at), int)
        )
        below = np.maximum(above - 1, 0)
        span = np.maximum(centres[above] - centres[below], 1e-12)
        weight = np.clip((at - centres[below]) / span, 0.0, 1.0)
        return cls(below, above, weight.astype(np.float32), (freqs <= COLOUR_TOP_HZ).astype(np.float32))

    def db(self, colour: np.ndarray) -> np.ndarray:
        """[rows] or [rows, frames] dB from a colour [bands] or [bands, frames]."""
        weight, live = (self.weight, self.live) if colour.ndim == 1 else (self.weight[:, None], self.live[:, None])
        out: np.ndarray = (colour[self.below] * (1 - weight) + colour[self.above] * weight) * live
        return out
