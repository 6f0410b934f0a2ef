"""Tiny synthetic dataset caches and configs for the training tests.

The mels are structured, not noise: a harmonic series whose spacing is the pitch, whose
spectral tilt is the timbre, whose level and brightness are the dynamics and whose
length is the duration, so a model can learn every label and a falling loss means
something.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtsynth.labels import DESCRIPTORS, Vocabulary
from rtsynth.resources import configs_dir
from rtsynth.settings import MelSettings
from rtsynth.train.config import TrainConfig, read_config
from rtsynth.train.prep.cache import write_cache

VOCAB = Vocabulary(
    timbre=("flute", "violin", "trumpet"),
    pitch=(60, 62, 64, 65),
    dynamics=("pp", "mf", "ff"),
    duration=(0.25, 0.5, 0.75, 1.0),
)


def synthetic_mel(t: int, p: int, v: int, d: int, size: int, rng: np.random.Generator) -> np.ndarray:
    mels = np.arange(size)[:, None]
    frames = np.arange(size)[None, :]
    spacing = 4 + p
    harmonic = (mels % spacing == 0) & (mels > 0)
    tilt = np.exp(-mels / (size * (0.15 + 0.2 * t)))
    level = 0.5 + 0.2 * v
    length = size // 8 * (d + 2)
    envelope = (frames < length) * np.exp(-frames / (size * (1 + v)))
    mel = level * harmonic * tilt * envelope + 0.02 * rng.random((size, size))
    return np.clip(mel, 0, 1).astype(np.float32)


def make_cache(root: Path, size: int = 64, repeats: int = 2, seed: int = 0, split_every: int = 5) -> Path:
    """Every label combination `repeats` times; every `split_every`-th note to val, the next to test."""
    rng = np.random.default_rng(seed)
    combos = [
        (t, p, v, d) for t in range(3) for p in range(4) for v in range(3) for d in range(4) for _ in range(repeats)
    ]
    rng.shuffle(combos)
    mels = np.stack([synthetic_mel(*c, size, rng) for c in combos])
    labels = {name: np.array([c[i] for c in combos]) for i, name in enumerate(DESCRIPTORS)}
    split = np.array([1 if i % split_every == 0 else 2 if i % split_every == 1 else 0 for i in range(len(combos))])
    settings = MelSettings(n_mels=size, note_seconds=(size - 1) * 512 / 22050)  # size frames
    return write_cache(
        root,
        mels,
        labels,
        split,
        peak_db=np.zeros(len(combos)),
        duration_s=np.ones(len(combos)),
        source_ids=[f"note{i}" for i in range(len(combos))],
        vocab=VOCAB,
        mel_settings=settings,
        manifest_extra={"synthetic": True},
    )


def tiny_config(cache: Path, variant: str = "md-gmvae+c+r", **changes) -> TrainConfig:
    """The packaged tiny config on `cache`."""
    config = read_config(configs_dir() / "train" / "tiny.toml")
    return config.replace(cache=str(cache), variant=variant, **changes)


def small_cache(root: Path, size: int = 64, seed: int = 0) -> Path:
    """24 notes (every timbre x pitch at mf, two durations): fast enough to perturb in a test."""
    rng = np.random.default_rng(seed)
    combos = [(t, p, 1, d) for t in range(3) for p in range(4) for d in (1, 3)]
    mels = np.stack([synthetic_mel(*c, size, rng) for c in combos])
    labels = {name: np.array([c[i] for c in combos]) for i, name in enumerate(DESCRIPTORS)}
    split = np.array([1 if i % 6 == 0 else 2 if i % 6 == 1 else 0 for i in range(len(combos))])
    return write_cache(
        root,
        mels,
        labels,
        split,
        peak_db=-6.0 * np.array([c[0] for c in combos]),
        duration_s=np.ones(len(combos)),
        source_ids=[f"note{i}.wav" for i in range(len(combos))],
        vocab=VOCAB,
        mel_settings=MelSettings(n_mels=size, note_seconds=(size - 1) * 512 / 22050),
        manifest_extra={"synthetic": True},
    )


def encoder_bundle(root: Path, size: int = 64, epochs: int = 15, lr: float = 0.005) -> Path:
    """A tiny trained run exported as a full bundle with its encoder and timbre map; trained
    long enough (a few seconds) that its notes sound and its timbres differ. Tuning skipped."""
    from rtsynth.export.bundle_writer import ExportOptions, export_bundle
    from rtsynth.train.trainer import Trainer

    cache = make_cache(root / "cache", size=size, repeats=1)
    run = root / "run"
    Trainer(tiny_config(cache, max_epochs=epochs, lr=lr), run).fit()
    return export_bundle(run, root / "bundles" / "tiny", ExportOptions(tuning_step=0, map_notes=200))
