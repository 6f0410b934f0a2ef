"""The label vocabulary of a prepared corpus, and each note's class indices in it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rtsynth.labels import DESCRIPTORS, DYNAMICS, INSTRUMENTS, Vocabulary, duration_class, duration_class_seconds
from rtsynth.settings import TrimSettings
from rtsynth.train.prep.note import PreparedNote


def known_first(present: Iterable[str], known: Sequence[str]) -> tuple[str, ...]:
    """Known names in their table order, then any others sorted, so indices stay stable."""
    present = set(present)
    return tuple(n for n in known if n in present) + tuple(sorted(present - set(known)))


def build_vocabulary(
    notes: Sequence[PreparedNote], pitch_range: tuple[int, int] | None, trim: TrimSettings
) -> Vocabulary:
    """Timbre and dynamics: what the corpus has. Pitch: a contiguous MIDI range. Duration:
    every class, always, so models trained on different corpora share the duration axis."""
    pitches = [n.record.pitch for n in notes]
    lo, hi = pitch_range if pitch_range is not None else (min(pitches), max(pitches))
    return Vocabulary(
        timbre=known_first((n.record.instrument for n in notes), [i.name for i in INSTRUMENTS]),
        pitch=tuple(range(lo, hi + 1)),
        dynamics=known_first((n.record.dynamics for n in notes), DYNAMICS),
        duration=tuple(duration_class_seconds(k, trim.duration_step) for k in range(trim.max_duration_classes)),
    )


def label_indices(notes: Sequence[PreparedNote], vocab: Vocabulary, trim: TrimSettings) -> dict[str, np.ndarray]:
    """descriptor -> [N] class index, in DESCRIPTORS order."""
    values: dict[str, list[str] | list[int]] = {
        "timbre": [n.record.instrument for n in notes],
        "pitch": [n.record.pitch for n in notes],
        "dynamics": [n.record.dynamics for n in notes],
    }
    index = {d: {v: i for i, v in enumerate(vocab.classes(d))} for d in values}
    out = {d: np.array([index[d][v] for v in values[d]], dtype=np.int64) for d in values}
    out["duration"] = np.array(
        [duration_class(n.duration_s, trim.duration_step, trim.max_duration_classes) for n in notes], dtype=np.int64
    )
    return {d: out[d] for d in DESCRIPTORS}
