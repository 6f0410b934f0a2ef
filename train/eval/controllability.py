"""Controllability in the mel domain and through audio (Luo et al. section 4.3).

A class is asked for by placing its latent at the class mean plus a spread,
z_xi = mu_class + w * sigma * eps with w in {0, 0.5, 1}; the mel decoded from it is named
by the independent classifier, and we count how often it names what was asked for.

Two protocols:
- single: one descriptor is set to a class different from the reference note's own, the
  other three latents stay the reference's posterior means. "kept" is how often the
  classifier still names the reference's labels for those three.
- joint: all four latents come from the class means of a test note's labels (Luo et al.
  samples every factor from its mixture component).

Every generated note is named in each domain by one code path (`Judge`): "mel" names the
decoded mel; "audio" (given an AudioRoute) names the mel prep makes of the note's vocoded
audio, which is what a listener gets. A note whose audio prep rejects as silent is named
UNHEARD, so it is wrong for every descriptor, and is counted ("silent").
"""

from __future__ import annotations

import logging

import numpy as np
from tqdm import tqdm

from rtsynth.labels import DESCRIPTORS, latent_slices
from rtsynth.train.eval.classmeans import ClassMeans
from rtsynth.train.eval.latents import SplitLatents, decode
from rtsynth.train.eval.through_audio import AudioRoute

log = logging.getLogger(__name__)

SPREADS = (0.0, 0.5, 1.0)
UNHEARD = -1  # the "class" named for a note with no usable audio: never what was asked for


class Judge:
    """Names generated notes in every domain; the decoder runs once for all of them."""

    def __init__(self, model, classifier, audio: AudioRoute | None = None):
        self.model, self.classifier, self.audio = model, classifier, audio
        self.domains = ("mel", "audio") if audio is not None else ("mel",)

    def __call__(self, z: np.ndarray, asked: np.ndarray) -> dict[str, np.ndarray]:
        """Latents [n, 20] asking for labels [n, 4] -> domain -> [n, 4] named classes."""
        return self.name(decode(self.model, z.astype(np.float32)), asked)

    def name(self, mels: np.ndarray, asked: np.ndarray) -> dict[str, np.ndarray]:
        """As __call__, from mels already decoded (the asked timbre and dynamics set the level
        the audio is played at)."""
        named = {"mel": _classify(self.classifier, mels)}
        if self.audio is not None:
            heard, heard_mels = self.audio.reanalyse(mels, asked)
            named["audio"] = np.full((len(mels), len(DESCRIPTORS)), UNHEARD, dtype=np.int64)
            if heard.any():
                named["audio"][heard] = _classify(self.classifier, heard_mels)
        return named


def controllability(
    model,
    classifier,
    test: SplitLatents,
    means: ClassMeans,
    spreads=SPREADS,
    n_refs: int = 48,
    seed: int = 0,
    audio: AudioRoute | None = None,
) -> dict:
    """Both protocols at every spread; the mel-domain results at the top level, and with an
    audio route the same results through audio under "through_audio"."""
    rng = np.random.default_rng(seed)
    refs = test.subset(np.sort(rng.choice(len(test), size=min(n_refs, len(test)), replace=False)))
    judge = Judge(model, classifier, audio)
    steps = tqdm(total=(len(DESCRIPTORS) + 1) * len(spreads), desc="controllability", leave=False)
    single = {d: _single(judge, refs, means, j, spreads, rng, steps) for j, d in enumerate(DESCRIPTORS)}
    joint = _joint(judge, refs, means, spreads, rng, steps)
    steps.close()
    per_domain = {
        domain: {"single": {d: single[d][domain] for d in DESCRIPTORS}, "joint": joint[domain]}
        for domain in judge.domains
    }
    result = {
        "spreads": list(spreads),
        "class_means": means.source,
        "sigma": means.sigma_description(),
        "n_refs": len(refs),
        **per_domain["mel"],
    }
    if audio is not None:
        summary = audio.summary()
        result["through_audio"] = {**summary, **per_domain["audio"]}
        log.info(
            "controllability through audio: %d of %d generated notes silent after the %s vocoder %s",
            summary["silent"],
            summary["notes"],
            summary["vocoder"],
            summary["silent_reasons"] or "",
        )
    return result


def _single(judge: Judge, refs: SplitLatents, means: ClassMeans, j: int, spreads, rng, steps) -> dict:
    """domain -> spread -> {asked, kept, silent} with descriptor j moved to another class."""
    name = DESCRIPTORS[j]
    candidates = np.flatnonzero(means.present[name])
    asked = refs.labels.copy()
    asked[:, j] = [_other_class(candidates, own, rng) for own in refs.labels[:, j]]
    eps = rng.standard_normal((len(refs), means.means[name].shape[1])).astype(np.float32)
    out: dict[str, dict[str, dict[str, float]]] = {domain: {} for domain in judge.domains}
    for w in spreads:
        z = refs.z()
        z[:, latent_slices()[name]] = means.means[name][asked[:, j]] + w * means.sigma[name][asked[:, j]] * eps
        for domain, named in judge(z, asked).items():
            out[domain][str(w)] = _single_scores(named, asked, j)
        steps.update()
    return out


def _single_scores(named: np.ndarray, asked: np.ndarray, j: int) -> dict[str, float]:
    right = named == asked
    others = [k for k in range(len(DESCRIPTORS)) if k != j]
    return {"asked": float(right[:, j].mean()), "kept": float(right[:, others].mean()), "silent": silent_count(named)}


def _other_class(candidates: np.ndarray, own: int, rng) -> int:
    """A class seen in training other than the reference's own (its own if it is the only one)."""
    choices = candidates[candidates != own]
    return int(rng.choice(choices)) if len(choices) else int(own)


def _joint(judge: Judge, refs: SplitLatents, means: ClassMeans, spreads, rng, steps) -> dict:
    """domain -> {n, accuracy: spread -> descriptor -> accuracy (None without notes), silent}."""
    seen = np.all([means.present[d][refs.labels[:, j]] for j, d in enumerate(DESCRIPTORS)], axis=0)
    asked = refs.labels[seen]
    eps = {d: rng.standard_normal((len(asked), means.means[d].shape[1])).astype(np.float32) for d in DESCRIPTORS}
    scores: dict[str, dict[str, dict[str, float] | None]] = {domain: {} for domain in judge.domains}
    silent: dict[str, dict[str, int]] = {domain: {} for domain in judge.domains}
    for w in spreads:
        z = np.concatenate(
            [means.means[d][asked[:, j]] + w * means.sigma[d][asked[:, j]] * eps[d] for j, d in enumerate(DESCRIPTORS)],
            axis=1,
        )
        named = judge(z, asked) if len(asked) else dict.fromkeys(judge.domains)
        for domain, predicted in named.items():
            scores[domain][str(w)] = None if predicted is None else accuracy(predicted, asked)
            silent[domain][str(w)] = 0 if predicted is None else silent_count(predicted)
        steps.update()
    return {domain: {"n": len(asked), "accuracy": scores[domain], "silent": silent[domain]} for domain in judge.domains}


def accuracy(named: np.ndarray, asked: np.ndarray) -> dict[str, float]:
    """Per descriptor, the share of notes named what they asked for (UNHEARD never is)."""
    return {d: float((named[:, j] == asked[:, j]).mean()) for j, d in enumerate(DESCRIPTORS)}


def silent_count(named: np.ndarray) -> int:
    return int((named == UNHEARD).all(axis=1).sum())


def _classify(classifier, mels: np.ndarray) -> np.ndarray:
    """[n, 4] classes the independent classifier names for mels [n, n_mels, n_frames]."""
    probs = classifier.probabilities(mels)
    return np.stack([probs[d].argmax(axis=1) for d in DESCRIPTORS], axis=1)
