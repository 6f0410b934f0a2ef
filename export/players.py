"""The model and the reference renderer playing the same note: what calibration and the fidelity
bench compare.

The model plays through the offline engine as `rtsynth render` does; the reference is the GM-SOL
FluidSynth render at the same rate, the note that sounds the asked length in its dynamics'
colour. Each process makes its engine and synthesizer once. A render depends on its note alone,
not on the renders before it, so notes can be shared among worker processes
(rtsynth.train.jobs.ordered_map) with the same results.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from rtsynth.bundle import BundleSpec, read_spec
from rtsynth.engine.backends import OfflineRenderer
from rtsynth.engine.config import EngineConfig
from rtsynth.render import NoteRequest, note_events

if TYPE_CHECKING:
    from rtsynth.train.corpus.gm import NoteSynth

Measured = TypeVar("Measured")


@dataclass(frozen=True)
class PlayedNote:
    """One note as both play it."""

    timbre: str
    key: int  # MIDI note
    dynamics: str  # the reference's colour
    velocity: int  # MIDI velocity
    seconds: float  # sounding length asked


def play_model(bundle: Path, samplerate: int, note: PlayedNote) -> np.ndarray:
    request = NoteRequest(note.key, note.velocity, note.seconds, note.timbre)
    return _renderer(bundle, samplerate).render(note_events(request))


def play_reference(samplerate: int, note: PlayedNote) -> np.ndarray | None:
    """None where the SoundFont has no sample for the note."""
    from rtsynth.train.corpus.gm import reference_note

    planned = reference_note(note.timbre, note.key, note.dynamics, note.velocity, note.seconds)
    return _reference(samplerate).sounding(planned)


def bundle_spec(bundle: Path) -> BundleSpec:
    """The spec of the bundle whose engine this process holds (read when the engine was made)."""
    return _spec(bundle)


def forget_bundles() -> None:
    """Drop this process's engine: a later call may find other files at the same path."""
    _renderer.cache_clear()
    _spec.cache_clear()


@functools.lru_cache(maxsize=1)
def _renderer(bundle: Path, samplerate: int) -> OfflineRenderer:
    return OfflineRenderer(bundle, EngineConfig(samplerate=samplerate))


@functools.lru_cache(maxsize=1)
def _spec(bundle: Path) -> BundleSpec:
    return read_spec(bundle)


@functools.lru_cache(maxsize=1)
def _reference(samplerate: int) -> NoteSynth:
    from rtsynth.train.corpus.gm import NoteSynth, load_gm_config

    return NoteSynth(replace(load_gm_config(), sample_rate=samplerate))


@dataclass(frozen=True)
class PairJob(Generic[Measured]):
    """Both play a note and `measure(model, reference, samplerate, key, seconds)` compares them,
    in whichever process runs the job (`measure` a module-level function, so the job pickles);
    None where the reference has no sample for the note."""

    bundle: Path
    samplerate: int
    measure: Callable[[np.ndarray, np.ndarray, int, int, float], Measured]

    def __call__(self, note: PlayedNote) -> Measured | None:
        ref = play_reference(self.samplerate, note)
        if ref is None:
            return None
        model = play_model(self.bundle, self.samplerate, note)
        return self.measure(model, ref, self.samplerate, note.key, note.seconds)
