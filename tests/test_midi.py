"""MIDI input: the raw-byte parser, the event mapping, and real ports on a JACK dummy server."""

from __future__ import annotations

import os
import queue
import random
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from engine_spy import engine, real_engine  # noqa: F401 (fixtures)

from rtsynth.config import ConfigError
from rtsynth.control.midi import (
    CcTarget,
    MidiInput,
    MidiMapper,
    MidiParser,
    MidiPortError,
    UnmappedProgram,
    load_cc_map,
)
from rtsynth.engine.events import (
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

WAIT_S = 20.0  # generous: a loaded 2-core machine; never a timing assertion
RESEND_S, RESENDS = 2.0, 10  # a message JACK lost on a loaded machine is sent again


# --- raw bytes -> messages --------------------------------------------------------------


def test_complete_messages():
    assert MidiParser().feed([0x90, 60, 100, 0x80, 60, 0, 0xC3, 5]) == [(0x90, 60, 100), (0x80, 60, 0), (0xC3, 5)]


def test_running_status():
    assert MidiParser().feed([0x91, 60, 100, 62, 90, 64, 0]) == [(0x91, 60, 100), (0x91, 62, 90), (0x91, 64, 0)]


def test_running_status_survives_realtime_bytes_but_not_system_common():
    parser = MidiParser()
    assert parser.feed([0x90, 0xF8, 60, 0xFE, 100, 0xFA, 62, 100]) == [(0x90, 60, 100), (0x90, 62, 100)]
    assert parser.feed([0xF2, 1, 2, 64, 100]) == []  # song position ends running status


def test_sysex_is_skipped_terminated_or_not():
    assert MidiParser().feed([0xF0, 0x7E, 1, 2, 0xF7, 0x90, 60, 1]) == [(0x90, 60, 1)]
    assert MidiParser().feed([0xF0, 0x7E, 1, 2, 0xB0, 64, 127]) == [(0xB0, 64, 127)]


def test_a_status_byte_interrupting_a_message_drops_the_partial_one():
    parser = MidiParser()
    assert parser.feed([0x90, 60, 0x80, 61, 0]) == [(0x80, 61, 0)]
    assert parser.dropped == 1


def test_garbage_is_dropped_and_counted():
    parser = MidiParser()
    assert parser.feed([60, 100, -1, 256, "x", None, True, 3.5, 0x90, 60, 100]) == [(0x90, 60, 100)]
    assert parser.dropped == 8


def test_one_transport_message_does_not_continue_the_last():
    parser = MidiParser()
    assert parser.feed_message([0x90, 60, 100]) == [(0x90, 60, 100)]
    assert parser.feed_message([61, 100]) == []  # a stray data-only message, not running status


def test_random_byte_streams_never_crash_and_yield_only_well_formed_messages():
    rng = random.Random(7)
    parser = MidiParser()
    for _ in range(200):
        out = parser.feed(rng.randbytes(rng.randrange(1, 500)))
        for status, *data in out:
            assert 0x80 <= status < 0xF0
            assert len(data) == (1 if status >> 4 in (0xC, 0xD) else 2)
            assert all(0 <= d < 0x80 for d in data)


# --- messages -> events -----------------------------------------------------------------


@pytest.mark.parametrize(
    "message, expected",
    [
        ((0x90, 60, 127), [NoteOn(60, 1.0)]),
        ((0x95, 61, 64), [NoteOn(61, 64 / 127, channel=5)]),
        ((0x92, 60, 0), [NoteOn(60, 0.0, channel=2)]),  # the engine's rule: velocity 0 is a note-off
        ((0x80, 60, 64), [NoteOff(60)]),
        ((0xB0, 64, 64), [Sustain(True)]),
        ((0xB0, 64, 63), [Sustain(False)]),
        ((0xB1, 1, 127), [MorphPosition(1.0, channel=1)]),
        ((0xE0, 0, 64), [PitchBend(0.0)]),
        ((0xE0, 0, 0), [PitchBend(-2.0)]),
        ((0xEF, 127, 127), [PitchBend(2.0, channel=15)]),
        ((0xB0, 120, 0), [Panic()]),
        ((0xB3, 123, 0), [Panic(channel=3)]),
        ((0xB0, 121, 0), [Sustain(False), PitchBend(0.0), Vibrato(0.0)]),
        ((0xD2, 127), [Vibrato(40.0, channel=2)]),  # channel pressure: vibrato depth
        ((0xD0, 0), [Vibrato(0.0)]),
        ((0xB0, 7, 100), []),  # unmapped CC
        ((0xA0, 60, 10), []),  # poly aftertouch
    ],
)
def test_mapping(message, expected):
    assert MidiMapper().events(message) == expected


def test_program_changes_follow_general_midi():
    mapper, timbres = MidiMapper(), ("tuba", "violin", "cello", "flute", "oboe")
    assert mapper.events((0xC0, 73), timbres) == [SelectTimbre(3)]  # GM 74 Flute
    assert mapper.events((0xC2, 42), timbres) == [SelectTimbre(2, channel=2)]  # GM 43 Cello
    assert mapper.events((0xC0, 44), timbres) == [SelectTimbre(2)]  # Tremolo Strings: the nearest string
    with pytest.raises(UnmappedProgram, match="program change 0"):
        mapper.events((0xC0, 0), timbres)  # Acoustic Grand Piano: no keyboard timbre


def test_program_changes_are_indices_for_a_model_without_gm_timbres():
    mapper = MidiMapper()
    assert mapper.events((0xC4, 2), ("a", "b", "c")) == [SelectTimbre(2, channel=4)]  # no GM names: an index
    with pytest.raises(UnmappedProgram):
        mapper.events((0xC0, 7), ("a", "b", "c"))


def test_bend_range_is_configurable():
    assert MidiMapper(bend_range=12.0).events((0xE0, 127, 127)) == [PitchBend(12.0)]


def test_rpn_0_sets_a_channels_bend_range_and_nothing_else_does():
    mapper = MidiMapper()
    for message in ((0xB1, 101, 0), (0xB1, 100, 0), (0xB1, 6, 12), (0xB1, 38, 50)):
        assert mapper.events(message) == []  # pitch bend sensitivity: 12 semitones 50 cents
    assert mapper.events((0xE1, 127, 127)) == [PitchBend(12.5, channel=1)]
    assert mapper.events((0xE0, 127, 127)) == [PitchBend(2.0)]  # the other channels keep theirs
    for message in ((0xB1, 99, 5), (0xB1, 98, 0), (0xB1, 6, 3)):  # an NRPN's data entry
        mapper.events(message)
    for message in ((0xB1, 101, 0), (0xB1, 100, 0), (0xB1, 6, 48), (0xB1, 121, 0), (0xB1, 6, 3)):
        mapper.events(message)  # 48 is past the engine's reach; after a reset data entry sets nothing
    assert mapper.events((0xE1, 0, 0)) == [PitchBend(-24.0, channel=1)]


def test_a_cc_map_may_not_take_over_the_parameter_ccs():
    with pytest.raises(ConfigError, match="CC 6 is reserved"):
        load_cc_map({6: {"descriptor": "timbre", "index": 0}})


CC_MAP_TOML = """
[cc.74]
descriptor = "timbre"
index = 3
range = [-1.0, 3.0]

[cc.1]
descriptor = "dynamics"
index = 0
"""


def test_cc_map_file_maps_a_cc_onto_one_latent_dimension(tmp_path):
    path = tmp_path / "cc.toml"
    path.write_text(CC_MAP_TOML)
    cc_map = load_cc_map(path)
    assert cc_map == {74: CcTarget("timbre", 3, (-1.0, 3.0)), 1: CcTarget("dynamics", 0)}
    mapper = MidiMapper(cc_map)
    assert mapper.events((0xB2, 74, 0)) == [LatentOffset("timbre", (-1.0,), 3, channel=2)]
    assert mapper.events((0xB2, 74, 127)) == [LatentOffset("timbre", (3.0,), 3, channel=2)]
    assert mapper.events((0xB0, 1, 127)) == [LatentOffset("dynamics", (2.0,), 0)]  # the map wins over CC1


@pytest.mark.parametrize(
    "source, words",
    [
        ({74: {"descriptor": "colour", "index": 0}}, "colour"),
        ({74: {"descriptor": "pitch", "index": 4}}, "index 4 outside 0-3"),
        ({74: {"descriptor": "pitch", "index": 0, "range": [0.0, float("nan")]}}, "finite"),
        ({74: {"descriptor": "pitch", "index": 0, "speed": 2}}, "unknown keys"),
        ({74: {"descriptor": "pitch", "index": "zero"}}, "expected int"),
        ({64: {"descriptor": "pitch", "index": 0}}, "reserved"),
        ({128: {"descriptor": "pitch", "index": 0}}, "outside 0-127"),
        ({"mod": {"descriptor": "pitch", "index": 0}}, "not a CC number"),
        ([1, 2], "expected a table"),
    ],
)
def test_bad_cc_maps_are_clear_errors(source, words):
    with pytest.raises(ConfigError, match=words):
        load_cc_map(source)


def test_bad_cc_map_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_cc_map(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[cc.74\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_cc_map(tmp_path / "bad.toml")


def test_the_callback_never_raises(engine):
    midi = MidiInput(engine)  # not started: the callback is called as rtmidi would
    for junk in [([0x90, 60], 0.0), ([], 0.0), (None, 0.0), ([0x90, 999, 1], 0.0), "x", ()]:
        midi._on_message(junk)
    midi._on_message(([0x90, 60, 100], 0.0))
    assert engine.drain() == [NoteOn(60, 100 / 127)]


# --- real ports on a JACK dummy server --------------------------------------------------


def start_jackd(name: str, log_path) -> subprocess.Popen:
    """A JACK dummy server named `name`, up and answering, or a failure quoting its log."""
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    waited = subprocess.run(["jack_wait", "-s", name, "-w", "-t", "30"], capture_output=True, text=True)
    if "available" in waited.stdout:
        return server
    stop_jackd(server)
    raise RuntimeError(
        f"JACK dummy server {name} did not start: {waited.stdout.strip()}; its log: {Path(log_path).read_text()[-800:]}"
    )


def stop_jackd(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory):
    """A private JACK server (dummy driver), so tests never touch a real or shared one."""
    if not shutil.which("jackd") or not shutil.which("jack_wait"):
        pytest.skip("jackd (jackd2) is not installed")
    name = f"rtsynth-midi-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    server = start_jackd(name, tmp_path_factory.mktemp("jack") / "jackd.log")
    patch = pytest.MonkeyPatch()
    patch.setenv("JACK_DEFAULT_SERVER", name)
    patch.setenv("JACK_NO_START_SERVER", "1")
    yield name
    patch.undo()
    stop_jackd(server)


@pytest.fixture
def jack_midi(jack_server):
    import rtmidi

    return rtmidi


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@pytest.fixture
def sender(jack_midi):
    out = jack_midi.MidiOut(jack_midi.API_UNIX_JACK, name=unique("kbd"))
    yield out
    out.close_port()
    out.delete()


PROBE = [0x8F, 0, 0]  # note-off of an unplayed note on channel 16: harmless, and visible as an event
PROBE_EVENT = NoteOff(0, channel=15)


def wait_until_connected(sender, engine) -> None:
    """JACK makes a new connection live at a later cycle (much later on a loaded machine);
    until then messages go nowhere. Probe until one arrives."""
    for _ in range(int(WAIT_S / 0.25)):
        sender.send_message(PROBE)
        try:
            if engine.next_event(0.25)[0] == PROBE_EVENT:
                return
        except queue.Empty:
            continue
    raise AssertionError(f"the JACK MIDI connection did not come up within {WAIT_S} s")


def connect_to(sender, client_name: str, engine) -> None:
    ports = sender.get_ports()
    matches = [i for i, p in enumerate(ports) if p.startswith(client_name + ":")]
    assert matches, f"{client_name} not among {ports}"
    sender.open_port(matches[0])
    wait_until_connected(sender, engine)


def deliver(sender, engine, message: list[int], previous) -> object:
    """Send one message and return the event it became.

    On a loaded machine JACK repeats or loses MIDI: a client that misses its cycle leaves its
    last buffer in place (seen here: one note-on delivered seven times), and a cycle the
    receiver misses is gone. So a message is resent until its event comes, and a late repeat
    of the previous message's event is skipped (no two messages here map to the same event).
    """
    for _ in range(RESENDS):
        sender.send_message(message)
        deadline = time.monotonic() + RESEND_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = engine.next_event(left)[0]
            except queue.Empty:
                break
            if event != PROBE_EVENT and event != previous:
                return event
    raise AssertionError(f"MIDI message {message} produced no event in {RESENDS} sends")


@pytest.mark.slow
def test_virtual_port_receives_notes_pedal_bend_program_mod_wheel_and_cc_map(jack_midi, sender, engine):
    client = unique("rtsynth")
    cc_map = {74: {"descriptor": "pitch", "index": 2, "range": [0.0, 1.27]}}
    with MidiInput(engine, "virtual", cc_map, api=jack_midi.API_UNIX_JACK, client_name=client) as midi:
        assert "virtual" in midi.port_name
        connect_to(sender, client, engine)
        messages = [
            [0x90, 60, 127],
            [0xB0, 64, 127],
            [0x80, 60, 0],
            [0x91, 62, 64],
            [0x91, 62, 0],
            [0xE0, 0, 0],
            [0xD0, 0],  # channel pressure released (a depth would be refused: this model has no f0)
            [0xC2, 40],  # GM 41 Violin
            [0xB0, 1, 127],
            [0xB0, 74, 100],
            [0xB0, 123, 0],
        ]
        received = []
        for message in messages:
            received.append(deliver(sender, engine, message, received[-1] if received else None))
    assert received == [
        NoteOn(60, 1.0),
        Sustain(True),
        NoteOff(60),
        NoteOn(62, 64 / 127, channel=1),
        NoteOn(62, 0.0, channel=1),  # the engine turns velocity 0 into a note-off
        PitchBend(-2.0),
        Vibrato(0.0),
        SelectTimbre(1, channel=2),
        MorphPosition(1.0),
        LatentOffset("pitch", (1.0,), 2),
        Panic(),
    ]
    assert all(e.at is None for e in received)


@pytest.mark.slow
def test_garbage_over_jack_does_not_stop_the_input(jack_midi, sender, engine):
    client = unique("rtsynth")
    with MidiInput(engine, api=jack_midi.API_UNIX_JACK, client_name=client):
        connect_to(sender, client, engine)
        for junk in ([0x3C], [0x90, 60], [0xFF, 1, 2], [0xF8], [0xF0, 1, 2, 0xF7]):
            sender.send_message(junk)
        assert deliver(sender, engine, [0x90, 64, 127], None) == NoteOn(64, 1.0)


@pytest.mark.slow
def test_connects_to_a_named_port_by_substring(jack_midi, engine):
    keyboard_name = unique("Keyboard")
    keyboard = jack_midi.MidiOut(jack_midi.API_UNIX_JACK, name=keyboard_name)
    keyboard.open_virtual_port("out")
    try:
        midi = MidiInput(engine, keyboard_name.lower(), api=jack_midi.API_UNIX_JACK, client_name=unique("rtsynth"))
        with midi:
            assert midi.port_name == f"{keyboard_name}:out"
            wait_until_connected(keyboard, engine)
            assert deliver(keyboard, engine, [0x93, 67, 127], None) == NoteOn(67, 1.0, channel=3)
    finally:
        keyboard.close_port()
        keyboard.delete()


@pytest.mark.slow
def test_a_missing_port_lists_the_available_ones(jack_midi, engine):
    keyboard_name = unique("Piano")
    keyboard = jack_midi.MidiOut(jack_midi.API_UNIX_JACK, name=keyboard_name)
    keyboard.open_virtual_port("out")
    try:
        midi = MidiInput(engine, "no such synth", api=jack_midi.API_UNIX_JACK)
        with pytest.raises(MidiPortError, match=f"no MIDI input port matching 'no such synth'.*{keyboard_name}:out"):
            midi.start()
    finally:
        keyboard.close_port()
        keyboard.delete()
