"""Table I of Dal Rí et al.: test accuracy of the model's own classifiers and the recon MSE."""

from __future__ import annotations

import numpy as np

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.eval.latents import SplitLatents


def table_one(test: SplitLatents) -> dict:
    """Accuracy of C_T, C_P, C_V, C_D on posterior means, and MSE of decode(mu) on the [0, 1] mel."""
    predicted = test.own_predictions()
    accuracy = {d: float((predicted[:, j] == test.labels[:, j]).mean()) for j, d in enumerate(DESCRIPTORS)}
    return {"accuracy": accuracy, "recon_mse": float(np.mean(test.recon_errors())), "n_test": len(test)}
