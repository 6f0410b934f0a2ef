"""Batched decoding of note plans: one onnxruntime call for every latent the plans need."""

from __future__ import annotations

import numpy as np

from rtsynth.engine.counters import Counters
from rtsynth.engine.notes import NotePlan, TimbreBlend, played_frames
from rtsynth.engine.synth import Runtime

SOUNDING_DB = 60.0  # frames this far under a key's loudest keep their own level
MAX_CHANGE_DB = 12.0  # the most a frame's level is moved


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
        out.append(finish_plan(runtime, plan, mels[start : start + len(plan.z)], stats))
        start += len(plan.z)
    return out


def finish_plan(runtime: Runtime, plan: NotePlan, keys: np.ndarray, stats: Counters) -> tuple[np.ndarray, float]:
    """A plan's decoded keys -> its parameters and peak level: levels between timbres, the
    length fit, then the runtime's assembly."""
    if plan.blend is not None:
        keys = level_of_blends(runtime, keys, plan.blend, stats)
    if plan.length is not None:
        fit = plan.length.ending_where(runtime.frame_levels_db(keys[plan.key_at(plan.length.source_end)]))
        keys = played_frames(keys, fit, runtime.amplitude_frames)
    return runtime.assemble(plan, keys)


def level_of_blends(runtime: Runtime, keys: np.ndarray, blend: TimbreBlend, stats: Counters) -> np.ndarray:
    """Keys between timbres with each frame's level set to the weighted dB mean of the same
    frame of their timbres' own keys (`TimbreBlend`); those are remembered per latent."""
    size = blend.corners.shape[-1]
    corners = [z.tobytes() for z in blend.corners.reshape(-1, size)]
    known = runtime.corner_levels  # one read: the other thread may replace it
    found = {z: known[z] for z in corners if z in known}
    missing = sorted(set(corners) - found.keys())
    if missing:
        latents = np.stack([np.frombuffer(z, dtype=np.float32) for z in missing])
        for z, params in zip(missing, runtime.decode(latents), strict=True):
            found[z] = runtime.remember_corner(z, runtime.frame_levels_db(params))
        stats.add("decodes", len(missing))
    levels = np.stack([found[z] for z in corners]).reshape(*blend.weights.shape, -1)  # [k, c, n_frames]
    target = (blend.weights[..., None] * levels).sum(axis=1)
    own = np.stack([runtime.frame_levels_db(key) for key in keys])
    sounding = own > own.max(axis=1, keepdims=True) - SOUNDING_DB  # a frame's fade-out is left alone
    change = np.where(sounding, np.clip(target - own, -MAX_CHANGE_DB, MAX_CHANGE_DB), 0.0)
    return np.stack([runtime.rescaled(key, db) for key, db in zip(keys, change, strict=True)])
