"""Turns events into scheduled mixer commands and render requests.

Runs on the control threads (OSC, MIDI, the caller of Engine.submit) under one short lock
that the audio callback never takes. Every event gets an engine time: its own `at`, or its
arrival plus the look-ahead (one block by default), so that notes land a constant delay after
they arrive instead of wherever the next callback happens to fall.
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

from rtsynth.engine.channels import N_CHANNELS, Timeline
from rtsynth.engine.commands import BendChannel, MixerCommand, ReleaseVoice, SetGain, SilenceAll
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.events import (
    MAX_BEND_SEMITONES,
    MAX_GAIN,
    MAX_VIBRATO_CENTS,
    VIBRATO_HZ,
    Event,
    Gain,
    Handler,
    NoteOff,
    NoteOn,
    Panic,
    PitchBend,
    Sustain,
    Vibrato,
)
from rtsynth.engine.latent import LatentSpace
from rtsynth.engine.notes import NoteSpec, outlasts_window, release_lead_s
from rtsynth.engine.requests import ClearNotes, NoteRequest, Rebend, StartNote
from rtsynth.engine.timbres import ChannelTimbres
from rtsynth.labels import MIDI_MAX

MAX_NOTES_AHEAD = 4096  # notes scheduled for later than now: a sequencer's phrase, not a flood


class Controller:
    """Applies events in arrival order under one lock: the notes (keys, pedal, bend, vibrato,
    gain, panic) itself, timbre events through `timbres`. The timbre methods below take the same
    lock, as /status, model swaps and presets call them from other threads."""

    def __init__(
        self,
        space: LatentSpace,
        config: EngineConfig,
        commands: deque[MixerCommand],
        to_worker: Callable[[NoteRequest], None],
    ):
        self.config = config
        self._commands, self._to_worker = commands, to_worker
        self.lookahead = config.lookahead
        self.gain = config.gain
        self.epoch = 0
        self.timbres = ChannelTimbres(space, config, to_worker)
        self._held: dict[tuple[int, int], int] = {}  # (channel, note) -> voice of the key held down
        self._pedal = [False] * N_CHANNELS  # the sustain pedal of each channel is down
        self._pitch = [Rebend(c, 0.0, -math.inf) for c in range(N_CHANNELS)]  # each channel's bend and vibrato
        self._sustained: list[set[int]] = [set() for _ in range(N_CHANNELS)]
        self._voice_ids = itertools.count()
        self._ahead: list[float] = []  # start times of notes scheduled for later (a heap)
        self._now = 0.0  # the arrival time of the event being applied
        self._lock = threading.Lock()
        # each handler takes its own event class: the key's
        self._handlers: dict[type[Event], Handler] = {
            NoteOn: self._note_on,
            NoteOff: self._note_off,
            Sustain: self._sustain,
            PitchBend: self._bend,
            Vibrato: self._vibrato,
            Panic: self._panic,
            Gain: self._gain,
            **self.timbres.handlers(),
        }

    @property
    def space(self) -> LatentSpace:
        """The playing model's latent space (the timbre state keeps it, as rebase changes it)."""
        return self.timbres.space

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

    # --- notes ------------------------------------------------------------------------------

    def _note_on(self, e: NoteOn, at: float, arrival: float | None) -> None:
        _check_note(e.note)
        if not (math.isfinite(e.velocity) and 0.0 <= e.velocity <= 1.0):
            raise ValueError(f"velocity must be 0-1, got {e.velocity}")
        if e.duration is not None and not (math.isfinite(e.duration) and e.duration > 0):
            raise ValueError(f"duration must be a positive number of seconds, got {e.duration}")
        if e.velocity == 0.0:
            return self._note_off(NoteOff(e.note, channel=e.channel), at, arrival)
        space = self.space
        timbre = None if e.timbre is None else space.timbre_index(e.timbre)
        self._count_ahead(at, self._now)
        voice = next(self._voice_ids)
        held = outlasts_window(e.duration, space)  # played as a held note, sustain looped
        duration = None if held else e.duration
        spec = NoteSpec(voice, e.channel, e.note, e.velocity, duration, timbre, at, arrival, self.epoch)
        key = (e.channel, e.note)
        previous = self._held.pop(key, None)
        if previous is not None:  # the same key struck again: let the old note go
            self._release(previous, at)
        if e.one_shot:
            length = e.duration if e.duration is not None else space.durations[-1]
            self._release(voice, at + length - (release_lead_s(self.config.release_ms * 1e-3) if held else 0.0))
        else:
            self._held[key] = voice
        self._to_worker(StartNote(spec, self.timbres.timeline(e.channel)))

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
        if self._pedal[e.channel]:
            self._sustained[e.channel].add(voice)
        else:
            self._release(voice, at)

    def _sustain(self, e: Sustain, at: float, arrival: float | None) -> None:
        self._pedal[e.channel] = e.on
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
        self._set_pitch(replace(self._pitch[e.channel], semitones=float(e.semitones), at=at))

    def _vibrato(self, e: Vibrato, at: float, arrival: float | None) -> None:
        if not (math.isfinite(e.cents) and 0.0 <= e.cents <= MAX_VIBRATO_CENTS):
            raise ValueError(f"vibrato depth must be 0-{MAX_VIBRATO_CENTS:g} cents, got {e.cents}")
        hz = self._pitch[e.channel].vibrato_hz if e.hz is None else e.hz
        if not (math.isfinite(hz) and VIBRATO_HZ[0] <= hz <= VIBRATO_HZ[1]):
            raise ValueError(f"vibrato rate must be {VIBRATO_HZ[0]:g}-{VIBRATO_HZ[1]:g} Hz, got {hz}")
        self._set_pitch(replace(self._pitch[e.channel], vibrato_cents=float(e.cents), vibrato_hz=float(hz), at=at))

    def _set_pitch(self, pitch: Rebend) -> None:
        """The channel's bend and vibrato from pitch.at on, for the worker to render into f0."""
        self._pitch[pitch.channel] = pitch
        self._to_worker(pitch)

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

    # --- the timbre state, for the other threads ----------------------------------------------

    def timeline(self, channel: int) -> Timeline:
        return self.timbres.timeline(channel)

    def rebase(self, space: LatentSpace) -> None:
        with self._lock:
            self.timbres.rebase(space)

    def timbre_state(self, channel: int = 0) -> dict[str, Any]:
        with self._lock:
            return self.timbres.timbre_state(channel)

    def preset(self) -> dict[str, Any]:
        with self._lock:
            return self.timbres.preset()

    def load_preset(self, data: dict[str, Any], at: float) -> None:
        with self._lock:
            self.timbres.load_preset(data, at)

    def held_notes(self) -> list[int]:
        """Keys held down now on any channel (whatever surface pressed them), for /status."""
        with self._lock:
            return sorted({note for _, note in self._held})


def _check_note(note: int) -> None:
    if isinstance(note, bool) or not isinstance(note, int) or not 0 <= note <= MIDI_MAX:
        raise ValueError(f"MIDI note must be an integer 0-127, got {note!r}")
