"""Mel -> audio for the runtime: streaming vocoders, loudness restore, resampling.

One streaming interface (StreamingVocoder: reset(peak_db) / push(frames) / flush()), several
candidates (CANDIDATES); DEFAULT_VOCODER is the one bench/vocoder.py chose by measurement
(bench/results/vocoder.json). Output is at the model rate; StreamingResampler takes it to the
device rate.
"""

from __future__ import annotations

import numpy as np

from rtsynth.settings import PAPER_MEL, MelSettings
from rtsynth.vocoder.base import StreamingVocoder
from rtsynth.vocoder.loudness import level_gain, relative_power
from rtsynth.vocoder.resample import StreamingResampler
from rtsynth.vocoder.spectral import SpectralConfig, SpectralVocoder

CANDIDATES: dict[str, SpectralConfig] = {
    # real-time PGHI alone: no iterations, no look-ahead beyond its own frame
    "pghi": SpectralConfig(phase_init="pghi", iterations=0, lookahead=0, block_frames=4),
    # streaming fast Griffin-Lim, RTISI-LA initialisation (momentum as in the FGLA paper)
    "gla": SpectralConfig(phase_init="rtisi", iterations=8, lookahead=3, momentum=0.99),
    # PGHI phases refined by streaming fast Griffin-Lim (settings tuned on rendered dev notes)
    "pghi-gla": SpectralConfig(phase_init="pghi", iterations=3, lookahead=3, momentum=0.5),
    # reference floor for tests and benchmarks: the right magnitudes, no phase at all
    "zero-phase": SpectralConfig(phase_init="zero", iterations=0, lookahead=0, block_frames=4),
}
DEFAULT_VOCODER = "pghi-gla"


def create_vocoder(name: str = DEFAULT_VOCODER, settings: MelSettings = PAPER_MEL) -> StreamingVocoder:
    if name not in CANDIDATES:
        raise ValueError(f"unknown vocoder {name!r}; choose from {sorted(CANDIDATES)}")
    return SpectralVocoder(settings, CANDIDATES[name])


def vocode(
    mel: np.ndarray, peak_db: float, name: str = DEFAULT_VOCODER, settings: MelSettings = PAPER_MEL
) -> np.ndarray:
    """A whole unit mel [n_mels, n_frames] -> audio at settings.sample_rate (the streaming path)."""
    return create_vocoder(name, settings).vocode(mel, peak_db)


__all__ = [
    "CANDIDATES",
    "DEFAULT_VOCODER",
    "SpectralConfig",
    "SpectralVocoder",
    "StreamingResampler",
    "StreamingVocoder",
    "create_vocoder",
    "level_gain",
    "relative_power",
    "vocode",
]
