"""The note ledger's takeover: which notes a new render worker carries on, starts again or leaves
out, from what the mixer had of them when the old worker died."""

from __future__ import annotations

import numpy as np

from rtsynth.engine.channels import Timeline
from rtsynth.engine.ledger import NoteLedger
from rtsynth.engine.mixer import Census
from rtsynth.engine.notes import NoteSpec
from rtsynth.engine.requests import ClearNotes, Rebend, StartNote


def spec(voice: int, start: float, epoch: int = 0) -> NoteSpec:
    return NoteSpec(voice, 0, 60, 0.6, 0.5, None, start, None, epoch)


def test_takeover_resumes_slotted_notes_replays_waiting_ones_and_counts_the_overdue():
    ledger, timeline = NoteLedger(), Timeline.still(np.zeros(3))
    for voice, start in enumerate([1.0, 1.2, 1.4, 2.0, 3.0]):
        ledger.record(StartNote(spec(voice, start), timeline), now=1.0)
    census = Census(slots={0: 5}, started=frozenset({0, 1}))  # 0 sounding, 1 finished, 2-4 never handed over
    taken = ledger.takeover(census, too_late=1.5)
    assert [(note.slot, note.spec.voice) for note in taken.activate.resume] == [(5, 0)]
    assert [note.spec.voice for note in taken.activate.replay] == [3, 4]
    assert taken.overdue == 1  # voice 2: due at 1.4, before the late limit


def test_a_panic_clears_the_ledger_of_notes_asked_for_before_it():
    ledger, timeline = NoteLedger(), Timeline.still(np.zeros(3))
    ledger.record(StartNote(spec(0, 2.0), timeline), now=1.0)
    ledger.record(ClearNotes(1), now=1.0)
    ledger.record(StartNote(spec(1, 2.0, epoch=1), timeline), now=1.0)
    taken = ledger.takeover(Census(slots={}, started=frozenset()), too_late=0.0)
    assert taken.activate.epoch == 1
    assert [note.spec.voice for note in taken.activate.replay] == [1]
    assert taken.overdue == 0


def test_a_takeover_carries_each_channels_latest_bend_and_vibrato():
    """The new worker renders its notes' f0 at the bend and vibrato the channel is at, not plain."""
    ledger = NoteLedger()
    latest = Rebend(0, 0.5, 1.2, vibrato_cents=20.0, vibrato_hz=6.0)
    for request in (Rebend(0, 1.0, 1.0), Rebend(3, -2.0, 1.1), latest):
        ledger.record(request, now=1.2)
    taken = ledger.takeover(Census(slots={}, started=frozenset()), too_late=1.5)
    assert sorted(taken.activate.bends, key=lambda b: b.channel) == [latest, Rebend(3, -2.0, 1.1)]
