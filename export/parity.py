"""Export-time parity: the ONNX decoder must decode what the torch decoder decodes.

Checked on random latents (batch 1, a small odd batch and batch 16, so the dynamic batch
axis is exercised) and on every class mean of every descriptor with the other latents at a
reference note, since those are the points the synth actually plays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rtsynth.errors import RtsynthError
from rtsynth.labels import STANDARD_LAYOUT, LatentLayout

DEFAULT_TOLERANCE = 1e-4
RANDOM_BATCHES = (1, 3, 16)
MAX_BATCH = 16


class ParityError(RtsynthError, RuntimeError):
    """The exported decoder disagrees with torch; the message lists where and by how much."""


@dataclass(frozen=True)
class ParityReport:
    max_abs_error: float
    worst_set: str
    n_latents: int
    tolerance: float
    errors: dict[str, float]  # latent set -> max abs error

    def to_dict(self) -> dict:
        return {
            "max_abs_error": self.max_abs_error,
            "worst_set": self.worst_set,
            "latents": self.n_latents,
            "tolerance": self.tolerance,
        }


def parity_latents(
    means: dict[str, np.ndarray], reference: dict[str, int], seed: int = 0, layout: LatentLayout = STANDARD_LAYOUT
) -> dict[str, np.ndarray]:
    """Named sets of z [n, layout size]: random N(0, I) batches, then each latent's class means
    swept with the other latents at their `reference` class mean."""
    rng = np.random.default_rng(seed)
    sets = {f"random batch {n}": rng.standard_normal((n, layout.size)).astype(np.float32) for n in RANDOM_BATCHES}
    slices = layout.slices()
    base = np.concatenate([means[d][reference[d]] for d in layout.names]).astype(np.float32)
    for d in layout.names:
        sweep = np.tile(base, (len(means[d]), 1))
        sweep[:, slices[d]] = means[d]
        sets[f"{d} class means"] = sweep
    return sets


def check_parity(
    torch_decode: Callable[[torch.Tensor], torch.Tensor],
    onnx_decode: Callable[[np.ndarray], np.ndarray],
    latents: dict[str, np.ndarray],
    tolerance: float = DEFAULT_TOLERANCE,
) -> ParityReport:
    """Max abs error of onnx_decode against torch_decode on every set; ParityError if any
    set exceeds `tolerance` (or the shapes differ)."""
    if not tolerance >= 0:
        raise ValueError(f"parity tolerance must be a non-negative number, got {tolerance}")
    errors = {name: _max_error(torch_decode, onnx_decode, z) for name, z in latents.items()}
    worst = max(errors, key=errors.__getitem__)
    report = ParityReport(errors[worst], worst, sum(len(z) for z in latents.values()), tolerance, errors)
    failed = {name: f"{e:.3g}" for name, e in errors.items() if not e <= tolerance}
    if failed:
        raise ParityError(
            f"the ONNX decoder differs from torch by more than {tolerance:g} (max abs error per "
            f"latent set: {failed}); the export is not used"
        )
    return report


def _max_error(torch_decode, onnx_decode, z: np.ndarray) -> float:
    errors = []
    for start in range(0, len(z), MAX_BATCH):
        batch = np.ascontiguousarray(z[start : start + MAX_BATCH], dtype=np.float32)
        with torch.no_grad():
            expected = torch_decode(torch.from_numpy(batch)).numpy()
        got = onnx_decode(batch)
        if got.shape != expected.shape:
            raise ParityError(
                f"the ONNX decoder returns shape {got.shape} for a batch of {len(batch)}, "
                f"torch returns {expected.shape}"
            )
        errors.append(np.max(np.abs(got - expected)))
    return float(np.max(errors))  # a NaN anywhere stays NaN and fails the check
