"""Every MIDI channel's timbre point and latent offsets, and the moves between them.

The controller owns one of these and applies timbre events to it under its lock; this class
keeps no lock of its own. Each change ramps the channel's timeline and hands the worker the new
one, so notes already sounding follow the move.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rtsynth.engine.channels import N_CHANNELS, ChannelState, Timeline
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.events import (
    MAX_MORPH_TIME_MS,
    Event,
    Handler,
    LatentOffset,
    LatentReset,
    MorphCorner,
    MorphPosition,
    MorphTime,
    SelectTimbre,
)
from rtsynth.engine.latent import LatentSpace
from rtsynth.engine.requests import NoteRequest, Rerender
from rtsynth.labels import LATENT_DIMS

CORNERS = "abcd"


class ChannelTimbres:
    def __init__(self, space: LatentSpace, config: EngineConfig, to_worker: Callable[[NoteRequest], None]):
        self.space, self._to_worker = space, to_worker
        self.morph_seconds = config.morph_time_ms * 1e-3
        self.channels = [ChannelState.fresh(space) for _ in range(N_CHANNELS)]

    def handlers(self) -> dict[type[Event], Handler]:
        """The timbre part of the controller's event table."""
        return {
            SelectTimbre: self._select,
            MorphCorner: self._corner,
            MorphPosition: self._position,
            MorphTime: self._morph_time,
            LatentOffset: self._offset,
            LatentReset: self._reset,
        }

    def timeline(self, channel: int) -> Timeline:
        return self.channels[channel].timeline

    def _moved(self, channel: int, at: float) -> None:
        self.channels[channel].retarget(self.space, at, self.morph_seconds)
        self._to_worker(Rerender(channel, self.channels[channel].timeline))

    def _select(self, e: SelectTimbre, at: float, arrival: float | None) -> None:
        state = self.channels[e.channel]
        state.point = replace(state.point, cluster=self.space.timbre_index(e.timbre), x=None, y=None)
        self._moved(e.channel, at)

    def _corner(self, e: MorphCorner, at: float, arrival: float | None) -> None:
        if e.corner not in CORNERS:
            raise ValueError(f"morph corner must be one of a, b, c, d; got {e.corner!r}")
        state = self.channels[e.channel]
        corners = list(state.point.corners)
        corners[CORNERS.index(e.corner)] = self.space.timbre_index(e.timbre)
        state.point = replace(state.point, corners=tuple(corners))
        if state.point.x is not None:
            self._moved(e.channel, at)

    def _position(self, e: MorphPosition, at: float, arrival: float | None) -> None:
        for value in (e.x, e.y):
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"morph position must be 0-1, got {value}")
        state = self.channels[e.channel]
        state.point = replace(state.point, x=float(e.x), y=None if e.y is None else float(e.y))
        self._moved(e.channel, at)

    def _morph_time(self, e: MorphTime, at: float, arrival: float | None) -> None:
        if not (math.isfinite(e.ms) and 0.0 <= e.ms <= MAX_MORPH_TIME_MS):
            raise ValueError(f"morph time must be 0-{MAX_MORPH_TIME_MS:g} ms, got {e.ms}")
        self.morph_seconds = e.ms * 1e-3

    def _offset(self, e: LatentOffset, at: float, arrival: float | None) -> None:
        if e.descriptor not in LATENT_DIMS:
            raise ValueError(f"unknown latent descriptor {e.descriptor!r}; use one of {list(LATENT_DIMS)}")
        self.channels[e.channel].set_offset(self.space, e.descriptor, tuple(e.values), e.index)
        self._moved(e.channel, at)

    def _reset(self, e: LatentReset, at: float, arrival: float | None) -> None:
        self.channels[e.channel].offsets.clear()
        self._moved(e.channel, at)

    # --- whole-state operations -------------------------------------------------------------

    def rebase(self, space: LatentSpace) -> None:
        """A new model: keep each channel's state, folded into the new timbre count."""
        self.space = space
        self.channels = [state.rebased(space) for state in self.channels]

    def timbre_state(self, channel: int) -> dict[str, Any]:
        """Where a channel's timbre point is headed: its cluster, morph position and the
        timbre latent it asks for (class-mean mix plus offsets), for /status."""
        state, space = self.channels[channel], self.space
        z = state.timbre_z(space)
        return {
            "timbre": space.timbres[state.point.cluster],
            "morph_x": math.nan if state.point.x is None else state.point.x,
            "morph_y": math.nan if state.point.y is None else state.point.y,
            "timbre_z": [round(float(v), 4) for v in z],
        }

    def preset(self) -> dict[str, Any]:
        return {
            "format": "rtsynth-preset",
            "version": 1,
            "morph_time_ms": self.morph_seconds * 1e3,
            "timbres": list(self.space.timbres),
            "channels": {str(i): s.to_json(self.space) for i, s in enumerate(self.channels)},
        }

    def load_preset(self, data: dict[str, Any], at: float) -> None:
        """Every channel the preset names moves to its state; a bad preset changes nothing."""
        if not isinstance(data, dict) or data.get("format") != "rtsynth-preset":
            raise ValueError("not an rtsynth preset (format should be 'rtsynth-preset')")
        if data.get("version") != 1:
            raise ValueError(f"preset version {data.get('version')!r} is not supported (this engine reads 1)")
        channels = data.get("channels", {})
        if not isinstance(channels, dict):
            raise ValueError("preset 'channels' must be a table of channel number -> state")
        states = {}
        for key, value in channels.items():
            if not (key.isdigit() and int(key) < N_CHANNELS):
                raise ValueError(f"preset channel {key!r} is not 0-{N_CHANNELS - 1}")
            states[int(key)] = ChannelState.from_json(value, self.space)
        morph = float(data.get("morph_time_ms", self.morph_seconds * 1e3))
        self._morph_time(MorphTime(morph), at, None)
        for channel, state in states.items():
            current = self.channels[channel]
            current.point, current.offsets = state.point, state.offsets
            self._moved(channel, at)
