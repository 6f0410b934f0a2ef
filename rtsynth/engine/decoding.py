"""Batched decoding of note plans: one onnxruntime call for every latent the plans need."""

from __future__ import annotations

import numpy as np

from rtsynth.engine.counters import Counters
from rtsynth.engine.notes import NotePlan
from rtsynth.engine.synth import Runtime


def decode_plans(runtime: Runtime, plans: list[NotePlan], stats: Counters) -> list[tuple[np.ndarray, float]]:
    """Each plan's parameters (a mel, or synthesis frames) and peak level; each distinct latent decoded once."""
    if not plans:
        return []
    z = np.concatenate([p.z for p in plans])
    if len(z) == 1:  # the common case, a single static note: nothing to share
        mels, decodes = runtime.decode(z), 1
    else:  # a key shared by notes or moves: one decode
        unique, inverse = np.unique(z, axis=0, return_inverse=True)
        mels, decodes = runtime.decode(unique)[inverse.reshape(-1)], len(unique)
    stats.add("decodes", decodes)
    out, start = [], 0
    for plan in plans:
        out.append(runtime.assemble(plan, mels[start : start + len(plan.z)]))
        start += len(plan.z)
    return out
