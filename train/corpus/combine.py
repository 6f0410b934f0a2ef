"""Several corpora read as one, each note keeping the name of the corpus it came from.

Why: a model trained on GM-SOL rendered from several SoundFonts and scored on a SoundFont it
never heard (leave-one-SoundFont-out) needs one cache over the training SoundFonts, with one
vocabulary and one split, and a record of where each note came from. A note's source id gets
its corpus folder in front (two SoundFonts render files of the same names).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rtsynth.train.corpus.records import Corpus, Skipped

GM_SUMMARY = "summary.json"  # written by `rtsynth data gm`; names the SoundFont


@dataclass(frozen=True)
class CorpusSource:
    name: str  # the corpus folder relative to the combined root: the prefix of its notes' source ids
    root: str
    kind: str
    soundfont: str | None  # the SoundFont a GM-SOL corpus was rendered from
    notes: int  # records the reader found


def soundfont_of(root: Path) -> str | None:
    """The SoundFont named in a GM-SOL corpus's summary.json, if it has one."""
    try:
        summary = json.loads((root / GM_SUMMARY).read_text())
    except (OSError, ValueError):
        return None
    soundfont = summary.get("soundfont") if isinstance(summary, dict) else None
    return soundfont if isinstance(soundfont, str) else None


def combine_corpora(corpora: Sequence[Corpus]) -> Corpus:
    """One corpus: a single one unchanged, several under their common folder, each note's source id
    then relative to it (the corpus folder in front), as a single corpus's ids are to its root."""
    if len(corpora) == 1:
        return corpora[0]
    roots = [c.root.resolve() for c in corpora]
    common = Path(os.path.commonpath(roots))
    names = [root.relative_to(common).as_posix() for root in roots]
    if len(set(roots)) < len(roots) or any(a != b and a.is_relative_to(b) for a in roots for b in roots):
        raise ValueError(f"corpus folders must differ and not contain one another: {[str(r) for r in roots]}")
    records, skipped = [], []
    for name, corpus in zip(names, corpora):
        records += [
            dataclasses.replace(r, source_id=f"{name}/{r.source_id}", extra={**r.extra, "source": name})
            for r in corpus.records
        ]
        skipped += [Skipped(f"{name}/{s.source_id}", s.reason) for s in corpus.skipped]
    sources = [
        CorpusSource(name, str(root), c.kind, soundfont_of(root), len(c.records))
        for name, root, c in zip(names, roots, corpora)
    ]
    return Corpus("combined", common, records, skipped, sources)
