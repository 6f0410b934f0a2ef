"""Controllability in the mel domain (paper 003, section 4.3).

A class is asked for by placing its latent at the class mean plus a spread,
z_xi = mu_class + w * sigma * eps with w in {0, 0.5, 1}; the mel decoded from it is named
by the independent classifier, and we count how often it names what was asked for.

Two protocols:
- single: one descriptor is set to a class different from the reference note's own, the
  other three latents stay the reference's posterior means. "kept" is how often the
  classifier still names the reference's labels for those three.
- joint: all four latents come from the class means of a test note's labels (paper 003
  samples every factor from its mixture component).
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from rtsynth.labels import DESCRIPTORS, latent_slices
from train.eval.classmeans import ClassMeans
from train.eval.latents import SplitLatents, decode

SPREADS = (0.0, 0.5, 1.0)


def controllability(
    model, classifier, test: SplitLatents, means: ClassMeans,
    spreads=SPREADS, n_refs: int = 48, seed: int = 0,
) -> dict:
    rng = np.random.default_rng(seed)
    refs = test.subset(np.sort(rng.choice(len(test), size=min(n_refs, len(test)), replace=False)))
    steps = tqdm(total=(len(DESCRIPTORS) + 1) * len(spreads), desc="controllability", leave=False)
    single = {d: _single(model, classifier, refs, means, j, spreads, rng, steps) for j, d in enumerate(DESCRIPTORS)}
    joint = _joint(model, classifier, refs, means, spreads, rng, steps)
    steps.close()
    return {
        "spreads": list(spreads),
        "class_means": means.source,
        "sigma": means.sigma_description(),
        "n_refs": len(refs),
        "single": single,
        "joint": joint,
    }


def _single(model, classifier, refs: SplitLatents, means: ClassMeans, j: int, spreads, rng, steps) -> dict:
    name = DESCRIPTORS[j]
    candidates = np.flatnonzero(means.present[name])
    targets = np.array([_other_class(candidates, own, rng) for own in refs.labels[:, j]])
    eps = rng.standard_normal((len(refs), means.means[name].shape[1])).astype(np.float32)
    others = [k for k in range(len(DESCRIPTORS)) if k != j]
    out = {}
    for w in spreads:
        z = refs.z()
        z[:, latent_slices()[name]] = means.means[name][targets] + w * means.sigma[name][targets] * eps
        predicted = _predict(model, classifier, z)
        out[str(w)] = {
            "asked": float((predicted[:, j] == targets).mean()),
            "kept": float((predicted[:, others] == refs.labels[:, others]).mean()),
        }
        steps.update()
    return out


def _other_class(candidates: np.ndarray, own: int, rng) -> int:
    """A class seen in training other than the reference's own (its own if it is the only one)."""
    choices = candidates[candidates != own]
    return int(rng.choice(choices)) if len(choices) else int(own)


def _joint(model, classifier, refs: SplitLatents, means: ClassMeans, spreads, rng, steps) -> dict:
    seen = np.all([means.present[d][refs.labels[:, j]] for j, d in enumerate(DESCRIPTORS)], axis=0)
    labels = refs.labels[seen]
    eps = {d: rng.standard_normal((len(labels), means.means[d].shape[1])).astype(np.float32) for d in DESCRIPTORS}
    out = {}
    for w in spreads:
        if not len(labels):
            out[str(w)] = None
            steps.update()
            continue
        z = np.concatenate([means.means[d][labels[:, j]] + w * means.sigma[d][labels[:, j]] * eps[d]
                            for j, d in enumerate(DESCRIPTORS)], axis=1)
        predicted = _predict(model, classifier, z)
        out[str(w)] = {d: float((predicted[:, j] == labels[:, j]).mean()) for j, d in enumerate(DESCRIPTORS)}
        steps.update()
    return {"n": int(len(labels)), "accuracy": out}


def _predict(model, classifier, z: np.ndarray) -> np.ndarray:
    """[n, 4] classes the independent classifier names for the mels decoded from z."""
    probs = classifier.probabilities(decode(model, z.astype(np.float32)))
    return np.stack([probs[d].argmax(axis=1) for d in DESCRIPTORS], axis=1)
