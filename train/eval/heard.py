"""Which held-out instruments the training notes already hold as recordings.

General MIDI SoundFonts share samples: Debian's TimGM6mb and csound banks play the same
recordings for eight of the fourteen GM-SOL instruments, FluidR3 and MuseScore General for
four. A leave-one-SoundFont-out score on a shared sample measures memory, not transfer to a
new instrument sound, so the report scores the instruments the training set has not heard on
their own. Each held-out note is compared with every training note of the same timbre, pitch
and dynamics on the cache's [0, 1] mels; one sample rendered twice differs by 0.000-0.007 in
mean absolute value, unrelated SoundFonts' samples by 0.035 and more. A bank derived from another
(MuseScore General from FluidR3) sits between, 0.012-0.031: near copies this threshold does not
count as heard, which the report's per-timbre distances show."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtsynth.train.prep.cache import NoteCache

SAME_RECORDING = 0.01  # mean |Δmel| under which a timbre's notes count as a recording heard in training
MATCHED_BY = ("timbre", "pitch", "dynamics")


@dataclass(frozen=True)
class Heard:
    distance: dict[str, float | None]  # per held-out timbre: median nearest-render distance (None: no match)
    timbres: tuple[str, ...]  # those under SAME_RECORDING

    def unheard_rows(self, held: NoteCache) -> np.ndarray:
        """Indices of the held-out notes whose timbre the training set has not heard."""
        heard = [held.vocab.timbre.index(t) for t in self.timbres]
        return np.flatnonzero(~np.isin(held.labels["timbre"], heard))


def nearest_renders(held: NoteCache, train: NoteCache) -> np.ndarray:
    """[len(held)] mean |Δmel| to the closest training note with the same labels (inf: none).
    Each label group's training mels are read once, for all the held-out notes that share it."""
    train_groups, held_groups = _groups(train), _groups(held)
    out = np.full(len(held), np.inf)
    for key, mine in held_groups.items():
        rows = train_groups.get(key)
        if rows:
            theirs = np.asarray(train.mels[rows], dtype=np.float32)
            for i in mine:
                out[i] = float(np.abs(theirs - np.asarray(held.mels[i], dtype=np.float32)).mean(axis=(1, 2)).min())
    return out


def _groups(cache: NoteCache) -> dict[tuple[int, ...], list[int]]:
    """Note indices by their MATCHED_BY labels."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, key in enumerate(zip(*(cache.labels[d].tolist() for d in MATCHED_BY), strict=True)):
        groups.setdefault(key, []).append(i)
    return groups


def heard_timbres(held: NoteCache, train: NoteCache) -> Heard:
    """Per timbre, the median of its notes' nearest-render distances, and the timbres under SAME_RECORDING."""
    distance = nearest_renders(held, train)
    medians: dict[str, float | None] = {}
    for index, name in enumerate(held.vocab.timbre):
        found = distance[(held.labels["timbre"] == index) & np.isfinite(distance)]
        medians[name] = float(np.median(found)) if len(found) else None
    heard = tuple(t for t, d in medians.items() if d is not None and d < SAME_RECORDING)
    return Heard(medians, heard)
