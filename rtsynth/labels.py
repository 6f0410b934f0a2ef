"""Label vocabularies: the four descriptors, the instruments, dynamics and duration classes.

Training writes the vocabulary of its corpus into the dataset cache and then into the
bundle; the runtime reads it back with `Vocabulary.from_dict`. The tables here are the
defaults for the 14 TinySOL / GM-SOL instruments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DESCRIPTORS: tuple[str, ...] = ("timbre", "pitch", "dynamics", "duration")
"""Order of the descriptors everywhere: latents, labels, classifiers (T, P, V, D)."""

LATENT_DIMS: dict[str, int] = {"timbre": 8, "pitch": 4, "dynamics": 4, "duration": 4}
LATENT_SIZE = sum(LATENT_DIMS.values())


def latent_slices() -> dict[str, slice]:
    """Where each descriptor's latent sits in the concatenated z_S."""
    return STANDARD_LAYOUT.slices()


@dataclass(frozen=True)
class LatentLayout:
    """Which descriptors a model has a latent for, and its size, in DESCRIPTORS order.

    Paper 000's models have all four (T8 P4 V4 D4); others have fewer (paper 003: timbre
    and pitch only). A descriptor without a latent has 0 dims: its slice of z is empty, so
    code that assembles z per descriptor needs no special case, and callers that address a
    latent by name ask `has` first to say clearly which latents the model lacks.
    """

    dims: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        names = [d for d, _ in self.dims]
        if names != [d for d in DESCRIPTORS if d in names] or any(n < 1 for _, n in self.dims):
            raise ValueError(
                f"a latent layout lists known descriptors in {DESCRIPTORS} order, each >= 1 dim: {self.dims}"
            )

    @staticmethod
    def of(dims: dict[str, int]) -> LatentLayout:
        return LatentLayout(tuple((d, int(dims[d])) for d in DESCRIPTORS if dims.get(d)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.dims)

    @property
    def size(self) -> int:
        return sum(n for _, n in self.dims)

    def has(self, descriptor: str) -> bool:
        return descriptor in self.names

    def dim(self, descriptor: str) -> int:
        return dict(self.dims).get(descriptor, 0)

    def slices(self) -> dict[str, slice]:
        """Every descriptor's slice of z; an empty one where the model has no such latent."""
        out, start = {}, 0
        for name in DESCRIPTORS:
            out[name] = slice(start, start + self.dim(name))
            start += self.dim(name)
        return out

    def missing(self, descriptor: str) -> str:
        """The error text for a request to a latent this layout lacks."""
        return f"this model has no {descriptor} latent (it has {', '.join(self.names)})"

    def describe(self) -> str:
        return " ".join(f"{d[0].upper()}{n}" for d, n in self.dims)


STANDARD_LAYOUT = LatentLayout.of(LATENT_DIMS)


@dataclass(frozen=True)
class Instrument:
    name: str  # our canonical name, used as the timbre label
    tinysol: str  # TinySOL's abbreviation ("Instrument (abbr.)" column)
    full_name: str  # TinySOL's "Instrument (in full)"
    family: str
    gm_program: int  # General MIDI program, 0-based


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("tuba", "BTb", "Bass Tuba", "Brass", 58),
    Instrument("horn", "Hn", "French Horn", "Brass", 60),
    Instrument("trombone", "Tbn", "Trombone", "Brass", 57),
    Instrument("trumpet", "TpC", "Trumpet in C", "Brass", 56),
    Instrument("accordion", "Acc", "Accordion", "Keyboards", 21),
    Instrument("contrabass", "Cb", "Contrabass", "Strings", 43),
    Instrument("violin", "Vn", "Violin", "Strings", 40),
    Instrument("viola", "Va", "Viola", "Strings", 41),
    Instrument("cello", "Vc", "Violoncello", "Strings", 42),
    Instrument("bassoon", "Bn", "Bassoon", "Winds", 70),
    Instrument("clarinet", "ClBb", "Clarinet in Bb", "Winds", 71),
    Instrument("flute", "Fl", "Flute", "Winds", 73),
    Instrument("oboe", "Ob", "Oboe", "Winds", 68),
    Instrument("alto_sax", "ASax", "Alto Saxophone", "Winds", 65),
)
INSTRUMENT_BY_NAME = {i.name: i for i in INSTRUMENTS}
INSTRUMENT_BY_TINYSOL = {i.tinysol: i for i in INSTRUMENTS}

MIDI_MAX = 127  # the top of MIDI's 7-bit values (velocity, controllers)


def velocity_unit(velocity: float) -> float:
    """A MIDI velocity 0-127 as the engine's 0-1 (velocity 0 is a note-off: the engine's rule)."""
    return velocity / MIDI_MAX


def timbre_for_program(program: int, timbres: Sequence[str]) -> int | None:
    """The timbre a General MIDI program change selects: the timbre that is that GM instrument,
    else the one of the same GM family (8 programs: strings, brass, reed...) nearest in program
    number, else None. A model whose timbres are no GM instruments takes programs as indices."""
    programs = {i: INSTRUMENT_BY_NAME[name].gm_program for i, name in enumerate(timbres) if name in INSTRUMENT_BY_NAME}
    if not programs:
        return program if 0 <= program < len(timbres) else None
    family = [i for i, p in programs.items() if p // 8 == program // 8]
    return min(family, key=lambda i: (abs(programs[i] - program), i)) if family else None


DYNAMICS: tuple[str, ...] = ("pp", "mf", "ff")
DYNAMICS_VELOCITY: dict[str, int] = {"pp": 33, "mf": 80, "ff": 112}
"""MIDI velocities for the notated dynamics (the usual notation-software mapping)."""

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: int) -> str:
    """MIDI 60 -> 'C4' (scientific pitch notation, as TinySOL names its files)."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def parse_note_name(name: str) -> int:
    """'C#4' -> 61, 'A0' -> 21; raises ValueError naming the bad input."""
    head = name[:2] if len(name) > 1 and name[1] in "#b" else name[:1]
    try:
        octave = int(name[len(head) :])
        if head.endswith("b"):
            pc = (NOTE_NAMES.index(head[0]) - 1) % 12
            octave -= head[0] == "C"
        else:
            pc = NOTE_NAMES.index(head)
    except (ValueError, IndexError):
        raise ValueError(f"not a note name: {name!r}") from None
    return 12 * (octave + 1) + pc


def duration_class(seconds: float, step: float = 0.25, n_classes: int = 24) -> int:
    """Class index of a note's sounding duration: nearest multiple of `step`, from 1 step.

    Class k stands for (k + 1) * step seconds, so 24 classes of 250 ms span 0.25-6.0 s,
    which covers the 5.94 s notes of the paper. Shorter notes go to the first class,
    longer ones to the last.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be a finite, non-negative number of seconds, got {seconds}")
    steps = math.floor(seconds / step + 0.5)
    return min(max(steps, 1), n_classes) - 1


def duration_class_seconds(index: int, step: float = 0.25) -> float:
    return (index + 1) * step


@dataclass(frozen=True)
class Vocabulary:
    """The classes of each descriptor for one dataset (and hence one model).

    timbre: instrument names; pitch: MIDI numbers; dynamics: names; duration: class
    seconds. A label's class index is its position in the tuple.
    """

    timbre: tuple[str, ...]
    pitch: tuple[int, ...]
    dynamics: tuple[str, ...]
    duration: tuple[float, ...]

    def classes(self, descriptor: str) -> tuple[str | int | float, ...]:
        classes: tuple[str | int | float, ...] = getattr(self, descriptor)
        return classes

    def sizes(self) -> dict[str, int]:
        return {d: len(self.classes(d)) for d in DESCRIPTORS}

    def index(self, descriptor: str, value: str | int | float) -> int:
        try:
            return self.classes(descriptor).index(value)
        except ValueError:
            raise KeyError(f"{descriptor} {value!r} is not in the vocabulary") from None

    def to_dict(self) -> dict[str, list[str | int | float]]:
        return {d: list(self.classes(d)) for d in DESCRIPTORS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[Any]]) -> Vocabulary:
        missing = [d for d in DESCRIPTORS if d not in data]
        if missing:
            raise ValueError(f"vocabulary lacks descriptors {missing}")
        return cls(
            timbre=tuple(str(x) for x in data["timbre"]),
            pitch=tuple(int(x) for x in data["pitch"]),
            dynamics=tuple(str(x) for x in data["dynamics"]),
            duration=tuple(float(x) for x in data["duration"]),
        )
