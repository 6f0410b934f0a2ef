"""Report figures (matplotlib, Agg): reconstructions, interpolations (Fig. 5), sweeps (Fig. 6),
the leakage heatmap, controllability bars and timbre-transfer curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtsynth.labels import DESCRIPTORS, LATENT_DIMS, latent_slices
from rtsynth.train.eval.latents import SplitLatents, decode
from rtsynth.train.eval.names import SYMBOL, class_name

ALPHAS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def note_title(vocab, labels: np.ndarray) -> str:
    return " ".join(class_name(vocab, d, int(labels[j])) for j, d in enumerate(DESCRIPTORS))


def spectrogram_grid(mels: np.ndarray, row_titles, col_titles, title: str, path: Path) -> Path:
    """mels [rows, cols, n_mels, n_frames] in [0, 1], low frequencies at the bottom."""
    import matplotlib.pyplot as plt

    rows, cols = mels.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols + 0.8, 2.0 * rows + 0.6), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(mels[r, c], origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and col_titles[c]:
                ax.set_title(col_titles[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def reconstructions(model, cache, test: SplitLatents, rows: np.ndarray, path: Path) -> Path:
    from rtsynth.train.eval.latents import load_mels

    originals = load_mels(cache, test.indices[rows])
    recon = decode(model, test.z()[rows])
    titles = [note_title(cache.vocab, test.labels[r]) for r in rows]
    return spectrogram_grid(
        np.stack([originals, recon]), ["original", "decode(mu)"], titles, "Test notes and their reconstructions", path
    )


def interpolation(model, vocab, test: SplitLatents, pair: tuple[int, int], path: Path) -> Path:
    """Rows: interpolate all of z_S, then each z_xi alone (others from note 1), as paper Fig. 5."""
    z = test.z()
    z1, z2 = z[pair[0]], z[pair[1]]
    grids = []
    for part in (None, *DESCRIPTORS):
        where = slice(None) if part is None else latent_slices()[part]
        row = np.repeat(z1[None], len(ALPHAS), axis=0)
        for k, a in enumerate(ALPHAS):
            row[k, where] = (1 - a) * z1[where] + a * z2[where]
        grids.append(row)
    mels = decode(model, np.concatenate(grids))
    mels = mels.reshape(len(grids), len(ALPHAS), *mels.shape[1:])
    first, second = (note_title(vocab, test.labels[i]) for i in pair)
    title = f"Interpolation, note 1 = {first}, note 2 = {second}"
    return spectrogram_grid(
        mels, ["z_S"] + [f"z_{SYMBOL[d]} only" for d in DESCRIPTORS], [f"alpha={a:g}" for a in ALPHAS], title, path
    )


def sweeps(model, vocab, test: SplitLatents, row: int, descriptor: str, path: Path) -> Path:
    """Each dimension of one latent replaced by alpha, everything else kept (paper Fig. 6)."""
    z = test.z()[row]
    start = latent_slices()[descriptor].start
    dims = LATENT_DIMS[descriptor]
    grid = np.repeat(z[None, None], dims * len(ALPHAS), axis=0).reshape(dims, len(ALPHAS), -1)
    for i in range(dims):
        grid[i, :, start + i] = ALPHAS
    mels = decode(model, grid.reshape(-1, z.shape[0]))
    mels = mels.reshape(dims, len(ALPHAS), *mels.shape[1:])
    title = f"Single-dimension sweeps of z_{SYMBOL[descriptor]}, note {note_title(vocab, test.labels[row])}"
    return spectrogram_grid(
        mels, [f"z_{SYMBOL[descriptor]},{i}" for i in range(dims)], [f"value={a:g}" for a in ALPHAS], title, path
    )


def leakage_heatmap(matrix: np.ndarray, chance: np.ndarray, k: int, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
    names = [SYMBOL[d] for d in DESCRIPTORS]
    ax.set_xticks(range(len(names)), [f"{n}\n(chance {c:.2f})" for n, c in zip(names, chance)], fontsize=8)
    ax.set_yticks(range(len(names)), [f"z_{n}" for n in names])
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                f"{matrix[i, j]:.2f}",
                ha="center",
                va="center",
                color="white" if matrix[i, j] > 0.6 else "black",
                fontsize=10,
            )
    ax.set_xlabel("label")
    ax.set_ylabel("latent")
    ax.set_title(f"{k}-NN test accuracy of each label from each latent", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def controllability_bars(control: dict, real_accuracy: dict | None, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.8, 3.6))
    x = np.arange(len(DESCRIPTORS))
    width = 0.8 / len(control["spreads"])
    for k, w in enumerate(control["spreads"]):
        values = [control["single"][d][str(w)]["asked"] for d in DESCRIPTORS]
        ax.bar(x + (k - (len(control["spreads"]) - 1) / 2) * width, values, width, label=f"w={w:g}")
    if real_accuracy:
        ax.plot(
            x, [real_accuracy[d] for d in DESCRIPTORS], "k_", markersize=30, mew=2, label="classifier on real test mels"
        )
    ax.set_xticks(x, [SYMBOL[d] for d in DESCRIPTORS])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy of what was asked for")
    ax.set_title("Controllability: one latent set to a class mean + w*sigma*eps", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def transfer_curves(transfer: dict, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    alphas = transfer["alphas"]
    for curve in transfer["per_pair_target_posterior"].values():
        ax.plot(alphas, curve, color="0.75", linewidth=0.8)
    ax.plot(alphas, transfer["target_posterior_mean"], "o-", color="C3", linewidth=2, label="mean over pairs")
    ax.set_xlabel("alpha in z_T + alpha (mu_target - mu_source)")
    ax.set_ylabel("classifier posterior of the target")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Timbre transfer among {', '.join(transfer['instruments'])}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
