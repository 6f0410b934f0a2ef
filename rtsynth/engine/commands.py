"""Typed commands to the mixer, and their fixed-size encoding for the worker's shared ring.

The controller (control threads) and the render worker (its own process) tell the mixer what
to do at an engine time; the mixer keeps them in a heap ordered by (time, submission order)
and runs each in the block it falls in.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

_seq = itertools.count()


@dataclass(frozen=True)
class MixerCommand:
    at: float  # engine time it takes effect
    seq: int = field(default_factory=lambda: next(_seq), kw_only=True)  # same-time commands keep their order

    def key(self) -> tuple[float, int]:
        return (self.at, self.seq)


@dataclass(frozen=True)
class StartVoice(MixerCommand):
    """A rendered voice in `slot` starts playing at `at` (on its exact sample), its audio
    carrying `baked` semitones of its channel's bend in f0."""

    slot: int
    voice: int
    arrival: float | None  # when its event arrived, for the latency log; None for timed events
    cached: bool
    baked: float = 0.0


@dataclass(frozen=True)
class ReleaseVoice(MixerCommand):
    """Note-off: fade the voice out over its release time."""

    voice: int
    seconds: float


@dataclass(frozen=True)
class StealVoice(MixerCommand):
    """Polyphony cap: fade the voice out fast to make room."""

    voice: int
    seconds: float


@dataclass(frozen=True)
class KillSlot(MixerCommand):
    """Hard cap: free the slot at once."""

    slot: int


@dataclass(frozen=True)
class RebakeVoice(MixerCommand):
    """From row sample `sample` on, the voice's audio carries `semitones` of bend in its f0: the
    mixer resamples only the rest of the channel's bend from there."""

    slot: int
    voice: int
    sample: int
    semitones: float


@dataclass(frozen=True)
class BendChannel(MixerCommand):
    channel: int
    semitones: float


@dataclass(frozen=True)
class SetGain(MixerCommand):
    value: float


@dataclass(frozen=True)
class SilenceAll(MixerCommand):
    """Panic: every voice fades out over `seconds`; notes not started yet never start."""

    seconds: float


# what the render worker sends through the shared ring, each as (time, seq, kind, fields...)
RING_KINDS: tuple[type[MixerCommand], ...] = (StartVoice, StealVoice, KillSlot, RebakeVoice)
RECORD = 8  # floats per ring record


def encode(command: MixerCommand) -> list[float]:
    """The ring record of a worker command: floats, None as NaN."""
    if isinstance(command, StartVoice):
        fields: list[float | None] = [
            command.slot,
            command.voice,
            command.arrival,
            float(command.cached),
            command.baked,
        ]
    elif isinstance(command, StealVoice):
        fields = [command.voice, command.seconds]
    elif isinstance(command, KillSlot):
        fields = [command.slot]
    elif isinstance(command, RebakeVoice):
        fields = [command.slot, command.voice, command.sample, command.semitones]
    else:
        raise TypeError(f"{type(command).__name__} does not travel through the worker's ring")
    head = [command.at, float(command.seq), float(RING_KINDS.index(type(command)))]
    return head + [math.nan if v is None else float(v) for v in fields]


def decode(record: list[float]) -> MixerCommand:
    """The command a ring record holds (see `encode`)."""
    at, seq, kind = record[0], int(record[1]), RING_KINDS[int(record[2])]
    if kind is StartVoice:
        arrival = None if math.isnan(record[5]) else record[5]
        return StartVoice(at, int(record[3]), int(record[4]), arrival, bool(record[6]), record[7], seq=seq)
    if kind is StealVoice:
        return StealVoice(at, int(record[3]), record[4], seq=seq)
    if kind is RebakeVoice:
        return RebakeVoice(at, int(record[3]), int(record[4]), int(record[5]), record[6], seq=seq)
    return KillSlot(at, int(record[3]), seq=seq)
