"""The live engine on a real JACK server (dummy driver): sounddevice backend, render worker
process, and a JACK client recording the engine's output port.

Notes are scheduled ahead with explicit times, so what is checked is where and how they
sound, never how fast the machine is. Where JACK's own dropouts (xruns on a busy machine)
would read as clicks, the engine's output is checked as its audio callback wrote it.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable

import numpy as np
import pytest
from audio_checks import cents, estimate_f0, held_level, high_band, midi_hz, spectrum_db, vibrato_fit
from harmonic_bundle import make_harmonic_bundle
from jack_support import (
    SR,
    Capture,
    capturing,
    check_scheduled_notes,
    free_udp_port,
    jack_server_or_skip,
    serve_banner,
    serve_without_audio,
    stop_serve,
)

from rtsynth.bundle import BundleError
from rtsynth.dsp.fidelity import sounding_length_s
from rtsynth.engine.backends import SoundDeviceBackend
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.engine import Engine
from rtsynth.engine.events import NoteOff, NoteOn, Panic, PitchBend, SelectTimbre, Vibrato
from rtsynth.engine.mixer import PLAYING
from rtsynth.resources import default_bundle

pytestmark = pytest.mark.slow
AHEAD = 1.5  # seconds: schedule this far ahead so rendering is never what is being tested


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("jack")
    return make_harmonic_bundle(root / "a"), make_harmonic_bundle(root / "b", seed=5, name="other")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from jack_server_or_skip(256, tmp_path_factory)


class Live:
    """An engine playing into JACK, and a recorder listening to it."""

    def __init__(self, bundle, capture: Capture, **settings):
        self.engine = Engine(bundle, EngineConfig(**settings)).start()
        self.backend = SoundDeviceBackend(self.engine).start()
        self.capture = capture
        capture.connect_from("PortAudio")

    def at(self, delay: float = AHEAD) -> float:
        return self.engine.clock() + delay

    def record(self, start: float, stop: float) -> np.ndarray:
        return self.capture.record(start, stop)

    def close(self) -> None:
        self.engine.submit(Panic())
        self.backend.stop()
        self.engine.stop()


@pytest.fixture(scope="module")
def capture(server):
    yield from capturing(seconds=600)


@pytest.fixture(scope="module")
def live(bundles, capture):
    playing = Live(bundles[0], capture)
    yield playing
    playing.close()


def test_scheduled_notes_start_on_time_at_their_pitch_and_release(live):
    check_scheduled_notes(live.engine, live.capture, live.at(), on_time_s=0.025)


def test_velocity_changes_level_monotonically(live):
    t0 = live.at()
    velocities = (0.2, 0.45, 0.7, 0.95)
    for i, v in enumerate(velocities):
        live.engine.submit(NoteOn(60, v, at=t0 + 0.8 * i))
        live.engine.submit(NoteOff(60, at=t0 + 0.8 * i + 0.45))
    levels = [held_level(live.record(t0 + 0.8 * i + 0.1, t0 + 0.8 * i + 0.4)) for i in range(len(velocities))]
    assert np.all(np.diff(levels) > 0), levels


def test_a_timbre_change_moves_the_spectrum_of_a_held_note(live):
    t0 = live.at()
    live.engine.submit(NoteOn(55, 0.7, at=t0))
    live.engine.submit(SelectTimbre(3, at=t0 + 0.8))
    live.engine.submit(NoteOff(55, at=t0 + 1.8))
    live.engine.submit(SelectTimbre(0, at=t0 + 2.2))
    before, after = live.record(t0 + 0.2, t0 + 0.7), live.record(t0 + 1.2, t0 + 1.7)
    difference = np.mean(np.abs(spectrum_db(before)[20:600] - spectrum_db(after)[20:600]))
    assert difference > 3.0, difference
    live.record(t0 + 2.2, t0 + 2.3)


def play_asap(engine: Engine, notes: range) -> int:
    """Send each note without a time, 0.15 s apart, and wait until every one sounded or was
    dropped; returns the mixer's latency count from before them."""
    before, logged = engine.status(), engine.mixer.latency_count
    for note in notes:
        engine.submit(NoteOn(note, 0.6))
        time.sleep(0.15)
        engine.submit(NoteOff(note))

    def accounted() -> int:
        dropped = engine.status()["dropped_notes"] - before["dropped_notes"]
        return engine.mixer.latency_count - logged + dropped

    deadline = time.monotonic() + 120
    while accounted() < len(notes):
        assert time.monotonic() < deadline, f"only {accounted()} of {len(notes)} notes sounded or were dropped"
        time.sleep(0.1)
    assert accounted() == len(notes)
    return logged


def test_asap_notes_report_their_latency_and_the_status_answers(live):
    """Every note sent without a time either sounds, with its latency logged, or is counted as
    dropped; how long the latencies are is the benchmark's business (bench/engine.py)."""
    before = live.engine.status()
    logged = play_asap(live.engine, range(60, 72))
    status = live.engine.status()
    latencies = live.engine.mixer.latencies(since=logged)
    assert len(latencies) == status["notes"] - before["notes"]
    assert np.all(latencies > 0), latencies  # a note sounds after its event arrived, never before
    assert status["blocks"] > before["blocks"] and status["worker_alive"] and not status["render_errors"]
    p50, p99 = live.engine.latency()
    assert status["latency_p50_ms"] == p50 and status["latency_p99_ms"] == p99 and 0 < p50 <= p99
    assert np.isfinite(status["output_latency_ms"]) and status["output_latency_ms"] > 0
    for counter in ("xruns", "underruns", "late_starts", "dropped_notes"):
        assert isinstance(status[counter], int) and status[counter] >= before[counter] >= 0, counter


def test_a_note_sent_without_a_time_sounds_the_look_ahead_after_it_arrives(server, bundles):
    """Its engine time is its arrival plus the look-ahead, so an on-time note's latency is that
    plus the output's own, and no note sounds sooner: a longer look-ahead is a constant delay
    that gives a new note longer to render its first block."""
    engine = Engine(bundles[0], EngineConfig(lookahead_blocks=8.0)).start()
    backend = SoundDeviceBackend(engine).start()  # not listened to: the recorder stays on `live`
    try:
        latencies = engine.mixer.latencies(since=play_asap(engine, range(60, 72)))
        output = engine.status()["output_latency_ms"] * 1e-3
    finally:
        backend.stop()
        engine.stop()
    expected = 8 * engine.config.blocksize / SR + output
    assert np.all(latencies >= expected - 1 / SR), (latencies, expected)
    assert np.median(latencies) == pytest.approx(expected, abs=2 / SR), (latencies, expected)


def test_osc_notes_play_through_the_serve_wiring(live):
    from pythonosc.osc_message_builder import OscMessageBuilder

    from rtsynth.serve import ServeConfig, start_controls

    controls = start_controls(live.engine, ServeConfig(osc_port=0))
    osc = controls[0]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(10)

            def send(address, *args):
                message = OscMessageBuilder(address)
                for arg in args:
                    message.add_arg(arg)
                client.sendto(message.build().dgram, ("127.0.0.1", osc.port))

            sent = live.at(0.0)
            send("/note/on", 62, 100)
            heard = live.record(sent, sent + 0.6)
            send("/note/off", 62)
            send("/status")
            reply, _ = client.recvfrom(65536)
    finally:
        for control in controls:
            control.stop()
    assert b"/status/reply" in reply
    assert abs(cents(estimate_f0(heard[int(0.25 * SR) :], midi_hz(62)), midi_hz(62))) < 50


class OutputTap:
    """The engine's output as its audio callback wrote it, block by block, each with the engine
    time of its first sample: what the engine played, before JACK, whose xruns on a busy machine
    drop blocks that would read as clicks."""

    def __init__(self, engine: Engine):
        self.starts: list[float] = []
        self.blocks: list[np.ndarray] = []
        process = engine.process

        def tapped(out: np.ndarray, now: float, dac_delay: float) -> None:
            process(out, now, dac_delay)
            self.starts.append(now + dac_delay - engine.mixer.output_latency)  # where the mixer places notes
            self.blocks.append(out[:, 0].copy())

        engine.process = tapped

    def wait_until(self, t: float, timeout: float = 120.0) -> None:
        """Block until the engine has played past engine time `t`."""
        deadline = time.monotonic() + timeout
        while not self.starts or self.starts[-1] < t:
            assert time.monotonic() < deadline, "the audio callback stopped"
            time.sleep(0.05)

    def audio(self) -> tuple[np.ndarray, Callable[[float], int]]:
        """Every block so far joined in the order played, and the index in it of an engine time."""
        blocks = self.blocks[:]  # the callback keeps appending: starts are appended first
        starts = np.array(self.starts[: len(blocks)])
        offsets = np.cumsum([0] + [len(b) for b in blocks])

        def index(t: float) -> int:
            i = max(0, int(np.searchsorted(starts, t, side="right")) - 1)
            return int(offsets[i] + round((t - starts[i]) * SR))

        return np.concatenate(blocks), index


def test_stolen_voices_fade_without_clicks(bundles, capture):
    playing = Live(bundles[0], capture, voices=1)
    tap = OutputTap(playing.engine)
    try:
        t0, steals = playing.at(), []
        for k in range(8):
            t = t0 + 0.5 * k
            steal = t + 0.3 + 0.0013 * k
            playing.engine.submit(NoteOn(48, 1.0, at=t))
            playing.engine.submit(NoteOn(50, 0.05, at=steal))
            steals.append(steal)
        tap.wait_until(t0 + 4.2)
        y, index = tap.audio()
    finally:
        playing.close()
    hf = high_band(y)
    assert held_level(y[index(t0) : index(t0 + 4.2)]) > 0.01, "the engine played nothing"
    at_steals = [hf[index(s - 0.015) : index(s + 0.035)].max() for s in steals]
    steady = max(hf[index(s - 0.25) : index(s - 0.05)].max() for s in steals)
    assert max(at_steals) < 1.5 * steady, (at_steals, steady)


def test_a_note_struck_with_a_timbre_change_sounds_as_that_timbre(capture):
    """`/timbre cello` and a 0.35 s `/note 60` at one moment, played live by the shipped model:
    as long and as loud as the same note asked for as a cello (the channel starts on tuba,
    and the ramp from it used to start the note with tuba's attack, 15 dB over the cello's)."""
    playing = Live(default_bundle(), capture)
    try:
        t0 = playing.at()
        playing.engine.submit(SelectTimbre("cello", at=t0))
        playing.engine.submit(NoteOn(60, 0.63, 0.35, at=t0 + 0.001, one_shot=True))
        playing.engine.submit(NoteOn(60, 0.63, 0.35, timbre="cello", at=t0 + 1.0, one_shot=True))
        changed, own = playing.record(t0 - 0.1, t0 + 0.9), playing.record(t0 + 0.9, t0 + 1.9)
    finally:
        playing.close()
    assert abs(sounding_length_s(changed, SR) - sounding_length_s(own, SR)) < 0.01
    assert abs(20 * np.log10(np.abs(changed).max() / np.abs(own).max())) < 1.0


def test_a_key_held_past_the_decoded_window_plays_on_until_released(capture):
    """The shipped model's notes are decoded 5.94 s long; a key held 8 s plays on, its sustain
    looped by the worker process, at its level, until released (it fell silent at 5.94 s)."""
    playing = Live(default_bundle(), capture)
    try:
        t0 = playing.at()
        playing.engine.submit(NoteOn(67, 0.63, timbre="violin", at=t0))
        playing.engine.submit(NoteOff(67, at=t0 + 8.0))
        held = playing.record(t0 + 1.0, t0 + 7.9)
        sustained = playing.engine.status()["sustained_notes"]
    finally:
        playing.close()
    levels = [held_level(held[i : i + SR // 2]) for i in range(0, len(held) - SR // 2, SR // 2)]
    body = np.median(levels[:8])  # 1-5 s
    assert sustained == 1 and np.all(np.abs(20 * np.log10(np.array(levels) / body)) < 4.0), levels


def test_held_notes_start_from_the_first_frames_the_live_worker_reads_ahead(capture):
    """The live worker reads each timbre's held notes' first frames in idle time, the channel's
    timbre first; a never-rendered held note struck there starts from them (counted) and sounds
    as the same note struck again, started from its own (cached) frames: the same pitch, level
    and length."""
    playing = Live(default_bundle(), capture)
    counters = playing.engine.counters
    try:
        deadline = time.monotonic() + 60
        while counters["prepared"] < 81 and time.monotonic() < deadline:  # the tuba's keys, 28-108
            time.sleep(0.2)
        tabled = counters["table_starts"]
        t0 = playing.at()
        for i in range(2):
            playing.engine.submit(NoteOn(55, 0.6, at=t0 + i))
            playing.engine.submit(NoteOff(55, at=t0 + i + 0.6))
        first, again = playing.record(t0 - 0.05, t0 + 0.9), playing.record(t0 + 0.95, t0 + 1.9)
        tabled = counters["table_starts"] - tabled
        status = playing.engine.status()
    finally:
        playing.close()
    assert tabled == 1 and status["table_started_notes"] >= 1 and status["read_ahead_rows"] >= 81
    hz = midi_hz(55)
    f0s = [estimate_f0(y[SR // 10 : SR // 2], hz) for y in (first, again)]
    assert abs(cents(f0s[0], hz)) < 5 and abs(cents(f0s[0], f0s[1])) < 2, f0s
    assert abs(20 * np.log10(held_level(first) / held_level(again))) < 0.5
    assert abs(sounding_length_s(first, SR) - sounding_length_s(again, SR)) < 0.02  # a captured block either way


def test_a_looped_note_plays_on_when_its_worker_dies(capture):
    """A key held past the window, its sustain looped, when the render worker is killed: the
    standby takes over and carries the loop on from where the dead worker's audio ends."""
    playing = Live(default_bundle(), capture)
    try:
        deadline = time.monotonic() + 120
        while not playing.engine.status()["worker_standby"]:
            assert time.monotonic() < deadline, "no standby worker within 120 s"
            time.sleep(0.2)
        t0 = playing.at()
        playing.engine.submit(NoteOn(67, 0.63, timbre="violin", at=t0))
        playing.engine.submit(NoteOff(67, at=t0 + 9.0))
        capture.wait_until(t0 + 6.8)
        before = playing.engine.status()
        os.kill(before["worker_pid"], signal.SIGKILL)
        body, after_kill = playing.record(t0 + 1.0, t0 + 6.8), playing.record(t0 + 7.0, t0 + 8.9)
        after = playing.engine.status()
    finally:
        playing.close()
    assert before["sustained_notes"] == 1 and after["worker_restarts"] == 1 and after["resumed_notes"] >= 1, after
    levels = [held_level(after_kill[i : i + SR // 2]) for i in range(0, len(after_kill) - SR // 2, SR // 2)]
    assert np.all(np.abs(20 * np.log10(np.array(levels) / held_level(body))) < 4.0), levels


def test_a_bend_and_a_vibrato_are_rendered_into_f0_live_and_kept_when_the_worker_dies(capture):
    """`/bend 2` and `/vibrato 25 5` on a held key, live: once the worker process has rendered
    them into the note's f0 the mixer reads its row at rate 1, a tone up, swinging 25 cents.
    Its worker killed, the standby is told each channel's bend and vibrato and carries the
    note on at them, still read at rate 1."""
    playing = Live(default_bundle(), capture)
    engine, bank = playing.engine, playing.engine.bank
    try:
        deadline = time.monotonic() + 120
        while not engine.status()["worker_standby"]:
            assert time.monotonic() < deadline, "no standby worker within 120 s"
            time.sleep(0.2)
        t0 = playing.at()
        engine.submit(NoteOn(67, 0.63, timbre="violin", at=t0))
        engine.submit(PitchBend(2.0, at=t0 + 0.5))
        engine.submit(Vibrato(25.0, 5.0, at=t0 + 0.5))
        engine.submit(NoteOff(67, at=t0 + 6.0))
        capture.wait_until(t0 + 2.5)
        before, (slot,) = engine.status(), np.flatnonzero(bank.state == PLAYING)
        rate_before = float(bank.ratio[slot])
        os.kill(before["worker_pid"], signal.SIGKILL)
        bent, after_kill = playing.record(t0 + 1.0, t0 + 2.5), playing.record(t0 + 3.5, t0 + 5.5)
        rate_after, after = float(bank.ratio[slot]), engine.status()
    finally:
        playing.close()
    assert before["rebends"] >= 1 and rate_before == 1.0 and rate_after == 1.0, (before, rate_before, rate_after)
    assert after["worker_restarts"] == 1 and after["resumed_notes"] >= 1, after
    for audio in (bent, after_kill):
        assert abs(cents(estimate_f0(audio, midi_hz(69)), midi_hz(69))) < 5
        depth, stray = vibrato_fit(audio, 69, 5.0)
        assert depth == pytest.approx(25, abs=3) and stray < 6, (depth, stray)
    assert abs(20 * np.log10(held_level(after_kill) / held_level(bent))) < 4.0


class Overlapping:
    """Notes one a second from t0, alternately 60 and 64, each held 1.5 s and scheduled AHEAD
    ahead as long as `keep_up` is called: from t0 on, one note or two always sound."""

    def __init__(self, engine: Engine, t0: float):
        self.engine, self.t0, self.count = engine, t0, 0

    def keep_up(self) -> None:
        while self.t0 + self.count < self.engine.clock() + AHEAD:
            start, note = self.t0 + self.count, (60, 64)[self.count % 2]
            self.engine.submit(NoteOn(note, 0.8, at=start))
            self.engine.submit(NoteOff(note, at=start + 1.5))
            self.count += 1

    @property
    def last_off(self) -> float:
        return self.t0 + self.count - 1 + 1.5

    def until(self, done: Callable[[], bool], what: str) -> None:
        """Keep the notes coming until `done()`."""
        deadline = time.monotonic() + 120
        while not done():
            assert time.monotonic() < deadline, f"no {what}: {self.engine.status()['model_error']}"
            self.keep_up()
            time.sleep(0.05)


def test_hot_swap_does_not_interrupt_sound_and_a_bad_bundle_is_refused(bundles, capture, tmp_path):
    """Notes keep sounding from before the swap is asked for until after it is done, however
    long it takes; the sound must not drop out in between."""
    broken = make_harmonic_bundle(tmp_path / "broken", seed=9)
    (broken / "bundle.json").write_text("{ not json")
    playing = Live(bundles[0], capture)
    engine = playing.engine
    try:
        notes = Overlapping(engine, playing.at())
        notes.until(lambda: engine.clock() > notes.t0 + 0.3, "first note")
        with pytest.raises(BundleError, match="not valid JSON"):
            engine.load_model(broken)
        engine.load_model(bundles[1])
        notes.until(lambda: engine.status()["model"] == "other", "swap")
        swapped = engine.clock()
        held = playing.record(notes.t0 + 0.1, swapped + 0.45)
        t1 = max(playing.at(), notes.last_off + 1.0)
        engine.submit(NoteOn(67, 0.8, at=t1))
        engine.submit(NoteOff(67, at=t1 + 0.5))
        after = playing.record(t1 + 0.1, t1 + 0.45)
    finally:
        playing.close()
    windows = held[: len(held) // 2400 * 2400].reshape(-1, 2400)  # 50 ms
    levels = np.sqrt(np.mean(windows**2, axis=1))
    assert levels.min() > 0.2 * np.median(levels), "the sound dropped out during the swap"
    assert abs(cents(estimate_f0(after, midi_hz(67)), midi_hz(67))) < 50


def test_rtsynth_serve_command_plays_and_answers_osc(server, bundles, tmp_path):
    import signal
    import subprocess
    import sys

    from pythonosc.osc_message_builder import OscMessageBuilder

    port = free_udp_port()
    process = subprocess.Popen(  # started as a background job of a script is: with SIGINT ignored
        [sys.executable, "-m", "rtsynth", "serve", "--bundle", str(bundles[0]), "--osc-port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        banner = serve_banner(process)
        assert f"udp://127.0.0.1:{port}" in banner and "JACK" in banner and "CPUExecutionProvider" in banner, banner
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(30)
            for address, args in (("/note/on", (60, 100)), ("/status", ())):
                message = OscMessageBuilder(address)
                for arg in args:
                    message.add_arg(arg)
                client.sendto(message.build().dgram, ("127.0.0.1", port))
            reply, _ = client.recvfrom(65536)
        assert reply.startswith(b"/status/reply")
    finally:
        output = stop_serve(process, signal.SIGINT)  # still stops it: serve sets its own handler
    assert process.returncode == 0, output


def test_serve_without_a_sound_card_renders_a_demo_instead(bundles, tmp_path):
    result = serve_without_audio("--bundle", str(bundles[0]), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no audio output device" in result.stdout
    assert (tmp_path / "renders" / "serve-demo.wav").stat().st_size > 48000
