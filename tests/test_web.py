"""The browser page's server without a browser: real HTTP and WebSocket on localhost, the real
(offline) engine, and an OSC server beside it to check both surfaces share one state."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import socket
import urllib.error
import urllib.request

import engine_spy
import pytest
from bundle_factory import VOCAB
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from websockets.sync.client import connect

from rtsynth.bundle import read_spec
from rtsynth.control.commands import CommandLayer
from rtsynth.control.midi import MidiInput
from rtsynth.control.osc import OscServer
from rtsynth.control.web import WebServer
from rtsynth.engine.events import LatentOffset
from rtsynth.resources import default_bundle
from rtsynth.timbremap import bundle_map, fit_map

WAIT_S = 20.0
engine, real_engine = engine_spy.engine, engine_spy.real_engine  # the shared fixtures


@pytest.fixture
def page(engine, tmp_path):
    server = WebServer(engine, CommandLayer(engine, tmp_path / "presets", tmp_path / "bundles"), port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def socket_to(page):
    with connect(f"ws://127.0.0.1:{page.port}/ws", open_timeout=WAIT_S) as ws:
        yield ws


def next_reply(ws, address: str) -> object:
    """The value of the next message with this address (meters keep arriving in between)."""
    while True:
        message = json.loads(ws.recv(timeout=WAIT_S))
        if message["address"] == address:
            return message["value"]


def osc_status(port: int) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(WAIT_S)
        client.sendto(OscMessageBuilder("/status").build().dgram, ("127.0.0.1", port))
        params = OscMessage(client.recvfrom(65536)[0]).params
    return dict(zip(params[::2], params[1::2], strict=True))


def test_the_page_and_its_scripts_are_served_and_nothing_else(page):
    html = urllib.request.urlopen(page.url, timeout=WAIT_S).read().decode()
    assert '<script src="/app.js">' in html and 'id="map"' in html
    script = urllib.request.urlopen(page.url + "app.js", timeout=WAIT_S)
    assert script.headers["Content-Type"] == "text/javascript" and b"WebSocket" in script.read()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(page.url + "../pyproject.toml", timeout=WAIT_S)
    assert missing.value.code == 404


def test_the_map_of_a_bundle_without_one_is_fitted_on_the_class_means(socket_to):
    view = next_reply(socket_to, "/map/reply")
    clusters = [p for p in view["points"] if p["kind"] == "cluster"]
    assert [p["name"] for p in clusters] == VOCAB["timbre"]
    assert view["fitted_on"] == "class means" and view["cloud"] == []
    assert all(len(p["z"]) == 8 and len(p["xy"]) == 2 for p in clusters)


def test_what_the_page_changes_osc_status_shows_and_the_other_way(engine, page, socket_to, tmp_path):
    with OscServer(engine, port=0, presets_dir=tmp_path / "presets") as osc:
        socket_to.send(json.dumps({"address": "/timbre", "args": ["trumpet"]}))
        socket_to.send(json.dumps({"address": "/latent/timbre/2", "args": [0.75]}))
        socket_to.send(json.dumps({"address": "/status", "args": []}))
        status = next_reply(socket_to, "/status/reply")
        assert status["timbre"] == "trumpet"
        seen_by_osc = osc_status(osc.port)
        assert seen_by_osc["timbre"] == "trumpet"
        assert json.loads(seen_by_osc["timbre_z"]) == status["timbre_z"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            message = OscMessageBuilder("/morph/x")
            message.add_arg(0.25)
            client.sendto(message.build().dgram, ("127.0.0.1", osc.port))
        while (meters := next_reply(socket_to, "/meters"))["morph_x"] != 0.25:
            pass
        assert meters["timbre_z"] != status["timbre_z"]


@pytest.mark.parametrize(
    "message, where, says",
    [
        ("not json", "", "not JSON"),
        ("[1, 2]", "", "JSON object"),
        ('{"address": "/nope", "args": []}', "/nope", "unknown address"),
        ('{"address": "/note/on", "args": [60]}', "/note/on", "expects"),
        ('{"address": "/morph/x", "args": [2.5]}', "/morph/x", "outside"),
        ('{"address": "/gain", "args": ["loud"]}', "/gain", "expected a number"),
        ('{"address": "/preset/load", "args": ["../etc/passwd"]}', "/preset/load", "'.'"),
        ('{"op": "dance"}', "dance", "unknown message"),
        ('{"args": [1]}', "", "a command is"),
        ('{"bundle": 5}', "bundle", "list"),
        ('{"bundle": [7]}', "", "a command is"),
        ('{"op": "audio", "name": "x", "data": "***"}', "audio", "base64"),
        ('{"op": "learn", "descriptor": "timbre", "index": 0}', "learn", "--midi-in"),
    ],
)
def test_bad_messages_get_an_error_like_osc_and_the_server_goes_on(page, socket_to, message, where, says):
    socket_to.send(message)
    address, text = next_reply(socket_to, "/error")
    assert address == where and says in text, text
    socket_to.send(json.dumps({"address": "/latency", "args": []}))
    assert len(next_reply(socket_to, "/latency/reply")) == 2


def test_meters_carry_level_voices_latency_histogram_and_xruns(socket_to):
    meters = next_reply(socket_to, "/meters")
    for key in ("peak", "voices", "voices_max", "xruns", "held_notes", "timbre_z"):
        assert key in meters
    assert len(meters["latency_counts"]) == len(meters["latency_edges_ms"])
    assert meters["midi_cc"] is None


def test_midi_learn_binds_the_next_controller_moved(engine):
    midi = MidiInput(engine)
    midi.learn("timbre", 3)
    assert midi.bindings()["learning"] == "timbre 3"
    engine.drain()
    midi.handle((0xB0, 64, 127), engine.clock())  # the sustain pedal is never learned
    midi.handle((0xB0, 21, 127), engine.clock())
    assert midi.bindings() == {"map": {"21": "timbre 3"}, "learning": None}
    event = engine.drain()[-1]
    assert isinstance(event, LatentOffset) and event.descriptor == "timbre" and event.index == 3
    assert event.values == (2.0,)
    with pytest.raises(ValueError, match="index"):
        midi.learn("pitch", 9)


def test_the_shipped_bundle_carries_a_map_of_its_training_notes():
    spec = read_spec(default_bundle())
    tmap = bundle_map(spec)
    assert tmap.fitted_on == "training notes" and len(tmap.notes) > 100
    xy = tmap.project(spec.means("timbre"))
    assert xy.shape == (len(spec.descriptors["timbre"].classes), 2) and xy.std(axis=0).min() > 0.1


def test_a_bundle_without_a_stored_map_gets_one_of_its_class_means_without_a_cloud(tmp_path):
    spec = dataclasses.replace(read_spec(default_bundle()), timbre_map={})
    tmap = bundle_map(spec)
    assert tmap.fitted_on == "class means" and len(tmap.notes) == 0
    assert tmap.project(spec.means("timbre")).std(axis=0).min() > 0.1


def test_a_stored_map_round_trips_and_projects_like_the_fit():
    z = [[math.sin(i * k) for k in range(1, 9)] for i in range(30)]
    fitted = fit_map(z, [i % 3 for i in range(30)])
    again = type(fitted).from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again.notes.shape == (30, 3)
    assert abs(again.project(z) - fitted.project(z)).max() < 1e-3


def test_a_page_open_to_the_network_is_warned_about(engine, tmp_path, caplog):
    server = WebServer(engine, CommandLayer(engine, tmp_path / "presets"), host="0.0.0.0", port=0)
    with caplog.at_level(logging.WARNING):
        server.start()
    server.stop()
    assert "anyone who can reach this machine" in caplog.text


def test_serve_flags_and_config_choose_the_page_port():
    from rtsynth.cli import build_parser
    from rtsynth.serve import ServeConfig, apply_flags, load_serve_config

    assert load_serve_config("serve").web_port == ServeConfig().web_port == 8000  # on by default
    assert apply_flags(ServeConfig(), build_parser().parse_args(["serve", "--no-web"])).web_port == 0
    args = build_parser().parse_args(["serve", "--web"])
    assert apply_flags(ServeConfig(), args).web_port == 8000
    args = build_parser().parse_args(["serve", "--web", "8123", "--host", "0.0.0.0"])
    config = apply_flags(ServeConfig(), args)
    assert (config.web_port, config.host) == (8123, "0.0.0.0")


def test_midi_learn_from_the_page_binds_the_server_midi_input(engine, tmp_path):
    midi = MidiInput(engine)  # not opened: the mapping, not the port, is under test (test_midi has ports)
    server = WebServer(engine, CommandLayer(engine, tmp_path / "presets"), port=0, midi=midi)
    server.start()
    try:
        with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=WAIT_S) as ws:
            ws.send(json.dumps({"op": "learn", "descriptor": "dynamics", "index": 1}))
            assert next_reply(ws, "/learn/reply") == ["dynamics", 1]
            assert next_reply(ws, "/meters")["midi_cc"]["learning"] == "dynamics 1"
            midi.handle((0xB0, 30, 0), engine.clock())
            while (meters := next_reply(ws, "/meters"))["midi_cc"]["learning"] is not None:
                pass
            assert meters["midi_cc"]["map"] == {"30": "dynamics 1"}
            ws.send(json.dumps({"op": "learn", "descriptor": "loudness", "index": 0}))
            assert "loudness" in next_reply(ws, "/error")[1]
    finally:
        server.stop()


def test_a_bundle_applies_its_commands_together_and_refuses_only_its_bad_ones(engine, socket_to):
    bundle = [
        {"address": "/timbre", "args": [1]},
        {"address": "/latent/timbre", "args": [9e9]},  # one value, and out of range
        {"address": "/latent/timbre/0", "args": [0.5]},
    ]
    engine.drain()
    socket_to.send(json.dumps({"bundle": bundle}))
    address, text = next_reply(socket_to, "/error")
    assert address == "/latent/timbre" and "expects" in text
    socket_to.send(json.dumps({"address": "/status", "args": []}))
    status = next_reply(socket_to, "/status/reply")
    assert status["timbre"] == VOCAB["timbre"][1]
    applied = engine.drain()
    assert [type(e).__name__ for e in applied] == ["SelectTimbre", "LatentOffset"]
    assert applied[0].at == applied[1].at  # one time for the whole bundle


def test_a_busy_page_port_leaves_the_instrument_playing(engine, caplog):
    import socket

    from rtsynth.serve import ServeConfig, start_page

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = ServeConfig(web_port=taken.getsockname()[1])
        with caplog.at_level(logging.WARNING):
            assert start_page(engine, config, None) == []
    assert "playing on without the page" in caplog.text


def test_osc_open_to_the_network_is_warned_about(engine, tmp_path, caplog):
    server = OscServer(engine, "0.0.0.0", 0, tmp_path / "presets", tmp_path / "bundles")
    with caplog.at_level(logging.WARNING):
        server.start()
    server.stop()
    assert "anyone who can reach this machine" in caplog.text


def test_a_name_not_found_does_not_list_the_folder(engine, tmp_path):
    (tmp_path / "bundles" / "secret-project").mkdir(parents=True)
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "private.json").write_text("{}")
    layer = CommandLayer(engine, tmp_path / "presets", tmp_path / "bundles")
    for address in ("/model/load", "/preset/load"):
        with pytest.raises(FileNotFoundError) as missing:
            layer.answer(layer.build(address, ["nope"]))
        assert "secret-project" not in str(missing.value) and "private" not in str(missing.value)
