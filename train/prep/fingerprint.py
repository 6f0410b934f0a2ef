"""What a cache was built from, so that it is rebuilt exactly when that changes.

The fingerprint is a few named hashes (input files, corpus metadata, settings, options)
rather than one, so a rebuild can say what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from rtsynth.settings import MelSettings, TrimSettings
from rtsynth.train.corpus.records import Corpus
from rtsynth.train.corpus.tinysol import find_metadata
from rtsynth.train.prep.options import PrepOptions

PREP_VERSION = 1
"""Bump when the pipeline's output changes for the same inputs and settings."""


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _stat(path: Path) -> list[int]:
    try:
        st = os.stat(path)
    except OSError:
        return [-1, -1]
    return [st.st_size, st.st_mtime_ns]


def metadata_files(root: Path) -> list[Path]:
    """The corpus's label tables: CSV files at its root (labels.csv, GM-SOL's tables) and
    TinySOL's metadata wherever the reader finds it."""
    found = {p for p in Path(root).glob("*.csv") if p.is_file()}
    tinysol = find_metadata(Path(root))
    return sorted(found | ({tinysol} if tinysol else set()))


def input_fingerprint(corpus: Corpus, mel: MelSettings, trim: TrimSettings, options: PrepOptions) -> dict[str, str]:
    files = sorted([r.source_id, *_stat(r.path), r.instrument, r.pitch, r.dynamics] for r in corpus.records)
    metadata = [  # by content: a corpus writer that rewrites the same tables leaves the cache as it is
        [p.relative_to(corpus.root).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()]
        for root in corpus.metadata_roots()
        for p in metadata_files(root)
    ]
    return {
        "files": _digest([corpus.kind, files, sorted([s.source_id, s.reason] for s in corpus.skipped)]),
        "metadata": _digest(metadata),
        "settings": _digest([PREP_VERSION, mel.to_dict(), asdict(trim)]),
        "options": _digest(options.to_dict()),
    }


def changed_parts(old: dict | None, new: dict[str, str]) -> list[str]:
    """Names of the fingerprint parts that differ (all of them when there is no old one)."""
    if not isinstance(old, dict):
        return list(new)
    return [k for k in new if old.get(k) != new[k]]
