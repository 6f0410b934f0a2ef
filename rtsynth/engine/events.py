"""Plain message objects between the control layer (OSC, MIDI) and the engine.

The control layer parses and validates input and builds these; the engine only ever sees
well-formed events. `at` is the engine-clock time (time.monotonic seconds) the event should
take effect; None means "as soon as possible", which the engine turns into arrival time
plus its fixed one-block look-ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TimbreRef = str | int  # a timbre cluster by name or index

# the ranges the engine accepts; the control layer (OSC table, MIDI) checks against the same
MAX_BEND_SEMITONES = 24.0
MAX_VIBRATO_CENTS = 100.0
VIBRATO_HZ = (0.5, 12.0)  # the rates a vibrato may have
DEFAULT_VIBRATO_HZ = 5.5  # a string player's or singer's (the reference instruments': 3.5-6 Hz)
MAX_MORPH_TIME_MS = 60_000.0
MAX_GAIN = 2.0
MAX_DURATION_S = 60.0  # a note's duration (it selects the duration latent)
MAX_LATENT_OFFSET = 10.0  # latent priors are unit-scale; +-10 sigma is far off the data already


@dataclass(frozen=True)
class Event:
    at: float | None = field(default=None, kw_only=True)
    channel: int = field(default=0, kw_only=True)  # MIDI channel 0-15; OSC uses 0


# how the engine applies one event class: (the event, its engine time, its arrival or None when
# it came with its own time); a handler table maps each class to the one that takes it
Handler = Callable[[Any, float, float | None], None]


@dataclass(frozen=True)
class NoteOn(Event):
    note: int  # MIDI note number 0-127
    velocity: float  # 0-1
    duration: float | None = None  # seconds: selects z_D; one_shot notes also end after it
    timbre: TimbreRef | None = None  # None: the channel's current timbre point
    one_shot: bool = False


@dataclass(frozen=True)
class NoteOff(Event):
    note: int


@dataclass(frozen=True)
class Sustain(Event):
    on: bool


@dataclass(frozen=True)
class PitchBend(Event):
    semitones: float


@dataclass(frozen=True)
class Vibrato(Event):
    """The channel's vibrato: f0 swings `cents` either way `hz` times a second (None: at the
    rate it has); 0 cents: none."""

    cents: float
    hz: float | None = None


@dataclass(frozen=True)
class SelectTimbre(Event):
    timbre: TimbreRef


@dataclass(frozen=True)
class MorphCorner(Event):
    corner: str  # "a" | "b" | "c" | "d"
    timbre: TimbreRef


@dataclass(frozen=True)
class MorphPosition(Event):
    x: float  # 0-1: a -> b (and with y: the four corners a b / c d)
    y: float | None = None


@dataclass(frozen=True)
class MorphTime(Event):
    ms: float  # smoothing ramp for timbre-point moves


@dataclass(frozen=True)
class LatentOffset(Event):
    descriptor: str  # "timbre" | "pitch" | "dynamics" | "duration"
    values: tuple[float, ...]  # one per latent dimension; index None = all
    index: int | None = None  # set one dimension only


@dataclass(frozen=True)
class LatentReset(Event):
    pass


@dataclass(frozen=True)
class Panic(Event):
    pass


@dataclass(frozen=True)
class Gain(Event):
    value: float  # linear, 0-2
