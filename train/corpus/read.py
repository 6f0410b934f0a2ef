"""One entry point for every corpus: detect the layout of a folder and read it.

Only labels and file existence are checked here; audio content is prep's business, so a
corrupt file is reported in the prep report, not here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from rtsynth.labels import DYNAMICS, note_name
from rtsynth.train.corpus.folder import LABELS_NAME, read_folder
from rtsynth.train.corpus.records import Corpus
from rtsynth.train.corpus.tinysol import METADATA_NAME, find_metadata, read_tinysol
from rtsynth.train.corpus.unlabelled import read_unlabelled

SKIPPED_SHOWN = 20  # summary lines for skipped entries; the rest are counted


def read_corpus(root: str | Path) -> Corpus:
    """TinySOL if root has TinySOL_metadata.csv, a folder corpus if it has labels.csv."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder {root} does not exist")
    if find_metadata(root) is not None:
        return read_tinysol(root)
    if (root / LABELS_NAME).is_file():
        return read_folder(root)
    try:
        return read_unlabelled(root)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{root} is not a corpus: looked for {METADATA_NAME} (TinySOL, also under annotation/), "
            f"{LABELS_NAME} (GM-SOL or a folder of labelled audio) and WAV/FLAC/AIFF files (unlabelled sounds)"
        ) from None


def summarize(corpus: Corpus) -> str:
    """Notes per instrument and dynamics, pitch range per instrument, skipped with reasons."""
    lines = [f"{corpus.kind} corpus {corpus.root}: {len(corpus.records)} notes, {len(corpus.skipped)} skipped"]
    if corpus.records:
        lines += _label_table(corpus)
    if corpus.skipped:
        lines.append("skipped:")
        lines += [f"  {s.source_id}: {s.reason}" for s in corpus.skipped[:SKIPPED_SHOWN]]
        if len(corpus.skipped) > SKIPPED_SHOWN:
            lines.append(f"  ... and {len(corpus.skipped) - SKIPPED_SHOWN} more")
    return "\n".join(lines)


def _label_table(corpus: Corpus) -> list[str]:
    counts: dict[str, Counter] = defaultdict(Counter)
    pitches: dict[str, list[int]] = defaultdict(list)
    for record in corpus.records:
        counts[record.instrument][record.dynamics] += 1
        pitches[record.instrument].append(record.pitch)
    present = {d for c in counts.values() for d in c}
    dynamics = [d for d in DYNAMICS if d in present] + sorted(present - set(DYNAMICS))
    width = max(len("instrument"), *(len(name) for name in counts))
    rows = [f"{'instrument':<{width}} {'notes':>6} " + " ".join(f"{d:>5}" for d in dynamics) + "  pitch range"]
    for name in sorted(counts):
        low, high = min(pitches[name]), max(pitches[name])
        rows.append(
            f"{name:<{width}} {sum(counts[name].values()):>6} "
            + " ".join(f"{counts[name][d]:>5}" for d in dynamics)
            + f"  {note_name(low)}-{note_name(high)} ({low}-{high})"
        )
    return rows
