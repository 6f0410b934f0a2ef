"""How readable each label is from a cache's mels, before any model is trained.

A linear probe: L2-regularised logistic regression on summaries of each note's mel (the
spectrum averaged over its sounding frames, its spread over them, its first frames, the
attack, and its envelope, the loudest bin of every frame), fitted on the training split
and scored on validation + test. It is not a bound on what a model can reach, but a label
that such a probe reads poorly, or reads well only at some dynamics, says that the corpus
may be the limit rather than the model: this is how GM-SOL's soft-note colouring was found
to erase timbre (README, Table I).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from rtsynth.labels import DESCRIPTORS
from rtsynth.settings import PAPER_TRIM, sounding_level
from rtsynth.train.eval.latents import batched, load_mels
from rtsynth.train.eval.names import class_name

ATTACK_FRAMES = 8  # about 190 ms at hop 512 / 22 050 Hz


@dataclass(frozen=True)
class ProbeConfig:
    regularisation: float = 0.1  # inverse L2 strength (scikit-learn's C) on standardised features
    max_iter: int = 3000
    batch_size: int = 64


def summary_features(mels: np.ndarray, level: float = sounding_level()) -> np.ndarray:
    """[n, 3 * n_mels + n_frames]: mean and standard deviation over the sounding frames (at or
    above `level`), mean over the attack, and the envelope."""
    envelope = mels.max(axis=1)
    sounding = envelope[:, None, :] >= level
    weights = sounding / np.maximum(sounding.sum(axis=2, keepdims=True), 1)
    mean = (mels * weights).sum(axis=2)
    spread = np.sqrt((np.square(mels - mean[..., None]) * weights).sum(axis=2))
    attack = mels[:, :, :ATTACK_FRAMES].mean(axis=2)
    return np.concatenate([mean, spread, attack, envelope], axis=1)


def _features(cache, idx: np.ndarray, batch_size: int) -> np.ndarray:
    top_db = cache.manifest.get("trim_settings", {}).get("top_db", PAPER_TRIM.top_db)
    level = sounding_level(top_db, cache.mel_settings.db_range)
    return np.concatenate(
        [summary_features(load_mels(cache, idx[rows]), level) for rows in batched(len(idx), batch_size)]
    )


def probe_cache(cache, config: ProbeConfig = ProbeConfig()) -> dict:
    """Accuracy of every label (overall and per dynamics class) and the commonest timbre confusions.

    A label with a single class among the training notes has nothing to probe: it is listed
    under "single_class" instead.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train_idx = cache.indices("train")
    held_idx = np.concatenate([cache.indices("val"), cache.indices("test")])
    if not len(train_idx) or not len(held_idx):
        raise ValueError(f"cache {cache.root} needs training and held-out (val/test) notes to probe")
    x_train = _features(cache, train_idx, config.batch_size)
    scaler = StandardScaler().fit(x_train)
    x_train, x_held = scaler.transform(x_train), scaler.transform(_features(cache, held_idx, config.batch_size))
    y_train, y_held = cache.label_matrix(train_idx), cache.label_matrix(held_idx)
    dynamics = y_held[:, DESCRIPTORS.index("dynamics")]
    result: dict = {
        "notes": {"train": len(train_idx), "held_out": len(held_idx)},
        "accuracy": {},
        "by_dynamics": {},
        "single_class": [],
    }
    for j, name in enumerate(tqdm(DESCRIPTORS, desc="probe", unit="label", leave=False)):
        if len(np.unique(y_train[:, j])) < 2:
            result["single_class"].append(name)
            continue
        fit = LogisticRegression(C=config.regularisation, max_iter=config.max_iter).fit(x_train, y_train[:, j])
        named = fit.predict(x_held)
        right = named == y_held[:, j]
        result["accuracy"][name] = float(right.mean())
        result["by_dynamics"][name] = {
            class_name(cache.vocab, "dynamics", k): float(right[dynamics == k].mean()) for k in np.unique(dynamics)
        }
        if name == "timbre":
            result["timbre_confusions"] = _confusions(cache.vocab, y_held[~right, j], named[~right])
    return result


def _confusions(vocab, true: np.ndarray, named: np.ndarray, top: int = 8) -> list[dict]:
    pairs = Counter(zip(true.tolist(), named.tolist())).most_common(top)
    return [
        {"true": class_name(vocab, "timbre", a), "named": class_name(vocab, "timbre", b), "notes": n}
        for (a, b), n in pairs
    ]


def probe_text(result: dict) -> str:
    """The probe as a small table: one row per label, overall and per dynamics class."""
    dynamics = list(next(iter(result["by_dynamics"].values()), {}))
    lines = [
        f"linear probe, {result['notes']['train']} training notes, {result['notes']['held_out']} held out",
        f"{'label':<10}{'all':>7}" + "".join(f"{d:>7}" for d in dynamics),
    ]
    for name, accuracy in result["accuracy"].items():
        per = result["by_dynamics"][name]
        lines.append(f"{name:<10}{accuracy:>7.3f}" + "".join(f"{per[d]:>7.3f}" for d in dynamics))
    confusions = ", ".join(f"{c['true']} -> {c['named']} {c['notes']}" for c in result.get("timbre_confusions", []))
    lines.append(f"timbre confusions: {confusions or 'none'}")
    if result["single_class"]:
        lines.append(f"one class only in the training notes, not probed: {', '.join(result['single_class'])}")
    return "\n".join(lines)
