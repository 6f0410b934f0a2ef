"""One note file -> the model's fixed-size [0, 1] mel spectrogram and its peak level: the steps
prep caches training notes with, and the runtime places a user's recording with."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from rtsynth.dsp.audio import SILENCE_FLOOR_DBFS, AudioProblem, NoteAudio, read_mono, sounding_span
from rtsynth.dsp.mel import mel_power, power_to_unit
from rtsynth.settings import MelSettings, TrimSettings

FADE_S = 0.05
"""Where a note is cut (after its trimmed span, and at 5.94 s) it fades out over this time, so
the cut does not click."""


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling by the exact rational ratio (anti-aliased, no drift)."""
    from scipy.signal import resample_poly  # 1-2 s to import: only where audio is processed

    if from_rate == to_rate:
        return audio.astype(np.float32, copy=False)
    common = gcd(from_rate, to_rate)
    resampled: np.ndarray = resample_poly(audio, to_rate // common, from_rate // common).astype(np.float32)
    return resampled


def fade_out(audio: np.ndarray, fade_samples: int) -> np.ndarray:
    """A copy whose last `fade_samples` fall to exactly zero along a raised cosine.

    Cutting a sound that has not ended is a step in the waveform: a broadband click,
    which the mel shows as a vertical line that a decoder would learn to reproduce.
    """
    out = audio.astype(np.float32)  # always a copy
    fade = min(fade_samples, len(out))
    out[len(out) - fade :] *= 0.5 * (1 + np.cos(np.linspace(0, np.pi, fade, dtype=np.float32)))
    return out


def cut_note(audio: np.ndarray, start: int, end: int, fade_samples: int) -> np.ndarray:
    """The sounding span [start, end) followed by a fade over the next `fade_samples`.

    The paper pads the trimmed span directly; its last sample is still at up to -40 dB, a
    click 40 dB above the mel's 80 dB floor. Fading over the audio after the span (below
    -40 dB by definition) keeps the span whole and the cut silent.
    """
    return fade_out(audio[start : end + fade_samples], fade_samples)


def fit_length(audio: np.ndarray, n_samples: int, fade_samples: int) -> np.ndarray:
    """Zero-pad at the end, or crop with a fade-out (no click)."""
    if len(audio) <= n_samples:
        return np.pad(audio, (0, n_samples - len(audio))).astype(np.float32)
    return fade_out(audio[:n_samples], fade_samples)


def model_rate_note(audio: np.ndarray, sample_rate: int, mel: MelSettings, fade_s: float) -> np.ndarray:
    """Onset-aligned note audio -> the fixed-length note at the model's rate (5.94 s, 22 050 Hz)."""
    return fit_length(
        resample(audio, sample_rate, mel.sample_rate), mel.n_samples, max(1, round(fade_s * mel.sample_rate))
    )


def note_features(audio: np.ndarray, sample_rate: int, mel: MelSettings, fade_s: float) -> tuple[np.ndarray, float]:
    """Onset-aligned note audio -> ([n_mels, n_frames] in [0, 1], peak dB of the power mel)."""
    fixed = model_rate_note(audio, sample_rate, mel, fade_s)
    return power_to_unit(mel_power(fixed, mel), mel.db_range)


@dataclass(frozen=True)
class CutNote:
    audio: NoteAudio  # the whole file, mono
    start: int  # sounding span [start, end) in the file's samples
    end: int
    note: np.ndarray  # that span with a faded cut after it

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / self.audio.sample_rate


@dataclass(frozen=True)
class NotePipeline:
    """A note file through prep's steps: silence floor, trim, faded cut, model rate, mel."""

    mel: MelSettings
    trim: TrimSettings
    silence_floor_dbfs: float = SILENCE_FLOOR_DBFS
    fade_s: float = FADE_S

    def cut(self, path: Path) -> CutNote:
        """The file's sounding span; AudioProblem for an unusable file."""
        audio = read_mono(path, self.silence_floor_dbfs)
        start, end = sounding_span(audio.samples, self.trim)
        if end <= start:
            raise AudioProblem("no frame within the trim threshold of the peak")
        fade = max(1, round(self.fade_s * audio.sample_rate))
        return CutNote(audio, start, end, cut_note(audio.samples, start, end, fade))

    def features(self, cut: CutNote) -> tuple[np.ndarray, float]:
        """The cut note's [0, 1] mel and peak dB, exactly as prep caches them."""
        return note_features(cut.note, cut.audio.sample_rate, self.mel, self.fade_s)

    def model_rate_audio(self, path: Path) -> np.ndarray:
        """The padded note at the model's rate whose mel prep caches (for copy-synthesis benchmarks)."""
        cut = self.cut(path)
        return model_rate_note(cut.note, cut.audio.sample_rate, self.mel, self.fade_s)
