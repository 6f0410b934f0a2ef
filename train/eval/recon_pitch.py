"""Does a reconstruction sound at its note's pitch? Vocoded, its f0 measured.

Why: the pitch classifier reads the class from z_P, a listener hears the decoder's
harmonics. Over the full range (81 pitch classes) the model names the pitch of test notes
right (P 0.96) while its reconstructions of them sound several semitones off, which no
classifier number shows. The originals go through the same vocoder and f0 estimator, so
their score checks the measurement itself.
"""

from __future__ import annotations

import numpy as np

from rtsynth.dsp.pitch import cents, estimate_f0, midi_hz
from rtsynth.labels import DESCRIPTORS
from rtsynth.settings import MelSettings
from rtsynth.train.eval.latents import SplitLatents, decode, load_mels
from rtsynth.tuning import IN_TUNE_CENTS
from rtsynth.vocoder import DEFAULT_VOCODER, vocode

PITCH = DESCRIPTORS.index("pitch")  # column of the pitch label in SplitLatents.labels
WINDOW_S = (0.1, 0.5)  # after the attack; the shortest notes' release tails still sound here


def reconstruction_pitch(model, cache, test: SplitLatents, limit: int, rng) -> dict:
    """Share of `limit` test notes (all if fewer) within IN_TUNE_CENTS of their labelled pitch,
    originals and reconstructions from posterior means; median absolute error of each."""
    rows = np.sort(rng.choice(len(test), size=min(limit, len(test)), replace=False))
    notes = test.subset(rows)
    pitches = np.asarray(cache.vocab.pitch)[notes.labels[:, PITCH]]
    settings = cache.mel_settings
    errors = {
        "original": _errors(load_mels(cache, notes.indices), pitches, settings),
        "reconstruction": _errors(decode(model, notes.z()), pitches, settings),
    }
    return {
        "notes": len(rows),
        "vocoder": DEFAULT_VOCODER,
        "in_tune_cents": IN_TUNE_CENTS,
        **{f"{name}_in_tune": round(float(np.mean(e <= IN_TUNE_CENTS)), 4) for name, e in errors.items()},
        **{f"{name}_median_cents": round(float(np.median(e)), 1) for name, e in errors.items()},
    }


def _errors(mels: np.ndarray, pitches: np.ndarray, settings: MelSettings) -> np.ndarray:
    """|cents| of each mel's vocoded f0 from its pitch (found within 6 semitones of it, so at most
    about 600); inf where the window is silent or aperiodic."""
    sr = settings.sample_rate
    lo, hi = (int(s * sr) for s in WINDOW_S)
    out = np.full(len(mels), np.inf)
    for i, (mel, pitch) in enumerate(zip(mels, pitches)):
        window = vocode(mel, 0.0, DEFAULT_VOCODER, settings)[lo:hi]
        if np.any(window):
            out[i] = abs(cents(estimate_f0(window, midi_hz(int(pitch)), sr), midi_hz(int(pitch))))
    return np.where(np.isfinite(out), out, np.inf)  # no period found: as off as silence
