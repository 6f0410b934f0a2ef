"""Held notes' first frames read ahead, so that a never-rendered note starts without a decode.

A new note waits for its first two frames, decoded alone and read: about 1 ms of a 2.67 ms block
once the worker has sat idle between notes, where a cached note waits for none. A held note's
latent at a timbre and key moves in a line with velocity between two dynamics classes, so in
idle time the live worker reads each timbre's keys at a few velocities along those lines; a note
struck there plays its head from the two nearest its velocity, blended, and fades into its own
frames once its whole decode is read (`direct.HarmonicHead`). With four steps between classes
the blend is within 0.7 dB of the note's own first frames.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rtsynth.engine.latent import LatentSpace

VELOCITY_STEPS = 4  # grid points per stretch between two dynamics classes
Z_MATCH = 1e-5  # how far a note's latent may lie from the grid's line (float rounding only)


@dataclass(frozen=True)
class HeadRow:
    """One timbre and key: held notes' latents at the grid's velocities and their first frames."""

    z: np.ndarray  # [points, latent size]
    params: np.ndarray  # [points, rows, head frames], as the runtime reads them (before voicing)


def velocity_grid(space: LatentSpace) -> np.ndarray:
    """The dynamics classes' velocities and VELOCITY_STEPS − 1 evenly between each two."""
    v = space.dynamics_velocity
    steps = [np.linspace(v[i], v[i + 1], VELOCITY_STEPS + 1)[:-1] for i in range(len(v) - 1)]
    out: np.ndarray = np.concatenate([*steps, v[-1:]])
    return out


class HeadTable:
    """Rows read one per `fill_step` (the worker's main loop), every timbre × `keys`, a timbre
    that a note found missing (the note-start thread) first. `read_first`: latents [k, size] ->
    their first frames read [k, rows, head frames]."""

    def __init__(self, space: LatentSpace, read_first: Callable[[np.ndarray], np.ndarray], keys: range):
        self.space, self.read_first = space, read_first
        self.velocities = velocity_grid(space)
        self.rows: dict[tuple[int, int], HeadRow] = {}
        self._keys = [collections.deque(keys) for _ in range(space.n_timbres)]  # each timbre's keys not read
        self._wanted: collections.deque[int] = collections.deque(maxlen=space.n_timbres)
        timbre = space.slices["timbre"]
        self._timbres = {self._row_z(t, keys.start)[0][timbre].tobytes(): t for t in range(space.n_timbres)}

    def _row_z(self, timbre: int, note: int) -> np.ndarray:
        """A held note's latents at the grid's velocities, as `plan_note` makes them on a channel
        resting at this timbre."""
        control = np.zeros(self.space.control_size)
        control[timbre] = 1.0
        bases = np.stack([self.space.note_base(note, float(v), None, control)[0] for v in self.velocities])
        return self.space.apply_control(bases, np.broadcast_to(control, (len(bases), len(control))))

    def fill_step(self) -> bool:
        """Read the next row; False when every row is read."""
        wanted = [t for t in list(self._wanted) if self._keys[t]]  # list(): one step, whatever the other thread appends
        timbre = wanted[-1] if wanted else next((t for t, keys in enumerate(self._keys) if keys), None)
        if timbre is None:
            return False
        note = self._keys[timbre].popleft()
        z = self._row_z(timbre, note)
        self.rows[(timbre, note)] = HeadRow(z, self.read_first(z))
        return True

    def first(self, z: np.ndarray, note: int, velocity: float) -> np.ndarray | None:
        """The first frames [rows, head frames] of a held note with latent z [size] at this key
        and velocity, blended between the grid's two nearest; None where the table cannot say
        (another latent: a morph, an offset, a length; or its row is not read yet)."""
        timbre = self._timbres.get(z[self.space.slices["timbre"]].tobytes())
        if timbre is None:
            return None
        row = self.rows.get((timbre, note))
        if row is None:
            self._wanted.append(timbre)  # read its keys next: it is being played
            return None
        v = self.velocities
        at = float(np.interp(velocity, v, np.arange(len(v))))
        lo = min(int(at), len(v) - 2) if len(v) > 1 else 0
        hi, t = min(lo + 1, len(v) - 1), at - lo
        if not np.allclose(z, (1 - t) * row.z[lo] + t * row.z[hi], rtol=0.0, atol=Z_MATCH):
            return None
        out: np.ndarray = ((1 - t) * row.params[lo] + t * row.params[hi]).astype(np.float32)
        return out
