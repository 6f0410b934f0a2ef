"""What the engine asked its live render worker to play, kept so that a standby worker can carry
on where a dead one stopped: no scheduled note lost, no held note cut."""

from __future__ import annotations

from dataclasses import dataclass

from rtsynth.engine.channels import Timeline
from rtsynth.engine.mixer import Census
from rtsynth.engine.notes import NoteSpec
from rtsynth.engine.requests import (
    Activate,
    ClearNotes,
    Prerender,
    Rebend,
    Rerender,
    ResumeNote,
    StartNote,
    WorkerRequest,
)

KEEP_S = 10.0  # longer than any note (the engine's buffers hold 8 s): a note this old has ended
MAX_NOTES = 16384  # beyond the engine's own cap on notes scheduled ahead


@dataclass(frozen=True)
class Takeover:
    """What the new worker is sent, and how many notes were left out as overdue: due before the
    late limit and never handed to the mixer. The dead worker may have dropped (and logged) them
    or died before it got to them; the census cannot tell which, so the takeover says so."""

    activate: Activate
    overdue: int


class NoteLedger:
    """Notes of the current panic epoch, each channel's latest timeline and bend and the
    pre-render queue, as sent; `takeover` sorts the notes by what the mixer has of them when
    the worker died."""

    def __init__(self) -> None:
        self.epoch = 0
        self.prerender: Prerender | None = None
        self._notes: dict[int, NoteSpec] = {}  # voice -> spec, in the order sent
        self._timelines: dict[int, Timeline] = {}
        self._bends: dict[int, Rebend] = {}

    def record(self, request: WorkerRequest, now: float) -> None:
        match request:
            case StartNote(spec, timeline):
                self._notes[spec.voice] = spec
                self._timelines[spec.channel] = timeline
                self._forget_old(now)
            case Rerender(channel, timeline):
                self._timelines[channel] = timeline
            case Rebend(channel=channel):
                self._bends[channel] = request
            case ClearNotes(epoch):
                self.epoch = epoch
                self._notes.clear()
            case Prerender():
                self.prerender = request

    def _forget_old(self, now: float) -> None:
        while self._notes:
            voice, spec = next(iter(self._notes.items()))
            if spec.start > now - KEEP_S and len(self._notes) <= MAX_NOTES:
                return
            del self._notes[voice]

    def takeover(self, census: Census, too_late: float) -> Takeover:
        """Notes the mixer has a slot for play on there; notes it never got start again, unless
        they were due before `too_late` (counted as overdue); notes it started and has finished
        with are left alone. Each at its channel's latest timeline."""
        resume, replay, overdue = [], [], 0
        for spec in self._notes.values():
            if spec.epoch != self.epoch:
                continue
            timeline = self._timelines[spec.channel]
            slot = census.slots.get(spec.voice)
            if slot is not None:
                resume.append(ResumeNote(slot, spec, timeline))
            elif spec.voice not in census.started:
                if spec.start >= too_late:
                    replay.append(StartNote(spec, timeline))
                else:
                    overdue += 1
        bends = tuple(self._bends.values())
        return Takeover(Activate(self.epoch, tuple(resume), tuple(replay), bends), overdue)
