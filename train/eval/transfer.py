"""Timbre transfer by latent arithmetic (Luo et al., section 4.4).

z_T + alpha (mu_target - mu_source), the other latents unchanged, alpha = 0 .. 1; the
independent classifier's posterior for the target instrument should rise with alpha.
As in Luo et al., one representative instrument per family (its most frequent in the
test split) is transferred to every other representative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from rtsynth.labels import DESCRIPTORS, INSTRUMENT_BY_NAME
from rtsynth.train.eval.classmeans import ClassMeans
from rtsynth.train.eval.latents import SplitLatents, decode

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
TIMBRE = DESCRIPTORS.index("timbre")


@dataclass
class TransferResult:
    metrics: dict
    example_mels: np.ndarray | None  # [len(alphas), n_mels, n_frames] one note along alpha
    example_title: str


def pick_instruments(timbre_labels: np.ndarray, names: tuple[str, ...], allowed: np.ndarray, n: int = 4) -> list[int]:
    """Most frequent instrument of each family, then the most frequent others, up to n."""
    counts = np.bincount(timbre_labels, minlength=len(names))
    by_frequency = [int(c) for c in np.argsort(-counts, kind="stable") if counts[c] and allowed[c]]
    picked, families = [], set()
    for c in by_frequency:
        family = _family(names[c])
        if family not in families:
            picked.append(c)
            families.add(family)
    picked += [c for c in by_frequency if c not in picked]
    return picked[:n]


def _family(name: str) -> str:
    """An instrument's family; an instrument outside the TinySOL table is its own family."""
    return INSTRUMENT_BY_NAME[name].family if name in INSTRUMENT_BY_NAME else name


def timbre_transfer(
    model,
    classifier,
    test: SplitLatents,
    means: ClassMeans,
    names: tuple[str, ...],
    alphas=ALPHAS,
    n_per_source: int = 12,
    seed: int = 0,
) -> TransferResult:
    rng = np.random.default_rng(seed)
    instruments = pick_instruments(test.labels[:, TIMBRE], names, means.present["timbre"])
    pairs = [(s, t) for s in instruments for t in instruments if s != t]
    curves, hits, example = {}, {}, None
    for source, target in tqdm(pairs, desc="timbre transfer", leave=False):
        rows = np.flatnonzero(test.labels[:, TIMBRE] == source)
        rows = rng.choice(rows, size=min(n_per_source, len(rows)), replace=False)
        posterior, decoded = _transfer(model, classifier, test.subset(rows), means, source, target, alphas)
        key = f"{names[source]}->{names[target]}"
        curves[key] = posterior.mean(axis=1).tolist()
        hits[key] = (posterior > 0.5).mean(axis=1).tolist()
        if example is None:
            example = (decoded[:, 0], f"{names[source]} -> {names[target]}")
    mean_curve = np.mean(list(curves.values()), axis=0) if curves else np.array([])
    metrics = {
        "alphas": list(alphas),
        "instruments": [names[c] for c in instruments],
        "target_posterior_mean": mean_curve.tolist(),
        "monotonic": bool(len(mean_curve) and np.all(np.diff(mean_curve) >= 0)),
        "pairs_monotonic": float(np.mean([np.all(np.diff(c) >= 0) for c in curves.values()])) if curves else None,
        "per_pair_target_posterior": curves,
        "per_pair_target_above_half": hits,
    }
    return TransferResult(metrics, example[0] if example else None, example[1] if example else "")


def _transfer(model, classifier, notes: SplitLatents, means: ClassMeans, source: int, target: int, alphas):
    """Target posterior [len(alphas), n] and the decoded mels [len(alphas), n, ...]."""
    shift = means.means["timbre"][target] - means.means["timbre"][source]
    z = np.stack([notes.z() for _ in alphas])  # [A, n, layout size]
    z[:, :, model.layout.slices()["timbre"]] += np.asarray(alphas, np.float32)[:, None, None] * shift
    mels = decode(model, z.reshape(-1, z.shape[-1]))
    posterior = classifier.probabilities(mels)["timbre"][:, target]
    return posterior.reshape(len(alphas), len(notes)), mels.reshape(len(alphas), len(notes), *mels.shape[1:])
