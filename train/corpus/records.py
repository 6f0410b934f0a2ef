"""What every corpus reader yields: labelled note files, and the rows it could not use."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtsynth.train.corpus.combine import CorpusSource


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
    sources: list[CorpusSource] = field(default_factory=list)  # the corpora a combined one was read from

    def describe(self) -> dict:
        """kind, root and (combined) sources, for the cache manifest and the prep report."""
        sources = {"sources": [asdict(s) for s in self.sources]} if self.sources else {}
        return {"kind": self.kind, "root": str(self.root), **sources}

    def metadata_roots(self) -> list[Path]:
        """The folders whose label tables describe the notes."""
        return [Path(s.root) for s in self.sources] or [self.root]
