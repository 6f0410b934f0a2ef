"""How in tune a bundle plays: notes of every timbre rendered by the engine, their f0 measured.

Why: a note's pitch comes from the class mean of the P latent, and a model can name the
pitch of real notes perfectly while decoding a class mean a few semitones off (a point the
decoder saw little of in training). The export measures this, through the same voice code
and vocoder the synth uses, and stores it in bundle.json so nobody learns it on stage.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtsynth.bundle import MAX_TUNING_CENTS
from rtsynth.dsp.pitch import cents, estimate_f0, midi_hz
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.events import NoteOff, NoteOn, SelectTimbre
from rtsynth.labels import velocity_unit

log = logging.getLogger(__name__)

IN_TUNE_CENTS = 50.0
START_S, HELD_S = 0.05, 0.8  # each note: on at START_S, held HELD_S
WINDOW_S = (0.2, 0.7)  # measured after the attack, before the release


@dataclass(frozen=True)
class TunedNote:
    timbre: str
    note: int
    cents: float  # measured f0 against the note's; nan when the note rendered silent


@dataclass(frozen=True)
class TuningReport:
    notes: tuple[TunedNote, ...]

    def in_tune(self, notes: Sequence[TunedNote] | None = None) -> float:
        notes = self.notes if notes is None else notes
        return sum(abs(n.cents) <= IN_TUNE_CENTS for n in notes) / max(1, len(notes))

    def summary(self) -> dict[str, Any]:
        """bundle.json's `metrics.tuning`: share of measured notes within 50 cents, overall and per timbre."""
        off = np.array([abs(n.cents) if math.isfinite(n.cents) else np.inf for n in self.notes])
        timbres = dict.fromkeys(n.timbre for n in self.notes)
        return {
            "notes": len(self.notes),
            "in_tune_cents": IN_TUNE_CENTS,
            "in_tune": round(self.in_tune(), 4),
            "median_abs_cents": round(float(np.median(off)), 1) if len(off) else None,
            "silent": int(np.sum(~np.isfinite(off))),
            "per_timbre": {t: round(self.in_tune([n for n in self.notes if n.timbre == t]), 4) for t in timbres},
        }


def correction_table(report: TuningReport, pitch_classes: Sequence[int | float | str]) -> dict[str, list[float | None]]:
    """Per timbre, the cents each pitch class plays off, for bundle.json's `tuning_cents`.

    Classes that were not measured (outside a timbre's range, silent) get None, and so does
    an error beyond MAX_TUNING_CENTS: more than an octave is a failed measurement, not a pitch.
    """
    index = {int(p): k for k, p in enumerate(pitch_classes)}
    table: dict[str, list[float | None]] = {}
    for n in report.notes:
        row = table.setdefault(n.timbre, [None] * len(index))
        if n.note in index and math.isfinite(n.cents) and abs(n.cents) <= MAX_TUNING_CENTS:
            row[index[n.note]] = n.cents
    return table


def notes_to_measure(ranges: dict[str, tuple[int, int]], step: int) -> list[tuple[str, int]]:
    """Every `step`-th key of each timbre's range, both ends included."""
    chosen = []
    for timbre, (low, high) in ranges.items():
        keys = list(range(low, high + 1, step))
        if keys[-1] != high:
            keys.append(high)
        chosen += [(timbre, key) for key in keys]
    return chosen


def measure_tuning(
    bundle_dir: str | Path,
    ranges: dict[str, tuple[int, int]],
    step: int = 3,
    velocity: int = 80,
    progress: bool = False,
) -> TuningReport:
    """Render each chosen note alone through the offline engine and measure its f0."""
    from tqdm import tqdm

    from rtsynth.engine.backends import OfflineRenderer

    renderer = OfflineRenderer(bundle_dir, EngineConfig(samplerate=48000, blocksize=256))
    sr = renderer.engine.config.samplerate
    measured = []
    for timbre, note in tqdm(notes_to_measure(ranges, step), desc="tuning", unit="note", disable=not progress):
        audio = renderer.render(
            [
                SelectTimbre(timbre, at=0.0),
                NoteOn(note, velocity_unit(velocity), at=START_S),
                NoteOff(note, at=START_S + HELD_S),
            ],
            tail=0.05,
        )
        window = audio[int(WINDOW_S[0] * sr) : int(WINDOW_S[1] * sr)]
        silent = len(window) == 0 or not np.any(window)
        off = math.nan if silent else cents(estimate_f0(window, midi_hz(note), sr), midi_hz(note))
        measured.append(TunedNote(timbre, note, round(off, 1)))
    report = TuningReport(tuple(measured))
    log.info("tuning: %.0f %% of %d notes within %.0f cents", 100 * report.in_tune(), len(measured), IN_TUNE_CENTS)
    return report
