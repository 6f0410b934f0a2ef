"""Train/validation/test splits, stratified by instrument, seeded and deterministic."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


def held_out_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """(validation, test) sizes for a group of n; at least one each once n >= 3, so every
    instrument is seen in validation and test."""
    n_val, n_test = (int(np.floor(n * f + 0.5)) for f in fractions[1:])
    if n >= 3:
        n_val, n_test = max(n_val, 1), max(n_test, 1)
    n_val = min(n_val, max(n - 1, 0))  # the training split keeps at least one
    return n_val, min(n_test, n - 1 - n_val) if n > 1 else 0


def stratified_split(groups: Sequence[str], fractions: tuple[float, float, float], seed: int) -> np.ndarray:
    """[N] int8 split (0 train, 1 val, 2 test) for items in a fixed order.

    Each group is shuffled by its own generator, seeded by (seed, group name): a group's
    split does not change when other groups are added or removed.
    """
    names = np.asarray(groups, dtype=object)
    split = np.zeros(len(names), dtype=np.int8)
    for name in sorted(set(names)):
        members = np.flatnonzero(names == name)
        rng = np.random.default_rng([seed, zlib.crc32(str(name).encode())])
        members = rng.permutation(members)
        n_val, n_test = held_out_counts(len(members), fractions)
        split[members[:n_val]] = 1
        split[members[n_val : n_val + n_test]] = 2
    return split
