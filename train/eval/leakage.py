"""Leakage matrix: how well each label can be read from each latent (Tanaka et al.).

A k-NN classifier (k = 5, as in the papers) is fitted on the training split's posterior
means of one latent and scored on the test split. k-NN needs no training or tuning, so it
reflects the geometry of the latent space itself: a disentangled model scores high on the
diagonal and near chance (the majority-class rate) off it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtsynth.labels import DESCRIPTORS


def chance_level(labels: np.ndarray) -> float:
    """Accuracy of always guessing the most frequent class of `labels`."""
    if not len(labels):
        raise ValueError("chance level of an empty label set")
    return float(np.bincount(labels).max() / len(labels))


def knn_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, k: int = 5) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=min(k, len(train_x)))
    knn.fit(train_x, train_y)
    return float((knn.predict(test_x) == test_y).mean())


@dataclass
class Leakage:
    matrix: np.ndarray  # [latent, label] k-NN test accuracy; labels in DESCRIPTORS order
    chance: np.ndarray  # [label] majority-class rate on the test split
    k: int
    latents: tuple[str, ...] = DESCRIPTORS  # the rows: the latents the model has

    def excess(self) -> np.ndarray:
        """Accuracy above chance, [latent, label]."""
        return self.matrix - self.chance[None, :]

    def _off_diagonal(self) -> np.ndarray:
        """A latent against another latent's label (labels without a latent in the model are not
        what it claims to separate)."""
        return np.array([[r != c and c in self.latents for c in DESCRIPTORS] for r in self.latents])

    def mean_off_diagonal_excess(self) -> float:
        return float(self.excess()[self._off_diagonal()].mean())

    def max_off_diagonal_excess(self) -> float:
        return float(self.excess()[self._off_diagonal()].max())

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "rows": "latent",
            "columns": "label",
            "order": list(DESCRIPTORS),
            "latents": list(self.latents),
            "accuracy": self.matrix.round(6).tolist(),
            "chance": self.chance.round(6).tolist(),
            "mean_off_diagonal_excess": self.mean_off_diagonal_excess(),
            "max_off_diagonal_excess": self.max_off_diagonal_excess(),
        }


def leakage_matrix(
    train_mu: dict[str, np.ndarray],
    train_labels: np.ndarray,
    test_mu: dict[str, np.ndarray],
    test_labels: np.ndarray,
    k: int = 5,
) -> Leakage:
    n = len(DESCRIPTORS)
    latents = tuple(d for d in DESCRIPTORS if d in train_mu)
    matrix = np.zeros((len(latents), n))
    for i, latent in enumerate(latents):
        for j in range(n):
            matrix[i, j] = knn_accuracy(train_mu[latent], train_labels[:, j], test_mu[latent], test_labels[:, j], k)
    chance = np.array([chance_level(test_labels[:, j]) for j in range(n)])
    return Leakage(matrix=matrix, chance=chance, k=k, latents=latents)
