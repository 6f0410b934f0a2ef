"""What bundle.json says about the corpus: velocity mapping and corpus facts (the loudness
table: train.prep.loudness).

All of it is read from the run's dataset cache, so the bundle describes the notes the
model was trained on.
"""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np

from rtsynth.labels import DYNAMICS_VELOCITY
from rtsynth.train.prep.cache import NoteCache

log = logging.getLogger(__name__)


def velocity_mapping(cache: NoteCache) -> dict[str, int]:
    """MIDI velocity per dynamics class: the notation table for known names (pp, mf, ff).

    Other names (a user's own corpus) are placed by loudness: all classes are ranked by the
    mean peak dB of their notes and an unknown class gets the velocity interpolated between
    its known neighbours in that ranking (1 and 127 stand beyond the quietest and loudest).
    """
    dynamics = cache.vocab.dynamics
    level = [
        float(cache.peak_db[cache.labels["dynamics"] == j].mean())
        if np.any(cache.labels["dynamics"] == j)
        else float("-inf")
        for j in range(len(dynamics))
    ]
    ranked = sorted(range(len(dynamics)), key=lambda j: level[j])
    rank = {dynamics[j]: r for r, j in enumerate(ranked)}
    known = sorted((rank[name], DYNAMICS_VELOCITY[name]) for name in dynamics if name in DYNAMICS_VELOCITY)
    anchors = [(-1, 1), *known, (len(dynamics), 127)]
    xs, ys = zip(*anchors)
    mapping = {}
    for name in dynamics:
        velocity = DYNAMICS_VELOCITY.get(name)
        mapping[name] = int(velocity if velocity is not None else round(np.interp(rank[name], xs, ys)))
    unknown = [name for name in dynamics if name not in DYNAMICS_VELOCITY]
    if unknown:
        log.warning(
            "dynamics %s have no notated velocity; placed by loudness: %s",
            unknown,
            {name: mapping[name] for name in unknown},
        )
    return mapping


def corpus_facts(cache: NoteCache) -> dict:
    """Name, kind, size, pitch range and fingerprint of the corpus behind the cache."""
    manifest = cache.manifest
    corpus = manifest.get("corpus", {})
    fingerprint = manifest.get("fingerprint")
    pitches = cache.vocab.pitch
    return {
        "name": cache.root.name,
        "kind": corpus.get("kind", "unknown"),
        "notes": len(cache),
        "splits": {name: len(cache.indices(name)) for name in ("train", "val", "test")},
        "pitch_range": [min(pitches), max(pitches)],
        "timbres": list(cache.vocab.timbre),
        "timbre_pitch_ranges": timbre_pitch_ranges(cache),
        "prep_version": manifest.get("prep_version"),
        "cache_fingerprint": _digest(fingerprint) if fingerprint is not None else _digest(manifest),
    }


def timbre_pitch_ranges(cache: NoteCache) -> dict[str, list[int]]:
    """Lowest and highest MIDI pitch each timbre has notes of: where its class means were trained."""
    pitches = np.asarray(cache.vocab.pitch)[cache.labels["pitch"]]
    ranges = {}
    for i, timbre in enumerate(cache.vocab.timbre):
        own = pitches[cache.labels["timbre"] == i]
        if len(own):
            ranges[timbre] = [int(own.min()), int(own.max())]
    return ranges


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
