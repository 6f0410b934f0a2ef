"""One note file through the paper's pipeline (Dal Rí et al. section III-B); runs in the workers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtsynth.dsp.audio import AudioProblem
from rtsynth.dsp.note import NotePipeline
from rtsynth.settings import MelSettings, TrimSettings
from rtsynth.train.corpus.records import NoteRecord, Skipped
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

    @property
    def pipeline(self) -> NotePipeline:
        return NotePipeline(self.mel, self.trim, self.options.silence_floor_dbfs, self.options.fade_s)

    def prepare(self, record: NoteRecord) -> tuple[PreparedNote, np.ndarray]:
        """Mono -> trim leading/trailing silence (duration label), fade the cut -> 22 050 Hz
        -> pad/crop to 5.94 s -> mel in [0, 1] + peak dB."""
        pipeline = self.pipeline
        cut = pipeline.cut(record.path)
        unit, peak_db = pipeline.features(cut)
        audio = cut.audio
        prepared = PreparedNote(record, peak_db, cut.seconds, audio.sample_rate, audio.channels, audio.subtype)
        return prepared, unit.astype(np.float16)
