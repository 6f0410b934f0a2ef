"""Audio and mel-spectrogram settings shared by preprocessing, training, export and runtime.

The defaults follow the MD-GMVAE paper (000) and its reference code: 22 050 Hz, 5.94 s per
note, n_fft 2048 (the code; the paper text says 1024), hop 512, 256 mel bands, giving an
exact 256 x 256 spectrogram.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class MelSettings:
    """How a note becomes a [n_mels, n_frames] spectrogram in [0, 1]."""

    sample_rate: int = 22050
    note_seconds: float = 5.94
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 256
    fmin: float = 0.0
    fmax: float | None = None  # None: Nyquist
    # Spectrograms are stored as dB over a fixed range below each note's own peak, mapped
    # to [0, 1]. A fixed range (rather than per-note min-max) keeps the mapping invertible
    # from the stored peak alone, which the synth needs to restore loudness.
    db_range: float = 80.0

    @property
    def n_samples(self) -> int:
        return round(self.note_seconds * self.sample_rate)

    @property
    def n_frames(self) -> int:
        # centred STFT frames
        return 1 + self.n_samples // self.hop_length

    @property
    def f_max(self) -> float:
        return self.fmax if self.fmax is not None else self.sample_rate / 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelSettings:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown mel settings: {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class TrimSettings:
    """Silence trimming that also measures a note's duration (Dal Rí et al. section III-B)."""

    top_db: float = 40.0  # frames quieter than peak - 40 dB are silence
    frame_length: int = 2048
    hop_length: int = 512
    duration_step: float = 0.25  # seconds per duration class
    max_duration_classes: int = 24


PAPER_MEL = MelSettings()
PAPER_TRIM = TrimSettings()


def sounding_level(top_db: float = PAPER_TRIM.top_db, db_range: float = PAPER_MEL.db_range) -> float:
    """The [0, 1] mel value of prep's trim level (`top_db` below the note's peak)."""
    return 1.0 - top_db / db_range
