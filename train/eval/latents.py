"""Posterior means of a split, with the model's own predictions and reconstruction error.

Evaluation reads the posterior mean mu and never a sample: the reference code sampled at
test time, which made its reported accuracies depend on the random draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from rtsynth.labels import DESCRIPTORS, latent_slices


@dataclass
class SplitLatents:
    indices: np.ndarray  # [n] cache indices of the notes
    mu: dict[str, np.ndarray]  # descriptor -> [n, d] posterior means
    labels: np.ndarray  # [n, 4] class indices in DESCRIPTORS order
    predicted: np.ndarray | None = None  # [n, 4] argmax of the model's own classifiers on mu
    recon_mse: np.ndarray | None = None  # [n] MSE of decode(mu) against the [0, 1] mel

    def __len__(self) -> int:
        return len(self.indices)

    def z(self) -> np.ndarray:
        """The concatenated latents [n, layout size], as the decoder takes it."""
        return concat_latents(self.mu)

    def own_predictions(self) -> np.ndarray:
        """`predicted`, which a split encoded with with_outputs=True has."""
        if self.predicted is None:
            raise ValueError("the model's own predictions need a split encoded with with_outputs=True")
        return self.predicted

    def recon_errors(self) -> np.ndarray:
        """`recon_mse`, which a split encoded with with_outputs=True has."""
        if self.recon_mse is None:
            raise ValueError("reconstruction errors need a split encoded with with_outputs=True")
        return self.recon_mse

    def subset(self, rows: np.ndarray) -> SplitLatents:
        return SplitLatents(
            indices=self.indices[rows],
            mu={d: m[rows] for d, m in self.mu.items()},
            labels=self.labels[rows],
            predicted=None if self.predicted is None else self.predicted[rows],
            recon_mse=None if self.recon_mse is None else self.recon_mse[rows],
        )


def concat_latents(mu: dict[str, np.ndarray]) -> np.ndarray:
    """The latents present in `mu`, in DESCRIPTORS order: the decoder's z."""
    return np.concatenate([mu[d] for d in DESCRIPTORS if d in mu], axis=1)


def split_latents(z: np.ndarray) -> dict[str, np.ndarray]:
    return {d: z[:, s] for d, s in latent_slices().items()}


def subsample(indices: np.ndarray, limit: int, rng) -> np.ndarray:
    """At most `limit` of `indices`, drawn at random, in their order."""
    return indices if len(indices) <= limit else np.sort(rng.choice(indices, size=limit, replace=False))


def load_mels(cache, indices: np.ndarray) -> np.ndarray:
    """float32 [n, n_mels, n_frames] from the memory-mapped float16 cache."""
    order = np.argsort(indices)
    mels = np.empty((len(indices), *cache.mels.shape[1:]), dtype=np.float32)
    mels[order] = cache.mels[indices[order]]
    return mels


def batched(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


@torch.no_grad()
def encode_split(
    model, cache, indices: np.ndarray, batch_size: int = 32, with_outputs: bool = False, desc: str = "encode"
) -> SplitLatents:
    """Posterior means for `indices`; with_outputs adds classifier predictions and recon MSE."""
    indices = np.asarray(indices, dtype=np.int64)
    names = model.layout.names  # the latents the model has
    mus: dict[str, list] = {d: [] for d in names}
    predicted, mse = [], []
    for rows in tqdm(list(batched(len(indices), batch_size)), desc=desc, leave=False, unit="batch"):
        mel = torch.from_numpy(load_mels(cache, indices[rows]))
        posterior = model.encode(mel)
        mu = {d: posterior[d][0] for d in names}
        for d in names:
            mus[d].append(mu[d].numpy())
        if with_outputs:
            logits = model.classify(mu)
            unknown = np.full(len(mel), -1)  # a descriptor the model does not predict
            predicted.append(
                np.stack([logits[d].argmax(dim=1).numpy() if d in logits else unknown for d in DESCRIPTORS], axis=1)
            )
            recon = model.decode(torch.cat([mu[d] for d in names], dim=1))
            mse.append(((recon - mel) ** 2).flatten(1).mean(dim=1).numpy())
    if not len(indices):
        raise ValueError(f"{desc}: no notes to encode (is this split empty in the cache?)")
    return SplitLatents(
        indices=indices,
        mu={d: np.concatenate(mus[d]) for d in names},
        labels=cache.label_matrix(indices),
        predicted=np.concatenate(predicted) if predicted else None,
        recon_mse=np.concatenate(mse) if mse else None,
    )


@dataclass(frozen=True)
class EvalSplits:
    """What every evaluation measures on: the test split with the model's own outputs, and a
    seeded subsample of the training split (k-NN fits, class centroids)."""

    test: SplitLatents
    train: SplitLatents
    train_total: int  # notes in the training split, of which `train` is a sample

    def counts(self) -> dict[str, int]:
        return {"test": len(self.test), "train_used": len(self.train), "train_total": self.train_total}


def encode_splits(model, cache, max_train_notes: int, rng) -> EvalSplits:
    train_all = cache.indices("train")
    train = encode_split(model, cache, subsample(train_all, max_train_notes, rng), desc="encode train")
    test = encode_split(model, cache, cache.indices("test"), with_outputs=True, desc="encode test")
    return EvalSplits(test=test, train=train, train_total=len(train_all))


@torch.no_grad()
def decode(model, z: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Mels [n, n_mels, n_frames] in [0, 1] decoded from z [n, layout size]."""
    out = [
        model.decode(torch.from_numpy(np.ascontiguousarray(z[rows], dtype=np.float32))).numpy()
        for rows in batched(len(z), batch_size)
    ]
    return np.concatenate(out)
