"""The pyo audio backend on a real JACK server (dummy driver): the engine plays through pyo's
JACK client, a JACK client records that client's output port, and `rtsynth serve
--audio-backend pyo` starts, plays and stops on it (or, with no audio output at all, says so).

Notes are scheduled ahead with explicit times, so what is checked is where and how they
sound, never how fast the machine is.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from audio_checks import cents, estimate_f0, midi_hz
from harmonic_bundle import make_harmonic_bundle
from jack_support import (
    SR,
    capturing,
    check_scheduled_notes,
    free_udp_port,
    jack_server_or_skip,
    serve_banner,
    serve_without_audio,
    stop_serve,
)

from rtsynth.engine.backends import AudioBackendError, PyoBackend
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.engine import Engine
from rtsynth.engine.events import Panic

pytest.importorskip("pyo", reason="pyo is not installed: it is the optional extra, pip install 'rtsynth[pyo]'")
pytestmark = pytest.mark.slow
PERIOD = 256
AHEAD = 1.5  # seconds: schedule this far ahead so rendering is never what is being tested
CLIENT = "rtsynth-pyo-test"  # the in-process backend's JACK name; `serve` uses the default "rtsynth"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_harmonic_bundle(tmp_path_factory.mktemp("pyo") / "harmonic")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from jack_server_or_skip(PERIOD, tmp_path_factory)


@pytest.fixture(scope="module")
def capture(server):
    yield from capturing(seconds=300)


@pytest.fixture(scope="module")
def live(bundle, capture):
    engine = Engine(bundle, EngineConfig(blocksize=PERIOD)).start()
    backend = None
    try:
        backend = PyoBackend(engine, client_name=CLIENT).start()
        capture.connect_from(f"^{CLIENT}:")
        yield engine, backend
    finally:
        engine.submit(Panic())
        if backend is not None:
            backend.stop()
        engine.stop()


def test_a_block_size_other_than_jacks_is_refused_with_the_flags_to_use(bundle, server):
    engine = Engine(bundle, EngineConfig(blocksize=PERIOD // 2))
    try:
        with pytest.raises(AudioBackendError, match=f"--samplerate {SR} --blocksize {PERIOD}"):
            PyoBackend(engine, device="jack", client_name="rtsynth-pyo-refused").start()
    finally:
        engine.stop()


def test_notes_through_pyo_start_on_time_at_their_pitch_and_release(live, capture):
    engine, backend = live
    assert engine.audio_info["backend"] == "pyo" and engine.audio_info["hostapi"] == "JACK"
    # within 8 ms: a wrong output latency (10.7 ms here) would show as a shift of its size, while
    # a dummy-driver xrun, which costs pyo's frame-counting clock one buffer (5.3 ms), may not
    # fail it (the fresh-clone CI saw 5.6 ms with a 5 ms bound)
    check_scheduled_notes(engine, capture, engine.clock() + AHEAD, on_time_s=0.008)
    assert backend.error is None


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


def test_pyo_reports_the_output_latency_portaudio_sees_on_the_same_jack(live):
    import sounddevice as sd

    engine, _ = live
    delays = []  # PortAudio asks JACK for each callback's DAC time: an independent reading

    def callback(out, frames, time_info, status) -> None:
        out.fill(0)
        delays.append(time_info.outputBufferDacTime - time_info.currentTime)

    with sd.OutputStream(samplerate=SR, blocksize=PERIOD, channels=2, dtype="float32", callback=callback):
        _wait_for(lambda: len(delays) >= 8, "PortAudio callbacks")
    status = engine.status()
    assert status["blocks"] > 0
    assert status["output_latency_ms"] == pytest.approx(engine.audio_info["latency_ms"])
    assert status["output_latency_ms"] == pytest.approx(np.median(delays) * 1e3, abs=0.1), (status, delays)


def test_xruns_jack_reports_reach_the_engine_status(live, capture):
    import jack

    engine, _ = live
    before, heard_before = engine.status()["xruns"], capture.xruns
    stall = threading.Event()
    slow = jack.Client("rtsynth-pyo-stall", no_start_server=True)

    @slow.set_process_callback
    def _process(frames: int) -> None:
        if stall.is_set():
            stall.clear()
            time.sleep(0.05)  # ten periods: JACK misses its deadline

    slow.activate()
    try:
        stall.set()
        _wait_for(lambda: capture.xruns > heard_before, "JACK to report the stall as an xrun")
    finally:
        slow.deactivate()
        slow.close()
    _wait_for(lambda: engine.status()["xruns"] > before, "the engine to count the xrun")


def _send(client: socket.socket, port: int, address: str, *args) -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    message = OscMessageBuilder(address)
    for arg in args:
        message.add_arg(arg)
    client.sendto(message.build().dgram, ("127.0.0.1", port))


def test_rtsynth_serve_plays_through_pyo_and_stops_cleanly(server, bundle, capture, tmp_path):
    port = free_udp_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtsynth",
            "serve",
            "--bundle",
            str(bundle),
            "--osc-port",
            str(port),
            "--audio-backend",
            "pyo",
            "--blocksize",
            str(PERIOD),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = serve_banner(process)
        assert "rtsynth via JACK (pyo)" in banner and f"udp://127.0.0.1:{port}" in banner, banner
        capture.connect_from("^rtsynth:")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(30)
            sent = time.monotonic()
            _send(client, port, "/note/on", 62, 100)
            heard = capture.record(sent, sent + 0.8)
            _send(client, port, "/note/off", 62)
            _send(client, port, "/status")
            reply, _ = client.recvfrom(65536)
    finally:
        output = stop_serve(process, signal.SIGTERM)  # a supervisor's stop: as clean as Ctrl-C
    assert reply.startswith(b"/status/reply")
    assert abs(cents(estimate_f0(heard[int(0.4 * SR) :], midi_hz(62)), midi_hz(62))) < 50
    assert process.returncode == 0, banner + output


def test_serve_on_pyo_without_jack_or_a_sound_card_says_so(bundle, tmp_path):
    result = serve_without_audio("--bundle", str(bundle), "--osc-port", "0", "--audio-backend", "pyo", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # an error, not pyo crashing on a missing device
    assert "no JACK server is running and PortAudio sees no audio output" in output, output
