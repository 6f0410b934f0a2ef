"""Reading a note file into mono audio, and finding the span where the note sounds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from rtsynth.settings import TrimSettings

SILENCE_FLOOR_DBFS = -90.0
"""A file whose peak is below this level is silence (or digital noise), not a note: the -40 dB
trim is relative to the peak, so it would otherwise "find" a note in the noise."""


class AudioProblem(Exception):
    """A note file that cannot become a note (for training or as a recording to place); the
    message is the reason."""


@dataclass(frozen=True)
class NoteAudio:
    samples: np.ndarray  # mono float32 at the file's own rate
    sample_rate: int
    channels: int  # in the file, before the downmix
    subtype: str  # soundfile's sample format, e.g. PCM_16


def read_mono(path: Path, silence_floor_dbfs: float = SILENCE_FLOOR_DBFS) -> NoteAudio:
    """Any rate, channel count and sample format -> mono float32 (channel mean).

    Raises AudioProblem for missing, empty, unreadable, non-finite or silent files.
    """
    try:
        if os.path.getsize(path) == 0:
            raise AudioProblem("empty file (0 bytes)")
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        subtype = sf.info(path).subtype
    except FileNotFoundError:
        raise AudioProblem("file not found") from None
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as err:
        raise AudioProblem(f"unreadable audio: {err}") from None
    if data.size == 0:
        raise AudioProblem("no audio samples (0 frames)")
    if not np.all(np.isfinite(data)):
        raise AudioProblem("non-finite samples (NaN or inf)")
    mono = data.mean(axis=1, dtype=np.float32)
    peak = float(np.max(np.abs(mono)))
    peak_dbfs = 20 * np.log10(peak) if peak > 0 else -np.inf
    if peak_dbfs < silence_floor_dbfs:
        raise AudioProblem(f"silent: peak {peak_dbfs:.1f} dBFS is below the {silence_floor_dbfs:g} dBFS floor")
    return NoteAudio(mono, int(rate), data.shape[1], subtype)


def frame_rms(audio: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS of centred, zero-padded frames (frame i is centred on sample i * hop)."""
    padded = np.pad(audio, frame_length // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length]
    frames = frames[: 1 + len(audio) // hop_length]
    rms: np.ndarray = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return rms


def sounding_span(audio: np.ndarray, trim: TrimSettings) -> tuple[int, int]:
    """[start, end) samples between the first and last frame within `top_db` of the peak frame.

    Only leading and trailing silence is removed, as the paper's reference code does (the
    same rule as librosa.effects.trim). A note's duration label is its sounding span from
    onset to release: a quiet stretch inside the note (a breath, a bow change, tremolo)
    belongs to the note, and cutting it out would splice the sound and shorten the label.
    """
    rms = frame_rms(audio, trim.frame_length, trim.hop_length)
    level_db = 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10))
    loud = np.flatnonzero(level_db > -trim.top_db)
    if loud.size == 0:
        return 0, 0
    start = int(loud[0]) * trim.hop_length
    end = min(len(audio), (int(loud[-1]) + 1) * trim.hop_length)
    return start, end
