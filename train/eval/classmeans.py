"""Where each class sits in its latent, and how far generation may stray from it.

Gaussian-mixture variants carry a learned mean per class (the prior component) and a fixed
prior variance; their class means and spreads are those of Luo et al.'s sampling. Unimodal
variants have no such means, so the class centroids of the training posterior means stand
in, with the per-dimension within-class standard deviation of those means as the spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.eval.latents import SplitLatents


@dataclass
class ClassMeans:
    means: dict[str, np.ndarray]  # descriptor -> [K, d]
    sigma: dict[str, np.ndarray]  # descriptor -> [K, d] standard deviation for the spread w
    present: dict[str, np.ndarray]  # descriptor -> [K] bool: class seen in the training split
    source: str  # "prior" (GM component means, prior sigma) or "centroid" (training posterior means)

    def sigma_description(self) -> str:
        if self.source == "prior":
            return "the fixed standard deviation of the Gaussian-mixture prior component"
        return "the per-dimension within-class standard deviation of the training posterior means"


def class_means(model, train: SplitLatents, vocab_sizes: dict[str, int], use_prior: bool = True) -> ClassMeans:
    """The prior's means where the model has them and `use_prior`, else the training centroids."""
    present = {d: np.bincount(train.labels[:, j], minlength=vocab_sizes[d]) > 0 for j, d in enumerate(DESCRIPTORS)}
    names = model.layout.names  # the latents the model has
    prior = model.prior_means() if use_prior else None
    if prior is not None:
        means = {d: prior[d].detach().cpu().numpy().astype(np.float32) for d in names}
        sigma = {d: np.full_like(means[d], model.prior_sigma(d)) for d in names}
        return ClassMeans(means, sigma, present, "prior")
    means, sigma = {}, {}
    for d in names:
        j = DESCRIPTORS.index(d)
        means[d], sigma[d] = _centroids(train.mu[d], train.labels[:, j], vocab_sizes[d])
    return ClassMeans(means, sigma, present, "centroid")


def _centroids(z: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class centroids and within-class stds; classes with one note get the pooled std."""
    classes, counts = np.unique(labels, return_counts=True)
    spread = [z[labels == c].var(axis=0) for c in classes[counts > 1]]
    pooled = np.sqrt(np.mean(spread, axis=0)) if spread else z.std(axis=0)
    means = np.full((n_classes, z.shape[1]), np.nan, dtype=np.float32)
    sigma = np.tile(pooled.astype(np.float32), (n_classes, 1))
    for c in classes:
        members = z[labels == c]
        means[c] = members.mean(axis=0)
        if len(members) > 1:
            sigma[c] = members.std(axis=0)
    return means, sigma
