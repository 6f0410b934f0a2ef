"""Per-MIDI-channel latent state and its smoothing over time.

A channel's "control vector" (timbre weights + latent offsets, see latent.py) moves along a
timeline, ramping whenever the timbre point or an offset changes. Timelines are immutable
values, so the render worker can be handed a channel's current one without a lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rtsynth.engine.latent import LatentSpace, TimbrePoint, offsets_vector
from rtsynth.labels import DESCRIPTORS, LATENT_DIMS

N_CHANNELS = 16


HISTORY_S = 30.0  # breakpoints older than this (longer than any note) are forgotten


@dataclass(frozen=True)
class Timeline:
    """A control vector over time: linear between breakpoints, constant before and after.

    Each move ramps from wherever the timeline is at its time, so moves scheduled ahead (an
    OSC bundle with timetags) all take effect in turn. A move dated before breakpoints that
    were scheduled earlier replaces them: events apply in the order they arrive.
    """

    times: np.ndarray  # [k], non-decreasing
    values: np.ndarray  # [k, dim]

    @staticmethod
    def still(value: np.ndarray) -> Timeline:
        return Timeline(np.zeros(1), np.asarray(value, dtype=np.float64)[None, :])

    @property
    def final(self) -> np.ndarray:
        final: np.ndarray = self.values[-1]
        return final

    def at(self, t: np.ndarray | float) -> np.ndarray:
        """Control vector(s) at time(s) t: [dim] for a scalar, [len(t), dim] for an array."""
        times = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if times.min() >= self.times[-1]:  # past its last move, the usual case: a new note's plan asks thrice
            rest: np.ndarray = self.values[-1] if np.ndim(t) == 0 else np.repeat(self.values[-1:], len(times), axis=0)
            return rest.copy()
        right = np.searchsorted(self.times, times, side="right")
        hi = np.minimum(right, len(self.times) - 1)
        lo = np.maximum(right - 1, 0)
        span = self.times[hi] - self.times[lo]
        weight = np.divide(times - self.times[lo], span, out=np.zeros_like(times), where=span > 0)
        out = self.values[lo] + np.clip(weight, 0.0, 1.0)[:, None] * (self.values[hi] - self.values[lo])
        control: np.ndarray = out[0] if np.ndim(t) == 0 else out
        return control

    def moved(self, target: np.ndarray, t: float, seconds: float) -> Timeline:
        """This timeline, then from time t a linear move to `target` over `seconds`."""
        keep = (self.times < t) & (self.times >= t - HISTORY_S)
        anchor = self.at(t)
        times = np.concatenate([self.times[keep], [t, t + max(0.0, seconds)]])
        values = np.concatenate([self.values[keep], [anchor, np.asarray(target, dtype=np.float64)]])
        return Timeline(times, values)

    def heading(self, t: float) -> np.ndarray:
        """Where the control is going at time t: the end of the move in progress (or its value)."""
        ahead = self.times[self.times >= t]
        return self.at(float(ahead[0]) if len(ahead) else t)

    def settled(self, t: float, within: float) -> Timeline:
        """This timeline with a move that ends within `within` s after t already done at t.

        A note struck while its channel ramps to a new timbre (`/timbre` then `/note` at once)
        starts as that timbre: the ramp is there to smooth the notes already sounding, and in a
        new note's attack it was heard as the old timbre, at the old timbre's level. Longer
        moves (a slow morph) are followed as they go."""
        ahead = self.times[self.times > t]
        if not len(ahead) or ahead[0] - t > within or np.array_equal(self.at(t), self.at(ahead[0])):
            return self
        before, after = self.times < t, self.times >= ahead[0]
        times = np.concatenate([self.times[before], [t], self.times[after]])
        return Timeline(times, np.concatenate([self.values[before], self.values[after][:1], self.values[after]]))

    def is_still(self, t0: float, t1: float) -> bool:
        """Whether the control is constant from t0 to t1."""
        inside = self.times[(self.times > t0) & (self.times < t1)]
        samples = self.at(np.concatenate([[t0, t1], inside]))
        return bool(np.all(samples == samples[0]))

    def breakpoints(self, t0: float, t1: float) -> np.ndarray:
        return self.times[(self.times > t0) & (self.times < t1)]


@dataclass
class ChannelState:
    point: TimbrePoint
    timeline: Timeline
    offsets: dict[str, np.ndarray] = field(default_factory=dict)

    @staticmethod
    def fresh(space: LatentSpace) -> ChannelState:
        return ChannelState.at_rest(TimbrePoint.default(space.n_timbres), space)

    @staticmethod
    def at_rest(point: TimbrePoint, space: LatentSpace, offsets: dict[str, np.ndarray] | None = None) -> ChannelState:
        """A state holding still at this point and these offsets."""
        offsets = {} if offsets is None else offsets
        return ChannelState(point, Timeline.still(_control(point, offsets, space)), offsets)

    def control(self, space: LatentSpace) -> np.ndarray:
        return _control(self.point, self.offsets, space)

    def timbre_z(self, space: LatentSpace) -> np.ndarray:
        """The timbre latent this state asks for: its class-mean mix plus its timbre offsets."""
        z = space.apply_control(np.zeros(space.layout.size), self.control(space))
        return z[space.slices["timbre"]].astype(np.float64)

    def retarget(self, space: LatentSpace, t: float, seconds: float) -> None:
        self.timeline = self.timeline.moved(self.control(space), t, seconds)

    def set_offset(self, space: LatentSpace, descriptor: str, values: tuple[float, ...], index: int | None) -> None:
        if not space.layout.has(descriptor):
            raise ValueError(space.layout.missing(descriptor))
        dims = space.layout.dim(descriptor)
        if not np.isfinite(values).all():
            raise ValueError(f"{descriptor} offsets must be finite numbers, got {values}")
        current = self.offsets.get(descriptor, np.zeros(dims)).copy()
        if index is None:
            if len(values) != dims:
                raise ValueError(f"{descriptor} offsets need {dims} values, got {len(values)}")
            current[:] = values
        else:
            if not 0 <= index < dims:
                raise ValueError(f"{descriptor} latent index {index} out of range 0-{dims - 1}")
            if len(values) != 1:
                raise ValueError(f"one value sets {descriptor}[{index}], got {len(values)}")
            current[index] = values[0]
        self.offsets[descriptor] = current

    def rebased(self, space: LatentSpace) -> ChannelState:
        """This state for another model: indices folded into its timbre count, no ramp."""
        n = space.n_timbres
        point = replace(self.point, cluster=self.point.cluster % n, corners=tuple(c % n for c in self.point.corners))
        offsets = {d: v for d, v in self.offsets.items() if space.layout.dim(d) == len(v)}  # what still fits
        return ChannelState.at_rest(point, space, offsets)

    def to_json(self, space: LatentSpace) -> dict[str, Any]:
        p, names = self.point, space.timbres
        return {
            "cluster": names[p.cluster],
            "corners": [names[c] for c in p.corners],
            "x": p.x,
            "y": p.y,
            "offsets": {d: [float(v) for v in self.offsets[d]] for d in DESCRIPTORS if d in self.offsets},
        }

    @staticmethod
    def from_json(data: dict[str, Any], space: LatentSpace) -> ChannelState:
        try:
            corners = tuple(space.timbre_index(_timbre_ref(c)) for c in data["corners"])
            if len(corners) != 4:
                raise ValueError(f"a preset needs 4 morph corners, got {len(corners)}")
            x, y = data.get("x"), data.get("y")
            point = TimbrePoint(
                space.timbre_index(_timbre_ref(data["cluster"])),
                corners,
                None if x is None else float(x),
                None if y is None else float(y),
            )
            state = ChannelState.at_rest(point, space)
            for descriptor, values in data.get("offsets", {}).items():
                if descriptor not in LATENT_DIMS:
                    raise ValueError(f"unknown descriptor {descriptor!r} in preset offsets")
                state.set_offset(space, descriptor, tuple(float(v) for v in values), None)
        except (KeyError, TypeError) as err:
            raise ValueError(f"preset channel state is malformed: {err!r}") from None
        state.timeline = Timeline.still(state.control(space))
        return state


def _control(point: TimbrePoint, offsets: dict[str, np.ndarray], space: LatentSpace) -> np.ndarray:
    return np.concatenate([point.weights(space.n_timbres), offsets_vector(offsets, space.layout)])


def _timbre_ref(value: object) -> str | int:
    """Presets name timbres; indices (from hand-written presets) are accepted too."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise ValueError(f"a timbre in a preset must be a name or an index, got {value!r}")
