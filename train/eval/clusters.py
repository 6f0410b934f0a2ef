"""Denseness and divergence of latent clusters (Tanaka et al., metric learning).

Denseness: mean over classes of the mean Euclidean distance of a class's latents to the
class centroid (lower = tighter clusters). Divergence: mean Euclidean distance over all
pairs of class centroids (higher = classes further apart). Both scale with the latent, so
the ratio divergence / denseness is reported too as a scale-free summary.
"""

from __future__ import annotations

import numpy as np

from rtsynth.labels import DESCRIPTORS


def centroids(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[M, d] centroid of every class present in `labels` (sorted by class index)."""
    return np.stack([z[labels == c].mean(axis=0) for c in np.unique(labels)])


def denseness(z: np.ndarray, labels: np.ndarray) -> float:
    per_class = [np.linalg.norm(z[labels == c] - z[labels == c].mean(axis=0), axis=1).mean() for c in np.unique(labels)]
    return float(np.mean(per_class))


def divergence(z: np.ndarray, labels: np.ndarray) -> float | None:
    """None when fewer than two classes are present (no pair to measure)."""
    eta = centroids(z, labels)
    m = len(eta)
    if m < 2:
        return None
    distances = np.linalg.norm(eta[:, None, :] - eta[None, :, :], axis=2)
    return float(distances[np.triu_indices(m, k=1)].mean())


def cluster_stats(mu: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict]:
    """Each latent the model has against its own label: denseness, divergence and their ratio."""
    out = {}
    for j, name in enumerate(DESCRIPTORS):
        if name not in mu:
            continue
        dense = denseness(mu[name], labels[:, j])
        div = divergence(mu[name], labels[:, j])
        ratio = None if div is None or dense == 0 else div / dense
        out[name] = {
            "denseness": dense,
            "divergence": div,
            "ratio": ratio,
            "classes": len(np.unique(labels[:, j])),
        }
    return out
