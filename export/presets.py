"""Timbre presets of a model that learned without labels (paper 001's): clusters, and marked files.

Its z_t is no instrument, so a bundle's timbres are presets: the training notes' z_t clustered
by k-means into `n` presets named cluster-1..n, plus one preset per file the user marks (by its
source path in the corpus), named by the file's stem and placed at that note's z_t. A preset's
loudness per dynamics class is the mean peak dB of its member notes (all notes' mean where it has
none), raised by what its decoded mel falls short of a note's own peak (`sounding_loudness`),
and its pitch range that of its members.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EXAMPLES = 5
LEVEL_NOTE = 60  # middle C: where a preset's decoded level is measured


@dataclass
class Presets:
    names: list[str]
    means: np.ndarray  # [n, D_t]
    loudness_db: dict[str, dict[str, float]]
    pitch_ranges: dict[str, list[int]]
    examples: dict[str, list[str]]  # preset -> up to EXAMPLES of its member files, nearest its centre first


def source_ids(cache) -> list[str]:
    """The source path of every cache note (notes.csv), in cache order."""
    with open(Path(cache.root) / "notes.csv", newline="") as f:
        return [row["source"] for row in csv.DictReader(f)]


def timbre_presets(model, cache, n: int, marked: tuple[str, ...] = (), seed: int = 0) -> Presets:
    """`n` k-means presets of the training notes' z_t (fewer if there are fewer notes) and the marked files."""
    from sklearn.cluster import KMeans

    from rtsynth.train.eval.latents import encode_split

    train = cache.indices("train")
    z = encode_split(model, cache, train, desc="encode train (presets)").mu["timbre"]
    k = max(1, min(n, len(train)))
    kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(z)
    names = [f"cluster-{i + 1}" for i in range(k)]
    means, members = list(kmeans.cluster_centers_), [train[kmeans.labels_ == i] for i in range(k)]
    ids = source_ids(cache)
    for source in marked:
        if source not in ids:
            raise ValueError(f"marked file {source!r} is not a note of {cache.root} (see its notes.csv)")
        row = ids.index(source)
        names.append(Path(source).stem)
        means.append(_encode_one(model, cache, row))
        members.append(np.array([row]))
    if len(set(names)) != len(names):
        raise ValueError(f"preset names must differ: {names}")
    examples = {
        name: _nearest(ids, z, train, rows, mean) for name, rows, mean in zip(names, members, means, strict=True)
    }
    return Presets(
        names,
        np.asarray(means, np.float32),
        _loudness(cache, names, members),
        _ranges(cache, names, members),
        examples,
    )


def _nearest(ids: list[str], z: np.ndarray, train: np.ndarray, rows: np.ndarray, mean: np.ndarray) -> list[str]:
    """The member files nearest a preset's centre (a marked file: itself, it may lie outside `train`)."""
    inside = rows[np.isin(rows, train)]
    if len(inside) < len(rows):
        return [ids[int(r)] for r in rows]
    distance = np.linalg.norm(z[np.searchsorted(train, inside)] - mean, axis=1)
    return [ids[int(r)] for r in inside[np.argsort(distance)][:EXAMPLES]]


def _encode_one(model, cache, row: int) -> np.ndarray:
    from rtsynth.train.eval.latents import encode_split

    return encode_split(model, cache, np.array([row]), desc="encode marked file").mu["timbre"][0]


def _loudness(cache, names: list[str], members: list[np.ndarray]) -> dict[str, dict[str, float]]:
    peak, dyn = cache.peak_db.astype(np.float64), cache.labels["dynamics"]
    overall = {
        d: peak[dyn == j].mean() if np.any(dyn == j) else peak.mean() for j, d in enumerate(cache.vocab.dynamics)
    }
    table = {}
    for name, rows in zip(names, members, strict=True):
        table[name] = {
            d: round(float(peak[rows][dyn[rows] == j].mean() if np.any(dyn[rows] == j) else overall[d]), 2)
            for j, d in enumerate(cache.vocab.dynamics)
        }
    return table


def _ranges(cache, names: list[str], members: list[np.ndarray]) -> dict[str, list[int]]:
    pitches = np.asarray(cache.vocab.pitch)[cache.labels["pitch"]]
    return {
        name: [int(pitches[rows].min()), int(pitches[rows].max())] for name, rows in zip(names, members, strict=True)
    }


def sounding_loudness(
    model, presets: Presets, means: dict[str, np.ndarray], vocab, db_range: float
) -> dict[str, dict[str, float]]:
    """The presets' loudness table raised by what each decoded preset falls short of a note's peak."""
    shortfall = _decoded_shortfall_db(model, means, list(vocab.pitch), db_range)
    dynamics = list(vocab.dynamics)
    return {
        name: {
            d: round(level + float(shortfall[i, dynamics.index(d)]), 2)
            for d, level in presets.loudness_db[name].items()
        }
        for i, name in enumerate(presets.names)
    }


def _decoded_shortfall_db(model, means: dict[str, np.ndarray], pitches: list[int], db_range: float) -> np.ndarray:
    """[presets, dynamics] dB by which each preset, decoded as the synth decodes it at LEVEL_NOTE, peaks
    under 1.0. Every training mel reaches 1.0 at its note's peak, so the shortfall is the decoder's
    (an unlabelled model's other latents are class means over very different sounds, whose decoded
    mel is faint), and the loudness table puts it back: a preset sounds at its members' level."""
    from rtsynth.train.eval.latents import decode

    timbres, dynamics = means["timbre"], means["dynamics"]
    layout, slices = model.layout, model.layout.slices()
    z = np.zeros((len(timbres) * len(dynamics), layout.size), np.float32)
    z[:, slices["timbre"]] = np.repeat(timbres, len(dynamics), axis=0)
    z[:, slices["pitch"]] = means["pitch"][int(np.argmin(np.abs(np.asarray(pitches) - LEVEL_NOTE)))]
    z[:, slices["dynamics"]] = np.tile(dynamics, (len(timbres), 1))
    if layout.has("duration"):
        z[:, slices["duration"]] = means["duration"][-1]
    peaks = decode(model, z).max(axis=(1, 2)).reshape(len(timbres), -1)
    return (1.0 - np.clip(peaks, 1e-3, 1.0)) * db_range
