"""The OSC address space (DESIGN section 8) as one typed table.

Each `Address` names its arguments with their accepted types, ranges and optionality, a
docstring, and a builder that turns validated arguments into an engine event (or a
`Request` for queries and file operations, which the server runs itself). The server,
the generated reference (docs/osc.md) and the client tests all read this table, so the
documentation cannot drift from what the server accepts.

Conversions follow what real clients send: Max sends ints, SuperCollider, TouchOSC and Pd
send floats. Numbers are accepted for either, but a float where a whole number is needed
(a note, an index) must be integral, and NaN/inf are never accepted.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict

from rtsynth.engine.events import (
    DEFAULT_VIBRATO_HZ,
    MAX_BEND_SEMITONES,
    MAX_DURATION_S,
    MAX_GAIN,
    MAX_LATENT_OFFSET,
    MAX_MORPH_TIME_MS,
    MAX_VIBRATO_CENTS,
    VIBRATO_HZ,
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
    Vibrato,
)
from rtsynth.errors import RtsynthError
from rtsynth.labels import DESCRIPTORS, LATENT_DIMS, velocity_unit

ERROR_REPLY = "/error"
STATUS_REPLY = "/status/reply"
LATENCY_REPLY = "/latency/reply"
MODEL_INFO_REPLY_PREFIX = "/model/info/"


class OscInputError(RtsynthError, ValueError):
    """Input the server refuses with an /error reply; the message is sent to the client."""


class UnknownAddress(OscInputError):
    pass


class BadArguments(OscInputError):
    pass


RequestOp = Literal["status", "latency", "model_info", "preset_save", "preset_load", "model_load", "reply_port"]


@dataclass(frozen=True)
class Request:
    """Something the server answers itself (queries, named files) rather than a timed event."""

    op: RequestOp
    name: str | None = None
    port: int | None = None


# --- value conversions ------------------------------------------------------------------


def _describe(value: object) -> str:
    kinds = {bool: "a boolean", bytes: "a blob", str: "a string", type(None): "nil", list: "an array"}
    return kinds.get(type(value), type(value).__name__)


def _number(value: object, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadArguments(f"{what}: expected a number, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadArguments(f"{what}: {value} is not a finite number")
    return value


def _as_int(value: object, what: str) -> int:
    number = _number(value, what)
    if isinstance(number, float):
        if not number.is_integer():
            raise BadArguments(f"{what}: expected a whole number, got {number:g}")
        number = int(number)
    return number


def _as_float(value: object, what: str) -> float:
    return float(_number(value, what))


def _as_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadArguments(f"{what}: expected a string, got {_describe(value)}")
    if not value:
        raise BadArguments(f"{what}: empty string")
    return value


def _as_timbre(value: object, what: str) -> str | int:
    if isinstance(value, str):
        return _as_str(value, what)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadArguments(f"{what}: expected a name or an index, got {_describe(value)}")
    index = _as_int(value, what)
    if index < 0:
        raise BadArguments(f"{what}: a timbre index cannot be negative ({index})")
    return index


Scalar = str | int | float  # what a Kind converts an OSC argument into
Parsed = dict[str, Any]  # argument name -> value, as its Arg parsed it (a Scalar, a tuple of them, or None)


def _velocity_unit(value: float, raw: object) -> float:
    """The velocity rule: ints and values above 1 are MIDI scale (0-127), floats <= 1 are 0-1."""
    return velocity_unit(value) if isinstance(raw, int) or value > 1.0 else value


@dataclass(frozen=True)
class Kind:
    tags: str  # OSC type tags accepted, as shown in the reference
    convert: Callable[[object, str], Scalar]
    finish: Callable[[float, object], float] | None = None  # numbers: after the range check


INT = Kind("i", _as_int)
FLOAT = Kind("f", _as_float)
STRING = Kind("s", _as_str)
TIMBRE = Kind("s|i", _as_timbre)
VELOCITY = Kind("f|i", _as_float, _velocity_unit)


@dataclass(frozen=True)
class Arg:
    name: str
    kind: Kind
    lo: float | None = None
    hi: float | None = None
    optional: bool = False
    repeat: int = 1  # > 1: that many values of this kind, built into a tuple
    unit: str = ""
    doc: str = ""

    def parse(self, raw: object, where: str) -> Scalar:
        value = self.kind.convert(raw, where)
        if isinstance(value, str):
            return value
        too_low = self.lo is not None and value < self.lo
        if too_low or (self.hi is not None and value > self.hi):
            raise BadArguments(f"{where}: {value:g} is outside {self.range_text()}")
        return value if self.kind.finish is None else self.kind.finish(value, raw)

    def range_text(self) -> str:
        if self.lo is None and self.hi is None:
            return ""
        if self.hi is None:
            return f">= {self.lo:g}"
        if self.lo is None:
            return f"<= {self.hi:g}"
        return f"{self.lo:g} to {self.hi:g}"


@dataclass(frozen=True)
class Address:
    path: str  # ends in "/<i>" when `indices` > 0
    args: tuple[Arg, ...]
    doc: str
    build: Callable[[Parsed, float | None], Event | Request]
    reply: str = ""
    indices: int = 0  # number of valid <i> values (0 = a plain address)

    def signature(self) -> str:
        parts = [f"{a.kind.tags} {a.name}" + (f" x{a.repeat}" if a.repeat > 1 else "") for a in self.args]
        return " ".join(f"[{p}]" if a.optional else p for p, a in zip(parts, self.args)) or "no arguments"

    def parse_args(self, params: Sequence[object]) -> Parsed:
        required = sum(a.repeat for a in self.args if not a.optional)
        most = sum(a.repeat for a in self.args)
        if not required <= len(params) <= most:
            raise BadArguments(f"{self.path} expects {self.signature()}, got {len(params)} argument(s)")
        values: Parsed = {}
        position = 0
        for arg in self.args:
            if position >= len(params):
                values[arg.name] = None  # an optional argument left out
                continue
            chunk = params[position : position + arg.repeat]
            parsed = [arg.parse(raw, f"{self.path} {arg.name}") for raw in chunk]
            values[arg.name] = tuple(parsed) if arg.repeat > 1 else parsed[0]
            position += arg.repeat
        return values


class Dispatcher:
    """Looks up an address (exact, or a '/<i>' template) and builds its event or request."""

    def __init__(self, addresses: Iterable[Address]):
        self.addresses: tuple[Address, ...] = tuple(addresses)
        self._by_path = {a.path: a for a in self.addresses}
        if len(self._by_path) != len(self.addresses):
            raise ValueError("duplicate OSC addresses in the table")

    def resolve(self, path: str) -> tuple[Address, int | None]:
        address = self._by_path.get(path)
        if address is not None and not address.indices:
            return address, None
        head, _, tail = path.rpartition("/")
        template = self._by_path.get(f"{head}/<i>")
        if template is not None:
            if tail.isascii() and tail.isdigit() and int(tail) < template.indices:
                return template, int(tail)
            raise UnknownAddress(f"{path}: the index must be 0 to {template.indices - 1}")
        close = difflib.get_close_matches(path, list(self._by_path), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UnknownAddress(f"unknown address {path!r}{hint}")

    def build(self, path: str, params: Sequence[object], at: float | None = None) -> Event | Request:
        """Validate and build; raises OscInputError with a message meant for the client."""
        address, index = self.resolve(path)
        values = address.parse_args(params)
        if index is not None:
            values["index"] = index
        return address.build(values, at)


# --- the table --------------------------------------------------------------------------

NOTE = Arg("note", INT, 0, 127, doc="MIDI note number")
VEL = Arg("velocity", VELOCITY, 0, 127, doc="see the velocity rule")
DURATION = Arg("duration", FLOAT, 0.001, MAX_DURATION_S, unit="s", doc="selects the duration latent")
TIMBRE_ARG = Arg("timbre", TIMBRE, optional=True, doc="cluster name or index; default: the current timbre point")
CLUSTER = Arg("timbre", TIMBRE, doc="cluster name or index")


class _Range(TypedDict):
    lo: float
    hi: float


UNIT: _Range = {"lo": 0.0, "hi": 1.0}


def _note_on(a: Parsed, at: float | None) -> Event:
    if a["velocity"] == 0:  # MIDI convention, and what Max's kslider sends on release
        return NoteOff(a["note"], at=at)
    return NoteOn(a["note"], a["velocity"], a["duration"] or None, a["timbre"], at=at)


def _latent_addresses() -> list[Address]:
    out = []
    for name in DESCRIPTORS:
        dims = LATENT_DIMS[name]
        offset = Arg("offset", FLOAT, -MAX_LATENT_OFFSET, MAX_LATENT_OFFSET, repeat=dims)
        out.append(
            Address(
                f"/latent/{name}",
                (offset,),
                f"Offsets added to all {dims} dimensions of the {name} latent.",
                _offsets_of(name),
            )
        )
        one = Arg("offset", FLOAT, -MAX_LATENT_OFFSET, MAX_LATENT_OFFSET)
        out.append(
            Address(
                f"/latent/{name}/<i>",
                (one,),
                f"Offset of one dimension i (0 to {dims - 1}) of the {name} latent.",
                _offset_of(name),
                indices=dims,
            )
        )
    return out


def _offsets_of(name: str) -> Callable[[Parsed, float | None], Event]:
    return lambda a, at: LatentOffset(name, a["offset"], at=at)


def _offset_of(name: str) -> Callable[[Parsed, float | None], Event]:
    return lambda a, at: LatentOffset(name, (a["offset"],), a["index"], at=at)


def _morph_corner(corner: str) -> Address:
    role = {
        "a": "x = 0 (and top-left of the xy pad)",
        "b": "x = 1 (top-right)",
        "c": "bottom-left of the xy pad",
        "d": "bottom-right of the xy pad",
    }[corner]
    return Address(
        f"/morph/{corner}",
        (CLUSTER,),
        f"Morph corner {corner}: the cluster at {role}.",
        lambda a, at: MorphCorner(corner, a["timbre"], at=at),
    )


def _name_request(op: RequestOp) -> Callable[[Parsed, float | None], Request]:
    return lambda a, at: Request(op, a["name"])


NAME = Arg("name", STRING, doc="a plain name: no folders, no '..'")

ADDRESSES: tuple[Address, ...] = (
    Address(
        "/note/on",
        (
            NOTE,
            VEL,
            replace(
                DURATION,
                lo=0.0,
                optional=True,
                doc="selects the duration latent; 0 = the default, so a timbre can follow",
            ),
            TIMBRE_ARG,
        ),
        "Start a note; it sounds until /note/off. Velocity 0 is a note-off.",
        _note_on,
    ),
    Address(
        "/note/off", (NOTE,), "Release a note (the release envelope ends it).", lambda a, at: NoteOff(a["note"], at=at)
    ),
    Address(
        "/note",
        (NOTE, VEL, DURATION, TIMBRE_ARG),
        "One-shot note of the given duration (uses the duration latent); no note-off needed.",
        lambda a, at: NoteOn(a["note"], a["velocity"], a["duration"], a["timbre"], one_shot=True, at=at),
    ),
    Address(
        "/timbre",
        (CLUSTER,),
        "Select a timbre cluster (its mean becomes the timbre point).",
        lambda a, at: SelectTimbre(a["timbre"], at=at),
    ),
    *(_morph_corner(c) for c in "abcd"),
    Address(
        "/morph/x",
        (Arg("x", FLOAT, **UNIT),),
        "Two-cluster morph position: 0 = a, 1 = b.",
        lambda a, at: MorphPosition(a["x"], at=at),
    ),
    Address(
        "/morph/xy",
        (Arg("x", FLOAT, **UNIT), Arg("y", FLOAT, **UNIT)),
        "Four-corner morph position: (0,0) = a, (1,0) = b, (0,1) = c, (1,1) = d.",
        lambda a, at: MorphPosition(a["x"], a["y"], at=at),
    ),
    Address(
        "/morph/time",
        (Arg("time", FLOAT, 0.0, MAX_MORPH_TIME_MS, unit="ms"),),
        "Smoothing ramp for moves of the timbre point.",
        lambda a, at: MorphTime(a["time"], at=at),
    ),
    *_latent_addresses(),
    Address("/latent/reset", (), "Set all latent offsets back to zero.", lambda a, at: LatentReset(at=at)),
    Address(
        "/sustain",
        (Arg("on", FLOAT, **UNIT, doc=">= 0.5 is pedal down"),),
        "Sustain pedal.",
        lambda a, at: Sustain(a["on"] >= 0.5, at=at),
    ),
    Address(
        "/bend",
        (Arg("semitones", FLOAT, -MAX_BEND_SEMITONES, MAX_BEND_SEMITONES),),
        "Pitch bend of all notes, in semitones.",
        lambda a, at: PitchBend(a["semitones"], at=at),
    ),
    Address(
        "/vibrato",
        (
            Arg("depth", FLOAT, 0.0, MAX_VIBRATO_CENTS, unit="cents", doc="either way; 0 = none"),
            Arg(
                "rate", FLOAT, *VIBRATO_HZ, optional=True, unit="Hz", doc=f"default {DEFAULT_VIBRATO_HZ:g}, then as set"
            ),
        ),
        "Vibrato of all notes, in f0: new notes swell into it, sounding ones glide to it.",
        lambda a, at: Vibrato(a["depth"], a["rate"], at=at),
    ),
    Address(
        "/gain",
        (Arg("gain", FLOAT, 0.0, MAX_GAIN, doc="linear"),),
        "Master gain (1 = unity).",
        lambda a, at: Gain(a["gain"], at=at),
    ),
    Address("/panic", (), "Silence all voices at once.", lambda a, at: Panic(at=at)),
    Address(
        "/preset/save",
        (NAME,),
        "Save the latent state as name.json in the presets folder.",
        _name_request("preset_save"),
        reply="/preset/save/reply s name",
    ),
    Address(
        "/preset/load",
        (NAME,),
        "Load name.json from the presets folder.",
        _name_request("preset_load"),
        reply="/preset/load/reply s name",
    ),
    Address(
        "/model/load",
        (NAME,),
        "Hot-swap to the bundle folder name in the bundles folder "
        "(loads in the background; a bad bundle is refused and the old one keeps playing).",
        _name_request("model_load"),
        reply="/model/load/reply s name (loading has started)",
    ),
    Address(
        "/reply/port",
        (Arg("port", INT, 1024, 65535),),
        "Send this client's replies to this port instead of its source port "
        "(Max's udpsend cannot receive, so a Max patch listens with udpreceive on a fixed port). "
        "Only for a client on this machine (from elsewhere a source address can be forged), "
        "to an unprivileged port other than the server's.",
        lambda a, at: Request("reply_port", port=a["port"]),
        reply="/reply/port/reply i port",
    ),
    Address(
        "/model/info",
        (),
        "Describe the loaded model.",
        lambda a, at: Request("model_info"),
        reply=f"{MODEL_INFO_REPLY_PREFIX}<field> values ...: one message per field, e.g. /model/info/timbres s s ...",
    ),
    Address(
        "/status",
        (),
        "Engine status.",
        lambda a, at: Request("status"),
        reply=f"{STATUS_REPLY} s key, value, s key, value ... (voices, cpu, xruns, ...)",
    ),
    Address(
        "/latency",
        (),
        "Event-to-first-sample latency.",
        lambda a, at: Request("latency"),
        reply=f"{LATENCY_REPLY} f p50_ms f p99_ms (nan before the first note)",
    ),
)

DISPATCHER = Dispatcher(ADDRESSES)
