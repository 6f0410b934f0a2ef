"""Figures of a prepared cache: class counts per descriptor and a few example mels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rtsynth.labels import DESCRIPTORS, note_name
from rtsynth.train.prep.cache import SPLITS, NoteCache


def example_indices(cache: NoteCache, count: int = 6) -> list[int]:
    """One note each for up to `count` instruments spread over the vocabulary: the note
    nearest the instrument's median pitch, preferring the middle dynamics."""
    timbre, pitch, dyn = cache.labels["timbre"], cache.labels["pitch"], cache.labels["dynamics"]
    present = np.unique(timbre)
    chosen = present[np.linspace(0, len(present) - 1, min(count, len(present))).round().astype(int)]
    middle_dynamics = (len(cache.vocab.dynamics) - 1) / 2
    out = []
    for t in np.unique(chosen):
        members = np.flatnonzero(timbre == t)
        median = np.median(pitch[members])
        cost = np.abs(pitch[members] - median) + 0.1 * np.abs(dyn[members] - middle_dynamics)
        out.append(int(members[np.argmin(cost)]))
    return out


def plot_class_counts(report: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 8), layout="tight")
    axes = fig.subplots(2, 2)
    for ax, descriptor in zip(axes.flat, DESCRIPTORS):
        counts = report["histograms"][descriptor]
        ax.bar(range(len(counts)), list(counts.values()), color="tab:blue")
        ax.set_xticks(range(len(counts)), list(counts), rotation=90, fontsize=7)
        ax.set_title(f"{descriptor} ({sum(counts.values())} notes)")
        ax.set_ylabel("notes")
    fig.suptitle(f"Class counts: {report['corpus']['kind']} corpus")
    fig.savefig(path, dpi=100)


def plot_example_mels(cache: NoteCache, path: Path) -> None:
    from matplotlib.figure import Figure

    picks = example_indices(cache)
    cols = math.ceil(math.sqrt(len(picks)))
    rows = math.ceil(len(picks) / cols)
    settings = cache.mel_settings
    seconds = settings.n_frames * settings.hop_length / settings.sample_rate
    fig = Figure(figsize=(4.5 * cols + 1, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(picks) :]:
        ax.axis("off")
    for ax, i in zip(axes.flat, picks):
        image = ax.imshow(
            np.asarray(cache.mels[i], dtype=np.float32),
            origin="lower",
            aspect="auto",
            vmin=0,
            vmax=1,
            cmap="magma",
            extent=(0, seconds, 0, settings.n_mels),
        )
        v = cache.vocab
        ax.set_title(
            f"{v.timbre[cache.labels['timbre'][i]]} {note_name(v.pitch[cache.labels['pitch'][i]])} "
            f"{v.dynamics[cache.labels['dynamics'][i]]}\n{cache.duration_s[i]:.2f} s sounding "
            f"(class {v.duration[cache.labels['duration'][i]]:.2f} s), {cache.peak_db[i]:.0f} dB peak, "
            f"{SPLITS[cache.split[i]]}",
            fontsize=8,
        )
        ax.set_xlabel("time (s)")
        ax.set_ylabel("mel band")
    fig.colorbar(image, ax=axes, shrink=0.8, label=f"[0, 1] = {settings.db_range:g} dB below the note's peak")
    fig.savefig(path, dpi=100)


def write_figures(cache: NoteCache, report: dict) -> list[Path]:
    """Drawn on bare Figure objects (Agg canvas): no pyplot state, no display needed."""
    folder = cache.root / "figures"
    folder.mkdir(exist_ok=True)
    paths = [folder / "class_counts.png", folder / "example_mels.png"]
    plot_class_counts(report, paths[0])
    plot_example_mels(cache, paths[1])
    return paths
