"""The loudness table: mean peak dB of a cache's notes per timbre x dynamics.

The synth restores each note's level from it (bundle.json), and the evaluation plays
generated notes at the same levels, so both read it from here.
"""

from __future__ import annotations

import logging

import numpy as np

from rtsynth.train.prep.cache import NoteCache

log = logging.getLogger(__name__)


def loudness_table(cache: NoteCache) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Mean peak dB of the cache's notes per timbre x dynamics, and the combinations filled in.

    A combination without notes gets the timbre's mean level plus that dynamics class's mean
    offset from its own timbre's level over the whole corpus (an additive timbre + dynamics
    model), so a missing ff stays louder than the timbre's mf.
    """
    timbres, dynamics = cache.vocab.timbre, cache.vocab.dynamics
    t, v, peak = cache.labels["timbre"], cache.labels["dynamics"], cache.peak_db.astype(np.float64)
    timbre_level = np.array([peak[t == i].mean() if np.any(t == i) else peak.mean() for i in range(len(timbres))])
    offset = peak - timbre_level[t]
    dynamics_offset = np.array([offset[v == j].mean() if np.any(v == j) else 0.0 for j in range(len(dynamics))])
    table, filled = {}, []
    for i, timbre in enumerate(timbres):
        row = {}
        for j, dyn in enumerate(dynamics):
            notes = (t == i) & (v == j)
            if notes.any():
                row[dyn] = round(float(peak[notes].mean()), 2)
            else:
                row[dyn] = round(float(timbre_level[i] + dynamics_offset[j]), 2)
                filled.append(f"{timbre}/{dyn}")
        table[timbre] = row
    if filled:
        log.warning("loudness table: no notes for %s; filled from timbre level + dynamics offset", ", ".join(filled))
    return table, filled
