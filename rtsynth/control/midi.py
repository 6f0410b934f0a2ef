"""MIDI input: python-rtmidi port -> defensive byte parser -> engine events.

Mapping (every event carries its MIDI channel, so each channel keeps its own timbre):
  note on / off                                  -> NoteOn (velocity 0-1; 0 is the engine's note-off) / NoteOff
  CC64 sustain pedal (>= 64 = down)              -> Sustain
  pitch bend                                     -> PitchBend, +-`bend_range` semitones, or what the
                                                    channel's RPN 0 (pitch bend sensitivity) set
  CC1 mod wheel                                  -> MorphPosition x (0-1)
  channel pressure (aftertouch)                  -> Vibrato, 0-`PRESSURE_VIBRATO_CENTS` at the channel's rate
  program change                                 -> SelectTimbre: the model's timbre for that General MIDI
                                                    program (labels.timbre_for_program)
  CC120 all sound off, CC123 all notes off       -> Panic
  CC121 reset all controllers                    -> Sustain off, PitchBend 0, Vibrato 0
  user CC map                                    -> LatentOffset of one latent dimension

CC map file (TOML); each CC's 0-127 spans `range` linearly (CC1 may be remapped this way):
    [cc.74]
    descriptor = "timbre"   # timbre | pitch | dynamics | duration
    index = 0               # latent dimension
    range = [-2.0, 2.0]     # offset at CC value 0 and at 127
"""

from __future__ import annotations

import logging
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rtsynth.config import ConfigError, from_dict
from rtsynth.control.ratelimit import RateLimitedWarnings
from rtsynth.engine.channels import N_CHANNELS
from rtsynth.engine.events import (
    MAX_BEND_SEMITONES,
    Event,
    LatentOffset,
    MorphPosition,
    NoteOff,
    NoteOn,
    Panic,
    PitchBend,
    SelectTimbre,
    Sustain,
    Vibrato,
)
from rtsynth.errors import RtsynthError
from rtsynth.labels import DESCRIPTORS, LATENT_DIMS, MIDI_MAX, timbre_for_program, velocity_unit

if TYPE_CHECKING:
    import rtmidi

    from rtsynth.engine.engine import Engine

log = logging.getLogger(__name__)

CC_MOD_WHEEL, CC_SUSTAIN = 1, 64
PRESSURE_VIBRATO_CENTS = 40.0  # vibrato at full channel pressure (the reference instruments': 7-35 cents)
CC_ALL_SOUND_OFF, CC_RESET_CONTROLLERS, CC_ALL_NOTES_OFF = 120, 121, 123
CC_DATA_ENTRY, CC_DATA_ENTRY_FINE = 6, 38
CC_NRPN_LSB, CC_NRPN_MSB, CC_RPN_LSB, CC_RPN_MSB = 98, 99, 100, 101
PARAMETER_CCS = {CC_DATA_ENTRY, CC_DATA_ENTRY_FINE, CC_NRPN_LSB, CC_NRPN_MSB, CC_RPN_LSB, CC_RPN_MSB}
RESERVED_CCS = {CC_SUSTAIN, *PARAMETER_CCS, *range(120, 128)}  # fixed meanings a CC map may not take over
_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}


class MidiPortError(RtsynthError, RuntimeError):
    """The requested MIDI port does not exist (the message lists the ones that do)."""


# --- raw bytes -> channel messages ------------------------------------------------------


class MidiParser:
    """MIDI byte stream -> complete channel-voice messages.

    Handles running status, real-time bytes interleaved anywhere, sysex and system-common
    messages (skipped), and garbage (data bytes with no status, values outside 0-255),
    which is counted and dropped, never raised.
    """

    def __init__(self) -> None:
        self._status: int | None = None
        self._data: list[int] = []
        self._in_sysex = False
        self.dropped = 0

    def feed(self, data: Iterable[object]) -> list[tuple[int, ...]]:
        out = []
        for byte in data:
            if isinstance(byte, bool) or not isinstance(byte, int) or not 0 <= byte <= 0xFF:
                self.dropped += 1
            elif byte >= 0xF8:
                continue  # real-time (clock, start, active sensing...): no effect on running status
            elif byte == 0xF0 or byte == 0xF7:
                self._in_sysex = byte == 0xF0
                self._cancel()
            elif byte >= 0x80:
                self._in_sysex = False  # any status byte ends an unterminated sysex
                self._cancel()
                if byte < 0xF0:
                    self._status = byte  # system common (F1-F6) leaves no running status
            elif self._in_sysex:
                continue
            elif self._status is None:
                self.dropped += 1
            else:
                self._data.append(byte)
                if len(self._data) == _DATA_BYTES[self._status >> 4]:
                    out.append((self._status, *self._data))
                    self._data = []  # keep the status: running status
        return out

    def feed_message(self, data: Iterable[object]) -> list[tuple[int, ...]]:
        """One transport message (an rtmidi callback): complete by itself, so start clean;
        a stray data byte is then garbage rather than a continuation of the last message."""
        self._in_sysex = False
        self._status, self._data = None, []
        return self.feed(data)

    def _cancel(self) -> None:
        if self._data:
            self.dropped += len(self._data)
        self._status, self._data = None, []


# --- the CC -> latent map ---------------------------------------------------------------


@dataclass(frozen=True)
class CcTarget:
    descriptor: str
    index: int
    range: tuple[float, float] = (-2.0, 2.0)

    def offset(self, value: int) -> float:
        low, high = self.range
        return low + (high - low) * value / MIDI_MAX


def load_cc_map(source: Mapping[str | int, object] | str | Path | None) -> dict[int, CcTarget]:
    """A CC map from a TOML file (its [cc] table) or a dict {cc number: {descriptor, index, range}}."""
    if source is None:
        return {}
    where = "cc map"
    if isinstance(source, (str, Path)):
        where = str(source)
        try:
            source = tomllib.loads(Path(source).read_text()).get("cc", {})
        except FileNotFoundError:
            raise ConfigError(f"CC map file not found: {where}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{where}: not valid TOML: {err}") from None
    if not isinstance(source, Mapping):
        raise ConfigError(f"{where}: expected a table of CC numbers, got {type(source).__name__}")
    return {_cc_number(key, where): _cc_target(table, f"{where}: cc.{key}") for key, table in source.items()}


def _cc_number(key: str | int, where: str) -> int:
    try:
        number = int(key)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {key!r} is not a CC number") from None
    if not 0 <= number <= MIDI_MAX:
        raise ConfigError(f"{where}: CC {number} is outside 0-127")
    if number in RESERVED_CCS:
        raise ConfigError(f"{where}: CC {number} is reserved (sustain, RPN and data entry, channel mode messages)")
    return number


def _cc_target(table: object, where: str) -> CcTarget:
    target = table if isinstance(table, CcTarget) else from_dict(CcTarget, table, where + ".")
    if target.descriptor not in DESCRIPTORS:
        raise ConfigError(f"{where}: descriptor {target.descriptor!r} is not one of {DESCRIPTORS}")
    dims = LATENT_DIMS[target.descriptor]
    if not 0 <= target.index < dims:
        raise ConfigError(f"{where}: index {target.index} outside 0-{dims - 1} for {target.descriptor}")
    if len(target.range) != 2 or not all(math.isfinite(v) for v in target.range):
        raise ConfigError(f"{where}: range must be two finite numbers, got {target.range}")
    return target


# --- channel messages -> engine events --------------------------------------------------


class UnmappedProgram(ValueError):
    """A program change to an instrument the model has no timbre for."""


class BendRanges:
    """Each channel's pitch bend range, as a DAW or keyboard sets it with RPN 0 (pitch bend
    sensitivity): CC101 / CC100 select a registered parameter, data entry (CC6, CC38) sets it in
    semitones and cents. An NRPN selection (CC99 / CC98), the null RPN (127 / 127) or a reset
    of all controllers leaves data entry to nothing here."""

    NULL = 127

    def __init__(self, semitones: float):
        self.semitones = [semitones] * N_CHANNELS
        self._msb, self._lsb = [self.NULL] * N_CHANNELS, [self.NULL] * N_CHANNELS

    def control(self, number: int, value: int, channel: int) -> None:
        """One of PARAMETER_CCS on `channel`."""
        if number == CC_RPN_MSB:
            self._msb[channel] = value
        elif number == CC_RPN_LSB:
            self._lsb[channel] = value
        elif number in (CC_NRPN_MSB, CC_NRPN_LSB):
            self.deselect(channel)
        elif self._msb[channel] == self._lsb[channel] == 0:
            semitones = value if number == CC_DATA_ENTRY else int(self.semitones[channel]) + value / 100
            self.semitones[channel] = min(float(semitones), MAX_BEND_SEMITONES)

    def deselect(self, channel: int) -> None:
        self._msb[channel] = self._lsb[channel] = self.NULL


class MidiMapper:
    """Turns parsed channel messages into engine events (no ports, no engine calls; it keeps
    each channel's bend range). Live input and MIDI files both go through it, so a file renders
    as a keyboard plays."""

    def __init__(self, cc_map: Mapping[int, CcTarget] | None = None, bend_range: float = 2.0):
        self.cc_map = dict(cc_map or {})
        self.bend_ranges = BendRanges(bend_range)

    def events(self, message: tuple[int, ...], timbres: Sequence[str] = ()) -> list[Event]:
        """Events for one channel message; `timbres`: the model's, for program changes."""
        status, *data = message
        kind, channel = status >> 4, status & 0x0F
        if kind == 0x9:
            return [NoteOn(data[0], velocity_unit(data[1]), channel=channel)]
        if kind == 0x8:
            return [NoteOff(data[0], channel=channel)]
        if kind == 0xB:
            return self._control_change(data[0], data[1], channel)
        if kind == 0xC:
            timbre = timbre_for_program(data[0], timbres)
            if timbre is None:
                raise UnmappedProgram(
                    f"program change {data[0]} (channel {channel + 1}): no such instrument in the model"
                )
            return [SelectTimbre(timbre, channel=channel)]
        if kind == 0xE:
            bend = data[0] | (data[1] << 7)
            return [PitchBend(self.bend_ranges.semitones[channel] * _unit_bend(bend), channel=channel)]
        if kind == 0xD:
            return [Vibrato(PRESSURE_VIBRATO_CENTS * data[0] / MIDI_MAX, channel=channel)]
        return []  # polyphonic aftertouch: not mapped

    def _control_change(self, number: int, value: int, channel: int) -> list[Event]:
        if number in PARAMETER_CCS:
            self.bend_ranges.control(number, value, channel)
            return []
        if number in self.cc_map:
            target = self.cc_map[number]
            return [LatentOffset(target.descriptor, (target.offset(value),), target.index, channel=channel)]
        if number == CC_MOD_WHEEL:
            return [MorphPosition(value / MIDI_MAX, channel=channel)]
        if number == CC_SUSTAIN:
            return [Sustain(value >= 64, channel=channel)]
        if number in (CC_ALL_SOUND_OFF, CC_ALL_NOTES_OFF):
            return [Panic(channel=channel)]
        if number == CC_RESET_CONTROLLERS:
            self.bend_ranges.deselect(channel)
            return [Sustain(False, channel=channel), PitchBend(0.0, channel=channel), Vibrato(0.0, channel=channel)]
        return []


def _unit_bend(value: int) -> float:
    """14-bit bend (centre 8192) -> -1..1, reaching exactly +-1 at both ends."""
    centred = value - 8192
    return centred / 8192.0 if centred < 0 else centred / 8191.0


# --- the port ---------------------------------------------------------------------------


class MidiInput:
    """A MIDI input port feeding the engine; `port` is "virtual" (or None) or a name substring."""

    def __init__(
        self,
        engine: Engine,
        port: str | None = None,
        cc_map: Mapping[str | int, object] | str | Path | None = None,
        *,
        bend_range: float = 2.0,
        api: int | None = None,
        client_name: str = "rtsynth",
    ):
        self.engine = engine
        self.requested_port = port
        self.mapper = MidiMapper(load_cc_map(cc_map), bend_range)
        self.parser = MidiParser()
        self.api = api
        self.client_name = client_name
        self.port_name: str | None = None
        self.warnings = RateLimitedWarnings(log)
        self._midi_in: rtmidi.MidiIn | None = None
        self._learning: CcTarget | None = None

    def start(self) -> None:
        import rtmidi  # a compiled extension: imported only when a port is really opened

        try:
            midi_in = rtmidi.MidiIn(self.api or rtmidi.API_UNSPECIFIED, name=self.client_name)
        except rtmidi.RtMidiError as err:
            raise MidiPortError(f"cannot open MIDI input: {err}") from None
        try:
            if self.requested_port in (None, "virtual"):
                midi_in.open_virtual_port("midi_in")
                self.port_name = f"{self.client_name}:midi_in (virtual)"
            else:
                index, self.port_name = find_port(midi_in.get_ports(), self.requested_port)
                midi_in.open_port(index)
        except rtmidi.RtMidiError as err:
            midi_in.delete()
            raise MidiPortError(f"cannot open MIDI port {self.requested_port!r}: {err}") from None
        except Exception:
            midi_in.delete()
            raise
        midi_in.set_callback(self._on_message)
        self._midi_in = midi_in
        log.info("MIDI input on %s", self.port_name)

    def stop(self) -> None:
        if self._midi_in is not None:
            self._midi_in.cancel_callback()
            self._midi_in.close_port()
            self._midi_in.delete()
            self._midi_in = None

    def __enter__(self) -> MidiInput:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_message(self, event: tuple[list[int], float], _data: object = None) -> None:
        """rtmidi's callback thread: nothing may escape from here."""
        arrival = self.engine.clock()
        try:
            for message in self.parser.feed_message(event[0]):
                self.handle(message, arrival)
        except Exception as err:
            self.warnings.warning("MIDI: could not handle %r: %r", event, err)

    def learn(self, descriptor: str, index: int) -> None:
        """MIDI-learn: the next controller moved (any CC without a fixed meaning) drives this
        latent dimension over the default range; ConfigError for an unknown dimension."""
        self._learning = _cc_target({"descriptor": descriptor, "index": index}, "MIDI-learn")

    def bindings(self) -> dict[str, object]:
        """The CC map now in force ({cc: "descriptor index"}) and what is waiting to be learned."""
        waiting = self._learning
        return {
            "map": {str(cc): f"{t.descriptor} {t.index}" for cc, t in sorted(self.mapper.cc_map.items())},
            "learning": None if waiting is None else f"{waiting.descriptor} {waiting.index}",
        }

    def handle(self, message: tuple[int, ...], arrival: float) -> None:
        target = self._learning
        if target is not None and message[0] >> 4 == 0xB and message[1] not in RESERVED_CCS:
            self.mapper.cc_map[message[1]] = target
            self._learning = None
            log.info("MIDI-learn: CC %d now drives %s %d", message[1], target.descriptor, target.index)
        timbres = self._timbres() if message[0] >> 4 == 0xC else ()
        for event in self.mapper.events(message, timbres):
            try:
                self.engine.submit(event, arrival)
            except ValueError as err:
                self.warnings.warning("MIDI: %s refused: %s", event, err)

    def _timbres(self) -> list[str]:
        try:
            return list(self.engine.model_info()["timbres"])
        except Exception as err:
            self.warnings.warning("MIDI: no timbre list for program change: %r", err)
            return []


def find_port(ports: list[str], wanted: str) -> tuple[int, str]:
    """The first port whose name contains `wanted` (case-insensitive), or a MidiPortError listing them."""
    for index, name in enumerate(ports):
        if wanted.lower() in name.lower():
            return index, name
    available = ", ".join(repr(p) for p in ports) or "none"
    raise MidiPortError(
        f"no MIDI input port matching {wanted!r}; available: {available} "
        f"(or use 'virtual' to open a port others connect to)"
    )
