"""The OSC server end to end: a real UDP server on localhost, a python-osc client, the real engine."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import random
import socket
import struct
import time
from pathlib import Path

import pytest
from bundle_factory import VOCAB, make_bundle
from engine_spy import engine, real_engine  # noqa: F401 (fixtures)
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types
from pythonosc.udp_client import SimpleUDPClient

from rtsynth.control.addresses import DISPATCHER
from rtsynth.control.osc import MAX_AHEAD_S, OscServer, parse_packet
from rtsynth.control.ratelimit import RateLimitedWarnings
from rtsynth.control.replies import ReplyLimits
from rtsynth.engine.events import (
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

WAIT_S = 20.0  # generous: a loaded 2-core machine; never a timing assertion


@pytest.fixture
def server(engine, tmp_path):
    with OscServer(engine, port=0, presets_dir=tmp_path / "presets", bundles_dir=tmp_path / "bundles") as srv:
        yield srv


@pytest.fixture
def client(server):
    with SimpleUDPClient("127.0.0.1", server.port) as osc_client:
        yield osc_client


def message(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def receive(client: SimpleUDPClient, address: str | None = None, wait_s: float = WAIT_S) -> OscMessage:
    """The next reply (with `address`, skipping others), waiting up to `wait_s`."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        data = client.receive(timeout=max(0.01, deadline - time.monotonic()))
        if data:
            reply = OscMessage(data)
            if address is None or reply.address == address:
                return reply
    raise AssertionError(f"no reply {address or ''} within {wait_s} s")


def assert_alive(client: SimpleUDPClient) -> list:
    """The /status reply, asking again now and then: UDP may drop a datagram under a flood."""
    for _ in range(int(WAIT_S)):
        client.send_message("/status", [])
        try:
            return receive(client, "/status/reply", wait_s=1.0).params
        except AssertionError:
            continue
    raise AssertionError(f"no /status reply within {WAIT_S} s")


def without_time(event):
    """Events compared on content; `at` is checked by the bundle tests."""
    return dataclasses.replace(event, at=None)


class Raw:
    """Any bytes, sent as they are through the client (python-osc sends an object's .dgram)."""

    def __init__(self, dgram: bytes):
        self.dgram = dgram


# --- every address becomes the right event ----------------------------------------------

T0, T1 = VOCAB["timbre"][0], VOCAB["timbre"][1]
EVENT_CASES = [
    ("/note/on", [60, 100], NoteOn(60, 100 / 127)),
    ("/note/on", [60, 0.5, 1.5, T1], NoteOn(60, 0.5, 1.5, T1)),
    ("/note/on", [62, 0], NoteOff(62)),
    ("/note/on", [62, 64, 0, T0], NoteOn(62, 64 / 127, None, T0)),
    ("/note/off", [60], NoteOff(60)),
    ("/note", [64, 1.0, 0.75], NoteOn(64, 1.0, 0.75, one_shot=True)),
    ("/note", [64, 127, 2.0, 1], NoteOn(64, 1.0, 2.0, 1, one_shot=True)),
    ("/timbre", [T1], SelectTimbre(T1)),
    ("/timbre", [2], SelectTimbre(2)),
    ("/morph/a", [T0], MorphCorner("a", T0)),
    ("/morph/b", [1], MorphCorner("b", 1)),
    ("/morph/c", [T1], MorphCorner("c", T1)),
    ("/morph/d", [0], MorphCorner("d", 0)),
    ("/morph/x", [0.25], MorphPosition(0.25)),
    ("/morph/xy", [0.25, 0.75], MorphPosition(0.25, 0.75)),
    ("/morph/time", [50.0], MorphTime(50.0)),
    ("/latent/timbre", [0.5] * 8, LatentOffset("timbre", (0.5,) * 8)),
    ("/latent/pitch", [1.0, -1.0, 0.0, 2.0], LatentOffset("pitch", (1.0, -1.0, 0.0, 2.0))),
    ("/latent/dynamics", [0.125] * 4, LatentOffset("dynamics", (0.125,) * 4)),
    ("/latent/duration", [-0.5] * 4, LatentOffset("duration", (-0.5,) * 4)),
    ("/latent/timbre/7", [1.5], LatentOffset("timbre", (1.5,), 7)),
    ("/latent/pitch/0", [-2.0], LatentOffset("pitch", (-2.0,), 0)),
    ("/latent/dynamics/3", [0.5], LatentOffset("dynamics", (0.5,), 3)),
    ("/latent/duration/1", [0.25], LatentOffset("duration", (0.25,), 1)),
    ("/latent/reset", [], LatentReset()),
    ("/sustain", [1], Sustain(True)),
    ("/sustain", [0.0], Sustain(False)),
    ("/bend", [-2.0], PitchBend(-2.0)),
    ("/vibrato", [0.0], Vibrato(0.0)),  # any depth on a model with an f0 (this one has none)
    ("/vibrato", [0.0, 6.5], Vibrato(0.0, 6.5)),
    ("/gain", [0.5], Gain(0.5)),
    ("/panic", [], Panic()),
]


@pytest.mark.parametrize("address, args, expected", EVENT_CASES, ids=lambda c: str(c)[:30])
def test_each_address_submits_its_event(engine, client, address, args, expected):
    """Values are float32-exact, so they survive the wire unchanged."""
    client.send_message(address, args)
    event, arrival = engine.next_event(WAIT_S)
    assert without_time(event) == expected
    assert event.at is None and arrival is not None


def test_every_event_address_is_covered_above():
    queries = {"/status", "/latency", "/model/info", "/preset/save", "/preset/load", "/model/load", "/reply/port"}
    tested = {DISPATCHER.resolve(address)[0].path for address, _, _ in EVENT_CASES}
    assert {a.path for a in DISPATCHER.addresses} - queries == tested


@pytest.mark.parametrize(
    "address, as_ints, as_floats",
    [
        ("/note/on", [60, 100], [60.0, 100.0]),
        ("/note", [61, 64, 1], [61.0, 64.0, 1.0]),
        ("/timbre", [1], [1.0]),
        ("/morph/xy", [0, 1], [0.0, 1.0]),
        ("/morph/time", [20], [20.0]),
        ("/latent/pitch/2", [1], [1.0]),
        ("/gain", [1], [1.0]),
        ("/bend", [-1], [-1.0]),
        ("/vibrato", [0, 6], [0.0, 6.0]),
    ],
)
def test_ints_and_floats_are_interchangeable(engine, client, address, as_ints, as_floats):
    client.send_message(address, as_ints)
    from_ints = engine.next_event(WAIT_S)[0]
    client.send_message(address, as_floats)
    assert engine.next_event(WAIT_S)[0] == from_ints


# --- queries ----------------------------------------------------------------------------


def test_status_replies_with_key_value_pairs(client):
    params = assert_alive(client)
    status = dict(zip(params[::2], params[1::2]))
    assert len(params) % 2 == 0 and all(isinstance(k, str) for k in params[::2])
    assert "voices" in status


def test_reply_port_redirects_this_clients_replies(client, server):
    """Max's udpsend cannot receive: the patch asks for replies on its udpreceive port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(WAIT_S)
    try:
        client.send_message("/reply/port", [listener.getsockname()[1]])
        client.send_message("/status", [])
        replies = {OscMessage(listener.recv(65536)).address for _ in range(2)}
        assert replies == {"/reply/port/reply", "/status/reply"}
        with SimpleUDPClient("127.0.0.1", server.port) as other:  # other clients are unaffected
            other.send_message("/status", [])
            assert receive(other, "/status/reply").params
    finally:
        listener.close()


def this_machines_network_address() -> str:
    """An address of this machine that is not loopback (a routing lookup; nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))
        except OSError:
            pytest.skip("this machine has no network address besides loopback")
        return probe.getsockname()[0]


@pytest.fixture
def open_server(engine, tmp_path):
    """A server on every interface with a small remote reply budget (two /status replies a second)."""
    limits = ReplyLimits(remote_bytes_per_s=2000.0)
    with OscServer(engine, "0.0.0.0", 0, tmp_path / "presets", tmp_path / "bundles", limits=limits) as srv:
        yield srv


def remote_client(server: OscServer) -> socket.socket:
    """A client whose datagrams come from this machine's network address, as a remote host's would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    address = this_machines_network_address()
    sock.bind((address, 0))
    sock.connect((address, server.port))
    sock.settimeout(WAIT_S)
    return sock


def test_reply_port_is_refused_for_a_client_that_is_not_on_this_machine(open_server):
    """From elsewhere a source address can be forged: a redirect would aim replies at any port of it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("0.0.0.0", 0))
    listener.settimeout(1.0)
    with remote_client(open_server) as sender, listener:
        sender.send(message("/reply/port", listener.getsockname()[1]))
        refusal = OscMessage(sender.recv(65536))
        assert refusal.address == "/error" and "this machine" in refusal.params[1]
        sender.send(message("/latency"))
        assert OscMessage(sender.recv(65536)).address == "/latency/reply"  # still to its own port
        with pytest.raises(TimeoutError):
            listener.recv(65536)


@pytest.mark.parametrize("port", [53, "own"])
def test_reply_port_refuses_privileged_ports_and_the_servers_own(client, server, port):
    client.send_message("/reply/port", [server.port if port == "own" else port])
    assert receive(client, "/error").params[0] == "/reply/port"
    assert assert_alive(client)


def test_replies_to_a_remote_host_stay_within_its_byte_budget(open_server):
    """A flood of small /status requests cannot make the server send a flood of large replies."""
    with remote_client(open_server) as sender:
        sender.settimeout(0.5)
        started = time.monotonic()
        for _ in range(200):
            sender.send(message("/status"))
        received = 0
        with contextlib.suppress(TimeoutError):
            while True:
                received += len(sender.recv(65536))
        elapsed = time.monotonic() - started
    assert received <= open_server.limits.remote_bytes_per_s * (1 + elapsed)
    assert open_server.replies_dropped > 0


def test_a_reply_larger_than_the_cap_is_an_error_naming_its_size(engine, tmp_path):
    with (
        OscServer(engine, port=0, presets_dir=tmp_path / "p", limits=ReplyLimits(max_bytes=64)) as small,
        SimpleUDPClient("127.0.0.1", small.port) as client,
    ):
        client.send_message("/status", [])
        address, reason = receive(client, "/error").params
    assert address == "/status/reply" and "more than the 64" in reason


def test_latency_replies_with_two_floats(client):
    client.send_message("/latency", [])
    params = receive(client, "/latency/reply").params
    assert len(params) == 2 and all(isinstance(p, float) for p in params)
    assert math.isnan(params[0]) or params[0] <= params[1]


def test_model_info_lists_the_timbres_in_order(client):
    client.send_message("/model/info", [])
    assert receive(client, "/model/info/timbres").params == VOCAB["timbre"]


def test_timbre_index_from_model_info_is_accepted(engine, client):
    client.send_message("/timbre", [len(VOCAB["timbre"]) - 1])
    assert engine.next_event(WAIT_S)[0] == SelectTimbre(len(VOCAB["timbre"]) - 1)


# --- bad input: /error, a warning, and the server goes on ---------------------------------

BAD_INPUT = [  # (datagram, address in the /error reply, words in its message)
    (b"garbage!", "", "not an OSC message"),
    (b"/note/on\x00\x00\x00\x00,ii\x00\x00\x00\x00<", "", "malformed"),
    (b"/note/on\x00\x00\x00\x00,x\x00\x00", "", "type tag"),
    (b"#bundle\x00\x00\x00", "", "timetag"),
    (b"#bundle\x00" + bytes(8) + struct.pack(">i", 400) + b"/x\x00\x00", "", "element size"),
    (message("/nope", 1), "/nope", "unknown address"),
    (message("/note/of", 60), "/note/of", "did you mean /note/off"),
    (message("/note/on", "sixty", 100), "/note/on", "expected a number"),
    (message("/note/on", 60), "/note/on", "got 1 argument"),
    (message("/note/on", 60, 100, 1.0, T0, 5), "/note/on", "got 5 argument"),
    (message("/note/on", 60.5, 100), "/note/on", "whole number"),
    (message("/note/on", 200, 100), "/note/on", "outside 0 to 127"),
    (message("/note/on", 60, 300), "/note/on", "outside 0 to 127"),
    (message("/note/on", 60, -0.5), "/note/on", "outside"),
    (message("/gain", float("nan")), "/gain", "not a finite number"),
    (message("/gain", float("inf")), "/gain", "not a finite number"),
    (message("/morph/x", 1.5), "/morph/x", "outside 0 to 1"),
    (message("/vibrato", 30.0, 40.0), "/vibrato", "outside 0.5 to 12"),
    (message("/vibrato", -5.0), "/vibrato", "outside 0 to 100"),
    (message("/vibrato", 30.0), "/vibrato", "no f0 to swing"),  # a mel + vocoder model
    (message("/latent/timbre", 0.0, 1.0), "/latent/timbre", "got 2 argument"),
    (message("/latent/timbre/8", 0.0), "/latent/timbre/8", "index must be 0 to 7"),
    (message("/timbre", "kazoo"), "/timbre", "kazoo"),
    (message("/timbre", 99), "/timbre", "99"),
    (message("/note/on", 60, 100, 1.0, "kazoo"), "/note/on", "kazoo"),
    (message("/timbre", True), "/timbre", "boolean"),
    (message("/timbre", b"blob"), "/timbre", "blob"),
]


@pytest.mark.parametrize("dgram, address, words", BAD_INPUT, ids=lambda c: repr(c)[:40])
def test_bad_input_gets_an_error_reply_and_the_server_goes_on(engine, client, dgram, address, words):
    client.send(Raw(dgram))
    reply = receive(client, "/error")
    assert reply.params[0] == address
    assert words.lower() in reply.params[1].lower()
    assert assert_alive(client)
    assert engine.drain() == []  # nothing reached the engine


def test_a_bad_message_in_a_bundle_does_not_drop_the_others(engine, client):
    bundle = OscBundleBuilder(osc_types.IMMEDIATELY)
    bundle.add_content(OscMessageBuilder("/gain").build())  # no argument: refused
    note = OscMessageBuilder("/note/on")
    note.add_arg(60)
    note.add_arg(90)
    bundle.add_content(note.build())
    client.send(bundle.build())
    assert receive(client, "/error").params[0] == "/gain"
    assert without_time(engine.next_event(WAIT_S)[0]) == NoteOn(60, 90 / 127)


def test_warnings_are_rate_limited(caplog):
    warnings = RateLimitedWarnings(logging.getLogger("test.flood"), burst=5, interval_s=3600)
    with caplog.at_level(logging.WARNING, logger="test.flood"):
        for k in range(100):
            warnings.warning("bad %d", k)
    assert [r.getMessage() for r in caplog.records] == [f"bad {k}" for k in range(5)]
    assert warnings.suppressed == 95


def test_a_flood_of_bad_messages_logs_only_a_few_warnings(client, server, caplog):
    with caplog.at_level(logging.WARNING, logger="rtsynth.control.osc"):
        for _ in range(200):
            client.send_message("/nope", [])
        assert_alive(client)
    assert server.errors >= 1
    assert len([r for r in caplog.records if r.name == "rtsynth.control.osc"]) <= server.warnings._burst + 1


# --- bundles and timetags ----------------------------------------------------------------


def bundle_of(timetag: float, *messages: bytes) -> bytes:
    body = b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return b"#bundle\x00" + osc_types.write_date(timetag) + body


def test_timetags_convert_to_the_engine_clock():
    wall, clock = 1_700_000_000.0, 5000.0
    timed = parse_packet(bundle_of(wall + 0.25, message("/panic")), clock, wall)
    assert timed[0].at == pytest.approx(clock + 0.25, abs=1e-6)
    nested = bundle_of(
        wall + 0.5, bundle_of(osc_types.IMMEDIATELY, message("/panic")), bundle_of(wall + 0.75, message("/panic"))
    )
    assert [t.at for t in parse_packet(nested, clock, wall)] == pytest.approx([clock + 0.5, clock + 0.75])


def test_an_inner_bundle_timed_before_its_outer_bundle_follows_the_outer_time():
    wall, clock = 1_700_000_000.0, 5000.0
    nested = bundle_of(
        wall + 0.5,
        bundle_of(wall + 0.25, message("/panic")),
        bundle_of(wall - 3.0, message("/panic")),
        message("/panic"),
    )
    assert [t.at for t in parse_packet(nested, clock, wall)] == pytest.approx([clock + 0.5] * 3)
    later_inside_now = bundle_of(osc_types.IMMEDIATELY, bundle_of(wall + 0.25, message("/panic")))
    assert parse_packet(later_inside_now, clock, wall)[0].at == pytest.approx(clock + 0.25)


def test_immediate_and_late_timetags_mean_as_soon_as_possible():
    wall, clock = 1_700_000_000.0, 5000.0
    assert parse_packet(bundle_of(osc_types.IMMEDIATELY, message("/panic")), clock, wall)[0].at is None
    assert parse_packet(bundle_of(wall - 3.0, message("/panic")), clock, wall)[0].at is None


def test_a_future_bundle_schedules_the_event_at_its_timetag(engine, client):
    """Checks the conversion, not speed: at + (wall - monotonic offset) == the timetag."""
    timetag = time.time() + 0.5
    client.send(Raw(bundle_of(timetag, message("/note/on", 60, 100))))
    event, arrival = engine.next_event(WAIT_S)
    offset = time.time() - engine.clock()  # wall minus engine clock, stable between the two reads
    assert event.at > arrival
    assert event.at + offset == pytest.approx(timetag, abs=0.05)


def test_a_timetag_too_far_ahead_is_refused(engine, client):
    client.send(Raw(bundle_of(time.time() + MAX_AHEAD_S * 10, message("/panic"))))
    assert "ahead" in receive(client, "/error").params[1]
    assert assert_alive(client) and engine.drain() == []


# --- names inside their folders ----------------------------------------------------------


def test_preset_save_and_load_by_name(client, tmp_path):
    client.send_message("/preset/save", ["warm pad"])
    assert receive(client, "/preset/save/reply").params == ["warm pad"]
    assert (tmp_path / "presets" / "warm pad.json").is_file()
    client.send_message("/preset/load", ["warm pad"])
    assert receive(client, "/preset/load/reply").params == ["warm pad"]


def test_presets_hold_the_engine_state_sent_over_osc(engine, client, tmp_path):
    """The effect, not only the event: the real engine saves and restores what OSC set."""
    client.send_message("/morph/time", [123.0])
    client.send_message("/preset/save", ["slow"])
    receive(client, "/preset/save/reply")
    assert json.loads((tmp_path / "presets" / "slow.json").read_text())["morph_time_ms"] == pytest.approx(123.0)
    client.send_message("/morph/time", [10.0])
    client.send_message("/preset/load", ["slow"])
    receive(client, "/preset/load/reply")
    assert engine.controller.preset()["morph_time_ms"] == pytest.approx(123.0)


def test_gain_shows_in_the_status_reply(client):
    client.send_message("/gain", [1.5])
    status = assert_alive(client)
    assert dict(zip(status[::2], status[1::2]))["gain"] == pytest.approx(1.5)


def test_a_corrupt_preset_is_refused(client, tmp_path):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "broken.json").write_text("{not json")
    client.send_message("/preset/load", ["broken"])
    reply = receive(client, "/error")
    assert reply.params[0] == "/preset/load" and "JSON" in reply.params[1]
    assert assert_alive(client)


def test_loading_a_missing_preset_names_it_and_not_what_exists(client):
    client.send_message("/preset/save", ["bright"])
    receive(client, "/preset/save/reply")
    client.send_message("/preset/load", ["dark"])
    error = receive(client, "/error").params[1]
    assert "dark" in error and "bright" not in error  # the folder's contents stay private


@pytest.mark.parametrize(
    "address, name",
    [
        ("/preset/save", "../x"),
        ("/preset/save", "/tmp/x"),
        ("/preset/load", "../../etc/passwd"),
        ("/preset/load", ".."),
        ("/model/load", "/etc"),
        ("/model/load", "../bundles"),
        ("/model/load", "a/b"),
        ("/model/load", ""),
    ],
)
def test_path_traversal_is_refused(client, tmp_path, address, name):
    before = sorted(p for p in tmp_path.rglob("*"))
    client.send_message(address, [name])
    reply = receive(client, "/error")
    assert reply.params[0] == address
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert assert_alive(client)


def test_model_load_by_name_and_a_bad_bundle_is_refused(engine, client, tmp_path):
    make_bundle(tmp_path / "bundles" / "other", seed=1)
    (tmp_path / "bundles" / "broken").mkdir()
    client.send_message("/model/load", ["broken"])
    assert receive(client, "/error").params[0] == "/model/load"
    client.send_message("/model/load", ["other"])
    assert receive(client, "/model/load/reply").params == ["other"]
    assert Path(engine.info["bundle"]) == (tmp_path / "bundles" / "other").resolve()  # offline: swapped at once
    client.send_message("/model/load", ["absent"])
    error = receive(client, "/error").params[1]
    assert "absent" in error and "other" not in error  # the folder's contents stay private
    assert assert_alive(client)


# --- binding and robustness -------------------------------------------------------------


def test_binds_to_localhost_by_default(engine):
    server = OscServer(engine, port=0)
    with server:
        assert server.host == "127.0.0.1"
        assert server.address[0] == "127.0.0.1"


def test_a_busy_port_is_a_clear_error(engine, server):
    with pytest.raises(OSError, match=f"cannot listen for OSC on 127.0.0.1:{server.port}"):
        OscServer(engine, port=server.port).start()


def fuzz_packets(rng: random.Random, count: int) -> list[bytes]:
    valid = [message(a, *args) for a, args, _ in EVENT_CASES] + [
        message("/status"),
        message("/preset/save", "fuzz"),
        message("/model/load", "none"),
        bundle_of(osc_types.IMMEDIATELY, message("/note/on", 60, 100), message("/panic")),
        bundle_of(time.time() + 0.1, bundle_of(osc_types.IMMEDIATELY, message("/gain", 1.0))),
    ]
    packets = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:
            packets.append(rng.randbytes(rng.randrange(0, 200)))
        else:
            packet = bytearray(rng.choice(valid))
            if kind < 0.6 and packet:
                del packet[rng.randrange(len(packet)) :]  # truncated
            else:
                for _ in range(rng.randrange(1, 6)):  # mutated bytes
                    packet[rng.randrange(len(packet))] = rng.randrange(256)
            packets.append(bytes(packet))
    return packets


@pytest.mark.slow
def test_fuzz_ten_thousand_random_packets(engine, server, client):
    rng = random.Random(1234)
    packets = fuzz_packets(rng, 10_000)
    with SimpleUDPClient("127.0.0.1", server.port) as fuzzer:  # never reads its replies
        for start in range(0, len(packets), 100):  # bursts the socket buffer can hold
            for packet in packets[start : start + 100]:
                fuzzer.send(Raw(packet))
            assert assert_alive(client)  # it answers between the bursts
    assert server.packets >= 9000  # nearly all arrived and were handled
    assert server.errors > 0
    client.send_message("/note/on", [60, 100])
    engine.drain()
    assert assert_alive(client)
