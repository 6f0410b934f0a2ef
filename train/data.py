"""Training data: one split of a dataset cache held in RAM as float32 tensors.

The cache is a float16 memory map; converting each batch on the fly would cost more than
the network's step on CPU, so a split is converted once, in chunks (no float64 or full
float16 copy in between). Batches are index gathers, which is why there are no loader
worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.prep.cache import NoteCache

_CHUNK = 256  # notes converted at a time


@dataclass
class Batch:
    mel: torch.Tensor  # [B, M, T] float32 in [0, 1]
    labels: dict[str, torch.Tensor]  # descriptor -> [B] int64
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # extra model inputs (paper 001: perturbed mels)

    def __len__(self) -> int:
        return len(self.mel)

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.mel.to(device),
            {d: y.to(device) for d, y in self.labels.items()},
            {k: x.to(device) for k, x in self.inputs.items()},
        )


class NoteDataset(Dataset):
    """The notes of one split: mels [n, M, T] float32 and labels [n, 4] (DESCRIPTORS order)."""

    def __init__(self, mels: torch.Tensor, labels: torch.Tensor):
        if len(mels) != len(labels):
            raise ValueError(f"{len(mels)} mels but {len(labels)} label rows")
        self.mels = mels
        self.labels = labels

    @classmethod
    def from_cache(cls, cache: NoteCache, split: str) -> NoteDataset:
        idx = cache.indices(split)
        if len(idx) == 0:
            raise ValueError(f"dataset cache {cache.root} has no notes in its {split!r} split")
        mels = torch.empty((len(idx), *cache.mels.shape[1:]), dtype=torch.float32)
        for start in range(0, len(idx), _CHUNK):
            part = idx[start : start + _CHUNK]
            mels[start : start + len(part)] = torch.from_numpy(np.asarray(cache.mels[part], dtype=np.float32))
        if not torch.isfinite(mels).all():
            raise ValueError(f"dataset cache {cache.root}: the {split!r} split holds non-finite mel values")
        return cls(mels, torch.from_numpy(cache.label_matrix(idx)))

    def __len__(self) -> int:
        return len(self.mels)

    def with_hidden_timbre(self, fraction: float, seed: int) -> NoteDataset:
        """The same notes with only `fraction` of each instrument's labels kept (paper 003's
        semi-supervised setting); the others are UNLABELLED."""
        from rtsynth.train.models.luo import hide_labels

        labels = self.labels.clone()
        column = DESCRIPTORS.index("timbre")
        labels[:, column] = hide_labels(labels[:, column], fraction, seed)
        return NoteDataset(self.mels, labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mels[i], self.labels[i]

    def batch(self, indices: torch.Tensor | list[int]) -> Batch:
        indices = torch.as_tensor(indices, dtype=torch.long)
        labels = self.labels[indices]
        return Batch(self.mels[indices], {d: labels[:, i] for i, d in enumerate(DESCRIPTORS)})


class PerturbedDataset(NoteDataset):
    """A split with paper 001's perturbed mels: each batch draws one of the bank's variants per
    note (`shifted`: pitch-shifted, `distorted`: timbre-distorted); with `dropout` (paper 002's
    PD baseline) a share of the notes gets its clean mel instead."""

    def __init__(self, mels: torch.Tensor, labels: torch.Tensor, rows: np.ndarray, bank, dropout: float = 0.0):
        super().__init__(mels, labels)
        self.rows, self.bank, self.dropout = rows, bank, dropout

    @classmethod
    def from_bank(cls, base: NoteDataset, cache: NoteCache, split: str, bank, dropout: float) -> PerturbedDataset:
        return cls(base.mels, base.labels, cache.indices(split), bank, dropout)

    def batch(self, indices: torch.Tensor | list[int]) -> Batch:
        plain = super().batch(indices)
        indices = torch.as_tensor(indices, dtype=torch.long)
        rows = self.rows[indices.numpy()]
        variant = torch.randint(self.bank.settings.variants, (len(rows),)).numpy()
        order = np.argsort(rows)  # memory maps read fastest in order
        inputs = {}
        for name, array in (("shifted", self.bank.envelope), ("distorted", self.bank.fine)):
            picked = np.empty((len(rows), *array.shape[2:]), np.float32)
            picked[order] = array[rows[order], variant[order]]
            inputs[name] = torch.from_numpy(picked)
        if self.dropout > 0:
            clean = torch.rand(len(rows)) < self.dropout
            for x in inputs.values():
                x[clean] = plain.mel[clean]
        return Batch(plain.mel, plain.labels, inputs)


def per_rank_batch_size(batch_size: int, world_size: int) -> int:
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} is not divisible by the {world_size} data-parallel processes")
    return batch_size // world_size


def train_batches(
    data: NoteDataset, batch_size: int, epoch: int, seed: int, rank: int = 0, world_size: int = 1
) -> Iterator[Batch]:
    """This process's shuffled batches of one epoch.

    The order depends only on (seed, epoch), so a resumed run sees exactly the batches an
    uninterrupted one would. `batch_size` is global; each process takes its share of it.
    """
    sampler: DistributedSampler[int] = DistributedSampler(
        data, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    order = list(sampler)
    step = per_rank_batch_size(batch_size, world_size)
    for start in range(0, len(order), step):
        yield data.batch(order[start : start + step])


def eval_batches(data: NoteDataset, batch_size: int, rank: int = 0, world_size: int = 1) -> Iterator[Batch]:
    """This process's disjoint share of the notes, in order, without padding.

    Validation sums over the shares of all processes, so the epoch mean covers every note
    exactly once (DistributedSampler would repeat notes to even the shares out).
    """
    order = torch.arange(rank, len(data), world_size)
    for start in range(0, len(order), batch_size):
        yield data.batch(order[start : start + batch_size])


def steps_per_epoch(n_notes: int, batch_size: int, world_size: int = 1) -> int:
    per_rank = -(-n_notes // world_size)
    step = per_rank_batch_size(batch_size, world_size)
    return -(-per_rank // step)
