"""One note file through the paper's pipeline (Dal Rí et al. section III-B); runs in the workers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtsynth.settings import MelSettings, TrimSettings
from rtsynth.train.corpus.records import NoteRecord, Skipped
from rtsynth.train.prep.audio import AudioProblem, read_mono, sounding_span
from rtsynth.train.prep.features import cut_note, model_rate_note, note_features
from rtsynth.train.prep.options import PrepOptions


@dataclass(frozen=True)
class PreparedNote:
    """A note's measurements; its mel travels beside it, straight into the cache array."""

    record: NoteRecord
    peak_db: float  # of the power mel, to restore loudness at synthesis
    duration_s: float  # sounding span, measured at the file's own rate
    sample_rate: int  # of the file, before resampling
    channels: int  # of the file, before the downmix
    subtype: str  # the file's sample format, e.g. PCM_16

    @property
    def source_format(self) -> str:
        return f"{self.sample_rate} Hz, {self.channels} ch, {self.subtype}"


@dataclass(frozen=True)
class NoteJob:
    """Everything a worker needs besides the record (pickled once per task chunk)."""

    mel: MelSettings
    trim: TrimSettings
    options: PrepOptions

    def __call__(self, record: NoteRecord) -> tuple[PreparedNote, np.ndarray] | Skipped:
        try:
            return self.prepare(record)
        except AudioProblem as problem:
            return Skipped(record.source_id, str(problem))

    def prepare(self, record: NoteRecord) -> tuple[PreparedNote, np.ndarray]:
        """Mono -> trim leading/trailing silence (duration label), fade the cut -> 22 050 Hz
        -> pad/crop to 5.94 s -> mel in [0, 1] + peak dB."""
        audio, start, end, note = self._cut(record.path)
        unit, peak_db = note_features(note, audio.sample_rate, self.mel, self.options.fade_s)
        prepared = PreparedNote(
            record, peak_db, (end - start) / audio.sample_rate, audio.sample_rate, audio.channels, audio.subtype
        )
        return prepared, unit.astype(np.float16)

    def features(self, path: Path) -> tuple[np.ndarray, float]:
        """One file's [0, 1] mel and its sounding seconds, exactly as prep caches them
        (for encoding a user's recording into a preset)."""
        audio, start, end, note = self._cut(path)
        unit, _ = note_features(note, audio.sample_rate, self.mel, self.options.fade_s)
        return unit, (end - start) / audio.sample_rate

    def model_rate_audio(self, path: Path) -> np.ndarray:
        """The padded 22 050 Hz note whose mel prep caches (for copy-synthesis benchmarks)."""
        audio, _, _, note = self._cut(path)
        return model_rate_note(note, audio.sample_rate, self.mel, self.options.fade_s)

    def _cut(self, path: Path):
        """(the file's audio, sounding start, end, the sounding span with a faded cut)."""
        audio = read_mono(path, self.options.silence_floor_dbfs)
        start, end = sounding_span(audio.samples, self.trim)
        if end <= start:
            raise AudioProblem("no frame within the trim threshold of the peak")
        fade = max(1, round(self.options.fade_s * audio.sample_rate))
        return audio, start, end, cut_note(audio.samples, start, end, fade)
