"""The one streaming interface every vocoder implements.

A voice calls `reset(peak_db)` when its note starts, `push(frames)` as mel frames become
available, and `flush()` when the note's frames are all in; each call returns the audio
that is final so far. Implementations process frames in fixed internal blocks, so the
output does not depend on how the caller groups its pushes: `vocode` (the whole note in
one push) is exactly the streaming path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from rtsynth.settings import MelSettings
from rtsynth.vocoder.loudness import level_gain, relative_power


class StreamingVocoder(ABC):
    """Unit mel frames [n_mels, k] in [0, 1] -> audio at settings.sample_rate."""

    def __init__(self, settings: MelSettings):
        self.settings = settings
        self._gain: float | None = None  # None: needs reset(peak_db)

    @property
    @abstractmethod
    def latency_frames(self) -> int:
        """Frames that must be pushed before the first audio comes out."""

    def reset(self, peak_db: float) -> None:
        """Start a new note whose mel peak is `peak_db` dB (its loudness)."""
        gain = level_gain(peak_db)
        self._reset_state()
        self._gain = gain

    def push(self, mel: np.ndarray) -> np.ndarray:
        """Add mel frames; return the audio samples that became final (maybe none)."""
        self._require_started()
        return self._output(self._process(relative_power(self._checked(mel), self.settings.db_range)))

    def flush(self) -> np.ndarray:
        """End the note: return the rest of its audio; the next note needs reset()."""
        self._require_started()
        audio = self._output(self._finish())
        self._gain = None
        return audio

    def vocode(self, mel: np.ndarray, peak_db: float) -> np.ndarray:
        """A whole note [n_mels, n_frames] -> n_frames x hop samples, via the streaming path."""
        self.reset(peak_db)
        return np.concatenate([self.push(mel), self.flush()])

    @abstractmethod
    def _reset_state(self) -> None: ...

    @abstractmethod
    def _process(self, power: np.ndarray) -> np.ndarray:
        """Mel power relative to the peak [n_mels, k], any k >= 0 -> samples now final."""

    @abstractmethod
    def _finish(self) -> np.ndarray:
        """The note has no more frames -> all remaining samples."""

    def _output(self, audio: np.ndarray) -> np.ndarray:
        return (audio * self._gain).astype(np.float32)

    def _require_started(self) -> None:
        if self._gain is None:
            raise RuntimeError("call reset(peak_db) before pushing frames of a new note")

    def _checked(self, mel: np.ndarray) -> np.ndarray:
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim != 2 or mel.shape[0] != self.settings.n_mels:
            raise ValueError(f"mel frames must be [n_mels={self.settings.n_mels}, k], got shape {mel.shape}")
        if not np.isfinite(mel).all():
            raise ValueError("mel frames contain NaN or infinite values")
        # decoders overshoot [0, 1] by rounding; the scale has no meaning outside it
        clipped: np.ndarray = np.clip(mel, 0.0, 1.0)
        return clipped
