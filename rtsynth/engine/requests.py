"""Typed messages between the engine and its render worker.

The engine sends `WorkerRequest`s (in-process they are handed to `RenderWorker.accept`, live
they are pickled down the worker's pipe); the worker process answers with `WorkerReply`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rtsynth.dsp.harmonic import UNBENT, BendCurve, SampleVibrato
from rtsynth.engine.channels import Timeline
from rtsynth.engine.events import DEFAULT_VIBRATO_HZ
from rtsynth.engine.notes import NoteSpec


@dataclass(frozen=True)
class StartNote:
    """A note to render, with its channel's latent timeline as the controller saw it."""

    spec: NoteSpec
    timeline: Timeline


@dataclass(frozen=True)
class Rerender:
    """The channel's timbre point moved: re-render the coming frames of its sounding notes."""

    channel: int
    timeline: Timeline


BAKED_MIN_SEMITONES = 0.005  # half a cent; a 14-bit wheel's step at +-2 semitones is 0.024 cents
VIBRATO_ONSET_S = 0.2  # a new note's vibrato swells in over this, after its attack, as a player's does
VIBRATO_GLIDE_S = 0.1  # a sounding note's vibrato moves to a new depth or rate over this


@dataclass(frozen=True)
class Rebend:
    """The channel's pitch from `at` on: its bend (the mixer resamples to it at once; the
    worker then renders its sounding notes again at the bent f0) and its vibrato (the worker's
    alone), where the runtime does not resample."""

    channel: int
    semitones: float
    at: float
    vibrato_cents: float = 0.0
    vibrato_hz: float = DEFAULT_VIBRATO_HZ

    @property
    def baked(self) -> float:
        """The semitones rendered into f0: none for a wheel resting a hair off centre (its notes
        stay on the synthesizer's fast steady path; the mixer plays the hair)."""
        return self.semitones if abs(self.semitones) >= BAKED_MIN_SEMITONES else 0.0

    @property
    def factor(self) -> float:
        return float(2.0 ** (self.baked / 12.0))

    def vibrato(self, sample_rate: int) -> SampleVibrato:
        return SampleVibrato.of(self.vibrato_cents, self.vibrato_hz, sample_rate)

    def from_start(self, sample_rate: int) -> BendCurve:
        """A new note's pitch: the bend from its first sample, the vibrato swelling in."""
        return BendCurve.throughout(self.baked, self.vibrato(sample_rate), round(VIBRATO_ONSET_S * sample_rate))

    def onto(self, curve: BendCurve, sample: int, sample_rate: int) -> BendCurve:
        """A sounding note's pitch, this from `sample` on (its vibrato gliding there)."""
        return curve.then(sample, self.factor, self.vibrato(sample_rate), round(VIBRATO_GLIDE_S * sample_rate))

    def carried_by(self, curve: BendCurve, sample_rate: int) -> bool:
        """Whether a note on this curve already plays this pitch."""
        return curve.factor == self.factor and curve.vibrato == self.vibrato(sample_rate)


def pitch_curve(pitch: Rebend | None, sample_rate: int) -> BendCurve:
    """A new note's pitch curve on its channel's pitch (None: plain)."""
    return UNBENT if pitch is None else pitch.from_start(sample_rate)


@dataclass(frozen=True)
class ClearNotes:
    """Panic: forget every note requested before `epoch`."""

    epoch: int


@dataclass(frozen=True)
class Prerender:
    """Replace the pre-render queue with these notes at this timeline."""

    specs: tuple[NoteSpec, ...]
    timeline: Timeline


@dataclass(frozen=True)
class LoadModel:
    """Load and warm up another bundle in the background, then swap to it."""

    bundle_dir: str


@dataclass(frozen=True)
class StopWorker:
    """Finish: the worker process exits."""


@dataclass(frozen=True)
class ResumeNote:
    """A note the previous worker had started: it plays on in its bank `slot`, and the new worker
    renders the rest of it, crossfaded in ahead of the playhead."""

    slot: int
    spec: NoteSpec
    timeline: Timeline


@dataclass(frozen=True)
class Activate:
    """A standby worker (model loaded, waiting) starts rendering. After a worker died it also
    takes over that worker's notes: the engine's panic count, the notes started in bank slots
    (`resume`), those not started yet (`replay`) and each channel's latest bend."""

    epoch: int = 0
    resume: tuple[ResumeNote, ...] = ()
    replay: tuple[StartNote, ...] = ()
    bends: tuple[Rebend, ...] = ()


NoteRequest = StartNote | Rerender | Rebend | ClearNotes | Prerender
WorkerRequest = NoteRequest | LoadModel | Activate | StopWorker


@dataclass(frozen=True)
class WorkerReady:
    """The worker process loaded its model; `info` describes it (see process.runtime_info)."""

    info: dict[str, Any]


@dataclass(frozen=True)
class WorkerFailed:
    """The worker process could not start; `reason` says why."""

    reason: str


@dataclass(frozen=True)
class ModelSwapped:
    """A LoadModel finished: the worker now plays this model."""

    info: dict[str, Any]


@dataclass(frozen=True)
class ModelRefused:
    """A LoadModel failed; the previous model keeps playing."""

    reason: str
    bundle_dir: str = ""


WorkerReply = WorkerReady | WorkerFailed | ModelSwapped | ModelRefused


class WorkerLink(Protocol):
    """How the engine reaches its render worker: a process of its own when playing live
    (process.WorkerProcess), the same process when rendering offline (local.LocalWorker)."""

    def start(self) -> dict[str, Any]:
        """Load the model; the playing model's info."""
        ...

    def send(self, request: WorkerRequest) -> None: ...

    @property
    def alive(self) -> bool: ...

    def stop(self) -> None: ...
