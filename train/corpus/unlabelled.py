"""A folder of sounds without labels.csv: an unlabelled corpus (paper 001's setting).

Every WAV, FLAC or AIFF file under the folder is one note, pitched or not, at any rate,
mono or stereo, of any length; prep reads it, and skips a corrupt or silent file with the
reason in its report. The labels every cache row needs are placeholders: one timbre class,
the pitch class MIDI 60 (the synth plays other keys by resampling and the export measures
the tuning) and dynamics "mf". Models trained on it must not use labels (tanaka-3f); its
timbre space is clustered into presets at export.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rtsynth.train.corpus.folder import AUDIO_SUFFIXES
from rtsynth.train.corpus.records import Corpus, NoteRecord, Skipped

log = logging.getLogger(__name__)

KIND = "unlabelled"
TIMBRE = "unlabelled"
PITCH = 60
DYNAMICS = "mf"
READABLE = frozenset({".wav", ".flac", ".aif", ".aiff"})


def read_unlabelled(root: str | Path, check_audio: bool = False) -> Corpus:
    """Every readable-format audio file under `root`; FileNotFoundError naming the folder if none.

    `check_audio` also opens each file and skips corrupt and silent ones with the reason (what
    prep would do), so a listing of the folder shows what will be left out.
    """
    root = Path(root)
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES | READABLE)
    records, skipped = [], []
    for path in found:
        source_id = path.relative_to(root).as_posix()
        if path.suffix.lower() not in READABLE:
            skipped.append(Skipped(source_id, f"{path.suffix} is not WAV, FLAC or AIFF"))
            continue
        problem = _audio_problem(path) if check_audio else None
        if problem:
            skipped.append(Skipped(source_id, problem))
            continue
        records.append(NoteRecord(path.resolve(), source_id, TIMBRE, PITCH, DYNAMICS, {"name": path.stem}))
    if not records and not (check_audio and skipped):
        raise FileNotFoundError(
            f"{root} has no WAV, FLAC or AIFF files (and no labels.csv): nothing to make a corpus from"
        )
    if not records:
        reasons = "; ".join(f"{s.source_id}: {s.reason}" for s in skipped[:5])
        raise ValueError(f"{root} has no usable audio ({reasons})")
    log.debug("unlabelled corpus %s: %d files, %d skipped", root, len(records), len(skipped))
    return Corpus(kind=KIND, root=root, records=records, skipped=skipped)


def _audio_problem(path: Path) -> str | None:
    """Why prep would skip this file (unreadable, empty, silent), or None."""
    from rtsynth.dsp.audio import AudioProblem, read_mono

    try:
        read_mono(path)
    except AudioProblem as problem:
        return str(problem)
    return None
