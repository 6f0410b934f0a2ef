"""Turns events into scheduled mixer commands and render requests.

Runs on the control threads (OSC, MIDI, the caller of Engine.submit) under one short lock
that the audio callback never takes. Every event gets an engine time: its own `at`, or its
arrival plus one block of look-ahead, so that notes land a constant delay after they arrive
instead of wherever the next callback happens to fall.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rtsynth.engine.channels import N_CHANNELS, ChannelState, Timeline
from rtsynth.engine.commands import BendChannel, MixerCommand, ReleaseVoice, SetGain, SilenceAll
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.events import (
    MAX_BEND_SEMITONES,
    MAX_GAIN,
    MAX_MORPH_TIME_MS,
    Event,
    Gain,
    LatentOffset,
    LatentReset,
    MorphCorner,
    MorphPosition,
    MorphTime,
    NoteOff,
    NoteOn,
    Panic,
    PitchBend,
    SelectTimbre,
    Sustain,
)
from rtsynth.engine.latent import LatentSpace
from rtsynth.engine.notes import NoteSpec
from rtsynth.engine.requests import ClearNotes, NoteRequest, Rerender, StartNote
from rtsynth.labels import LATENT_DIMS, MIDI_MAX

CORNERS = "abcd"
MAX_NOTES_AHEAD = 4096  # notes scheduled for later than now: a sequencer's phrase, not a flood


class Controller:
    def __init__(
        self,
        space: LatentSpace,
        config: EngineConfig,
        commands: deque[MixerCommand],
        to_worker: Callable[[NoteRequest], None],
    ):
        self.space, self.config = space, config
        self._commands, self._to_worker = commands, to_worker
        self.lookahead = config.blocksize / config.samplerate
        self.morph_seconds = config.morph_time_ms * 1e-3
        self.gain = config.gain
        self.epoch = 0
        self.channels = [ChannelState.fresh(space) for _ in range(N_CHANNELS)]
        self._held: dict[tuple[int, int], int] = {}  # (channel, note) -> voice of the key held down
        self._sustained: list[set[int]] = [set() for _ in range(N_CHANNELS)]
        self._voice_ids = itertools.count()
        self._ahead: list[float] = []  # start times of notes scheduled for later (a heap)
        self._now = 0.0  # the arrival time of the event being applied
        self._lock = threading.Lock()
        # each handler takes its own event class: the key's
        self._handlers: dict[type[Event], Callable[[Any, float, float | None], None]] = {
            NoteOn: self._note_on,
            NoteOff: self._note_off,
            Sustain: self._sustain,
            PitchBend: self._bend,
            SelectTimbre: self._select,
            MorphCorner: self._corner,
            MorphPosition: self._position,
            MorphTime: self._morph_time,
            LatentOffset: self._offset,
            LatentReset: self._reset,
            Panic: self._panic,
            Gain: self._gain,
        }

    def apply(self, event: Event, arrival: float) -> None:
        handler = self._handlers.get(type(event))
        if handler is None:
            raise ValueError(f"the engine does not handle {type(event).__name__} events")
        if not 0 <= event.channel < N_CHANNELS:
            raise ValueError(f"MIDI channel {event.channel} out of range 0-{N_CHANNELS - 1}")
        at = event.at if event.at is not None else arrival + self.lookahead
        if not math.isfinite(at):
            raise ValueError(f"event time {event.at} is not a finite clock time")
        with self._lock:
            self._now = arrival
            handler(event, at, arrival if event.at is None else None)

    def timeline(self, channel: int) -> Timeline:
        return self.channels[channel].timeline

    # --- notes ------------------------------------------------------------------------------

    def _note_on(self, e: NoteOn, at: float, arrival: float | None) -> None:
        _check_note(e.note)
        if not (math.isfinite(e.velocity) and 0.0 <= e.velocity <= 1.0):
            raise ValueError(f"velocity must be 0-1, got {e.velocity}")
        if e.duration is not None and not (math.isfinite(e.duration) and e.duration > 0):
            raise ValueError(f"duration must be a positive number of seconds, got {e.duration}")
        if e.velocity == 0.0:
            return self._note_off(NoteOff(e.note, channel=e.channel), at, arrival)
        timbre = None if e.timbre is None else self.space.timbre_index(e.timbre)
        self._count_ahead(at, self._now)
        voice = next(self._voice_ids)
        spec = NoteSpec(voice, e.channel, e.note, e.velocity, e.duration, timbre, at, arrival, self.epoch)
        key = (e.channel, e.note)
        previous = self._held.pop(key, None)
        if previous is not None:  # the same key struck again: let the old note go
            self._release(previous, at)
        if e.one_shot:
            self._release(voice, at + (e.duration if e.duration is not None else self.space.durations[-1]))
        else:
            self._held[key] = voice
        self._to_worker(StartNote(spec, self.channels[e.channel].timeline))

    def _count_ahead(self, at: float, now: float) -> None:
        """Refuse a note beyond MAX_NOTES_AHEAD scheduled notes: a flood of timed notes must not
        grow the engine's queues without bound (and degrade the audio) before it is heard."""
        while self._ahead and self._ahead[0] <= now:
            heapq.heappop(self._ahead)
        if at > now + self.lookahead:
            if len(self._ahead) >= MAX_NOTES_AHEAD:
                raise ValueError(f"too many notes scheduled ahead ({MAX_NOTES_AHEAD}); this one is refused")
            heapq.heappush(self._ahead, at)

    def _note_off(self, e: NoteOff, at: float, arrival: float | None) -> None:
        _check_note(e.note)
        voice = self._held.pop((e.channel, e.note), None)
        if voice is None:
            return
        if self.channels[e.channel].sustain:
            self._sustained[e.channel].add(voice)
        else:
            self._release(voice, at)

    def _sustain(self, e: Sustain, at: float, arrival: float | None) -> None:
        self.channels[e.channel].sustain = e.on
        if not e.on:
            for voice in sorted(self._sustained[e.channel]):
                self._release(voice, at)
            self._sustained[e.channel].clear()

    def _release(self, voice: int, at: float) -> None:
        self._commands.append(ReleaseVoice(at, voice, self.config.release_ms * 1e-3))

    def _bend(self, e: PitchBend, at: float, arrival: float | None) -> None:
        if not (math.isfinite(e.semitones) and abs(e.semitones) <= MAX_BEND_SEMITONES):
            raise ValueError(f"pitch bend must be within +-{MAX_BEND_SEMITONES:g} semitones, got {e.semitones}")
        self._commands.append(BendChannel(at, e.channel, float(e.semitones)))

    def _panic(self, e: Panic, at: float, arrival: float | None) -> None:
        self.epoch += 1
        self._to_worker(ClearNotes(self.epoch))
        self._held.clear()
        for voices in self._sustained:
            voices.clear()
        self._commands.append(SilenceAll(at, self.config.steal_fade_ms * 1e-3))

    def _gain(self, e: Gain, at: float, arrival: float | None) -> None:
        if not (math.isfinite(e.value) and 0.0 <= e.value <= MAX_GAIN):
            raise ValueError(f"gain must be 0-{MAX_GAIN:g}, got {e.value}")
        self.gain = float(e.value)
        self._commands.append(SetGain(at, self.gain))

    # --- the latent state -------------------------------------------------------------------

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
        with self._lock:
            self.space = space
            self.channels = [state.rebased(space) for state in self.channels]

    def held_notes(self) -> list[int]:
        """Keys held down now on any channel (whatever surface pressed them), for /status."""
        with self._lock:
            return sorted({note for _, note in self._held})

    def timbre_state(self, channel: int = 0) -> dict[str, Any]:
        """Where a channel's timbre point is headed: its cluster, morph position and the
        timbre latent it asks for (class-mean mix plus offsets), for /status."""
        with self._lock:
            state, space = self.channels[channel], self.space
            z = state.timbre_z(space)
            return {
                "timbre": space.timbres[state.point.cluster],
                "morph_x": math.nan if state.point.x is None else state.point.x,
                "morph_y": math.nan if state.point.y is None else state.point.y,
                "timbre_z": [round(float(v), 4) for v in z],
            }

    def preset(self) -> dict[str, Any]:
        with self._lock:
            return {
                "format": "rtsynth-preset",
                "version": 1,
                "morph_time_ms": self.morph_seconds * 1e3,
                "timbres": list(self.space.timbres),
                "channels": {str(i): s.to_json(self.space) for i, s in enumerate(self.channels)},
            }

    def load_preset(self, data: dict[str, Any], at: float) -> None:
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
        with self._lock:
            for channel, state in states.items():
                current = self.channels[channel]
                current.point, current.offsets = state.point, state.offsets
                self._moved(channel, at)


def _check_note(note: int) -> None:
    if isinstance(note, bool) or not isinstance(note, int) or not 0 <= note <= MIDI_MAX:
        raise ValueError(f"MIDI note must be an integer 0-127, got {note!r}")
