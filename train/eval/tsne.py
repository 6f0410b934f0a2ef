"""t-SNE of each latent, coloured by its own label and by the other three (paper Figs. 3-4).

Row = latent, column = the label that colours it: a disentangled model shows clusters on
the diagonal and colour noise off it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.eval.names import SYMBOL, class_name

COLOURMAP = {"timbre": "tab20", "pitch": "viridis", "dynamics": "coolwarm", "duration": "plasma"}


def embed(z: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(z) - 1) / 3)))
    # 500 iterations: the layout has settled by then, and it halves the time of the default 1000
    return TSNE(n_components=2, perplexity=perplexity, init="pca", max_iter=500, random_state=seed).fit_transform(z)


def tsne_figure(mu: dict[str, np.ndarray], labels: np.ndarray, vocab, path: Path, seed: int = 0) -> Path:
    import matplotlib.pyplot as plt

    n = len(DESCRIPTORS)
    fig, axes = plt.subplots(n, n, figsize=(3.2 * n, 3.0 * n + 0.8), squeeze=False)
    for i, latent in enumerate(DESCRIPTORS):
        xy = embed(mu[latent], seed)
        for j, label in enumerate(DESCRIPTORS):
            ax = axes[i, j]
            points = ax.scatter(
                xy[:, 0],
                xy[:, 1],
                c=labels[:, j],
                s=5,
                cmap=COLOURMAP[label],
                vmin=0,
                vmax=max(len(vocab.classes(label)) - 1, 1),
                linewidths=0,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"coloured by {SYMBOL[label]} ({label})", fontsize=10)
            if j == 0:
                ax.set_ylabel(f"z_{SYMBOL[latent]}", fontsize=12)
            if i == n - 1:
                _colour_key(fig, ax, points, vocab, label)
    fig.suptitle("t-SNE of posterior means: rows = latent, columns = colouring label", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _colour_key(fig, ax, points, vocab, label: str) -> None:
    """Horizontal colour bar under a column, with a few class names as ticks."""
    classes = vocab.classes(label)
    bar = fig.colorbar(points, ax=ax, orientation="horizontal", fraction=0.08, pad=0.04)
    ticks = np.unique(np.linspace(0, len(classes) - 1, min(len(classes), 5)).round().astype(int))
    bar.set_ticks(ticks)
    bar.set_ticklabels([class_name(vocab, label, int(t)) for t in ticks], fontsize=7)
