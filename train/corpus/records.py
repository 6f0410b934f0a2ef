"""What every corpus reader yields: labelled note files, and the rows it could not use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class NoteRecord:
    """One labelled note recording. Duration is not a label here: prep measures it."""

    path: Path  # the audio file
    source_id: str  # stable id: the path relative to the corpus root
    instrument: str  # timbre label
    pitch: int  # MIDI note number
    dynamics: str  # "pp" | "mf" | "ff" for the default corpora
    extra: dict = field(default_factory=dict, compare=False)  # source-specific metadata


@dataclass(frozen=True)
class Skipped:
    """A file or metadata row left out, and why (goes into the prep report)."""

    source_id: str
    reason: str


@dataclass
class Corpus:
    kind: str  # "gm-sol" | "tinysol" | "folder"
    root: Path
    records: list[NoteRecord]
    skipped: list[Skipped]
