"""The control page in a real browser (Debian's Chromium driven by Playwright) against
`rtsynth serve --web` on a JACK dummy server, with a JACK client recording what it plays.

What the page does is checked where it lands: the engine's state through OSC /status (the
page's own socket is not trusted to report on itself) and the sound in the JACK capture.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_checks import cents, estimate_f0, held_level, midi_hz, onset, spectrum_db, vibrato_fit
from harmonic_bundle import make_harmonic_bundle
from jack_support import SR, capturing, free_udp_port, jack_server_or_skip, serve_banner, stop_serve
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from train_factory import encoder_bundle

pytestmark = pytest.mark.slow
WAIT_S = 30.0  # generous: a loaded 2-core machine; never a timing assertion
CHROMIUM = os.environ.get("RTSYNTH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium)")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def jack(tmp_path_factory):
    yield from jack_server_or_skip(256, tmp_path_factory)


@pytest.fixture(scope="module")
def capture(jack):
    yield from capturing(seconds=900)


class Serve:
    """`rtsynth serve --web` in a process of its own, its OSC port for checking on it."""

    def __init__(self, bundle: Path, folder: Path):
        self.osc_port, self.web_port = free_udp_port(), free_tcp_port()
        command = [sys.executable, "-m", "rtsynth", "serve", "--bundle", str(bundle)]
        command += ["--osc-port", str(self.osc_port), "--web", str(self.web_port)]
        self.process = subprocess.Popen(
            command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.banner = serve_banner(self.process)
        self.url = f"http://127.0.0.1:{self.web_port}/"

    def status(self) -> dict:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(WAIT_S)
            client.sendto(OscMessageBuilder("/status").build().dgram, ("127.0.0.1", self.osc_port))
            params = OscMessage(client.recvfrom(65536)[0]).params
        status = dict(zip(params[::2], params[1::2], strict=True))
        status["timbre_z"] = json.loads(status["timbre_z"])
        return status

    def stop(self) -> str:
        return stop_serve(self.process, signal.SIGINT)


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def screenshot(page, name: str) -> None:
    """RTSYNTH_SCREENSHOTS=docs/img pytest ... saves the page as the docs show it."""
    folder = os.environ.get("RTSYNTH_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


@pytest.fixture
def shipped(tmp_path, capture):
    from rtsynth.resources import default_bundle

    serve = Serve(default_bundle(), tmp_path)
    capture.connect_from("PortAudio")
    yield serve
    serve.stop()


@pytest.fixture(scope="module")
def harmonic(tmp_path_factory, capture):
    folder = tmp_path_factory.mktemp("harmonic")
    serve = Serve(make_harmonic_bundle(folder / "bundles" / "harmonic"), folder)
    capture.connect_from("PortAudio")
    yield serve
    serve.stop()


def open_page(browser, serve: Serve):
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.goto(serve.url)
    page.wait_for_function("window.rtsynth.state.map !== null && window.rtsynth.state.status !== null")
    return page


def point_on_screen(page, name: str) -> tuple[float, float]:
    """Where the map draws the point `name`, in page pixels."""
    box = page.locator("#map").bounding_box()
    x, y = page.evaluate(
        """(name) => { const s = window.rtsynth.state, c = document.getElementById("map");
        const [x, y] = window.rtsynth.toScreen(s.map.points.find((p) => p.name === name).xy);
        const r = c.getBoundingClientRect(); return [x * r.width / c.width, y * r.height / c.height]; }""",
        name,
    )
    return box["x"] + x, box["y"] + y


def press_key(page, capture, note: int, hold_s: float = 0.8) -> np.ndarray:
    """Hold a key of the page's keyboard with the mouse; the capture from the press on."""
    key = page.locator(f'.key[data-note="{note}"]').bounding_box()
    page.mouse.move(key["x"] + key["width"] / 2, key["y"] + key["height"] * 0.8)
    pressed = time.monotonic()
    page.mouse.down()
    time.sleep(hold_s)
    page.mouse.up()
    return capture.record(pressed, pressed + hold_s + 1.5)  # room for a slow first render


def sounding(audio: np.ndarray, seconds: float = 0.3) -> np.ndarray:
    start = onset(audio, 0.05 * np.abs(audio).max())
    return audio[start + int(0.05 * SR) : start + int((0.05 + seconds) * SR)]


def test_the_shipped_model_plays_from_the_page(browser, shipped, capture):
    from rtsynth.bundle import read_spec
    from rtsynth.resources import default_bundle

    page = open_page(browser, shipped)
    clusters = page.evaluate("window.rtsynth.state.map.points.filter((p) => p.kind === 'cluster').length")
    assert clusters == len(read_spec(default_bundle()).descriptors["timbre"].classes)
    assert "training notes" in page.locator("#map-note").inner_text()  # its cloud, from the export
    quiet = time.monotonic()
    played = press_key(page, capture, 60)
    silence = capture.record(quiet - 0.5, quiet - 0.1)
    assert held_level(sounding(played)) > 100 * np.abs(silence).max() + 1e-6
    screenshot(page, "page-default")
    page.close()


def test_the_vibrato_slider_swings_the_notes_pitch(browser, shipped, capture):
    """The slider sends /vibrato: a key held after it is moved to 30 swings 30 cents either way
    at the default 5.5 Hz."""
    page = open_page(browser, shipped)
    page.locator("#vibrato").fill("30")
    assert page.locator("#vibrato-value").inner_text() == "30 cents"
    note = sounding(press_key(page, capture, 67, hold_s=1.6), seconds=1.2)[int(0.3 * SR) :]
    depth, stray = vibrato_fit(note, 67, 5.5)
    assert depth == pytest.approx(30, abs=4) and stray < 8, (depth, stray)
    page.close()


def test_clicking_a_key_plays_its_note_and_the_keyboard_shows_it_held(browser, harmonic, capture):
    page = open_page(browser, harmonic)
    key = page.locator('.key[data-note="64"]')
    box = key.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8)
    pressed = time.monotonic()
    page.mouse.down()
    page.wait_for_function("document.querySelector('.key[data-note=\"64\"]').classList.contains('sounding')")
    assert 64 in json.loads(str(harmonic.status()["held_notes"]))  # the engine holds it (seen over OSC)
    time.sleep(0.6)
    page.mouse.up()
    note = sounding(capture.record(pressed, pressed + 1.5))
    assert held_level(note) > 0
    assert abs(cents(estimate_f0(note, midi_hz(64)), midi_hz(64))) < 50
    page.close()


def test_dragging_the_cursor_morphs_the_engine_and_its_sound(browser, harmonic, capture):
    page = open_page(browser, harmonic)
    names = page.evaluate("window.rtsynth.state.map.points.map((p) => p.name)")
    first, last = names[0], names[3]
    page.mouse.move(*point_on_screen(page, first))
    page.mouse.down()
    page.mouse.up()
    deadline = time.monotonic() + WAIT_S
    while harmonic.status()["timbre"] != first and time.monotonic() < deadline:
        time.sleep(0.1)
    before_z = harmonic.status()["timbre_z"]
    before = sounding(press_key(page, capture, 57))

    start, end = np.array(point_on_screen(page, first)), np.array(point_on_screen(page, last))
    page.mouse.move(*start)
    page.mouse.down()
    for step in np.linspace(0, 1, 15):
        page.mouse.move(*(start + step * (end - start)))
        time.sleep(0.03)
    page.mouse.up()
    expected = page.evaluate("window.rtsynth.state.map.points[3].z")
    while harmonic.status()["timbre"] != last and time.monotonic() < deadline:
        time.sleep(0.1)
    after_z = harmonic.status()["timbre_z"]
    assert np.abs(np.subtract(after_z, expected)).max() < 0.05, (after_z, expected)
    assert np.abs(np.subtract(after_z, before_z)).max() > 0.2
    after = sounding(press_key(page, capture, 57))
    difference = np.mean(np.abs(spectrum_db(before)[20:600] - spectrum_db(after)[20:600]))
    assert difference > 3.0, difference
    screenshot(page, "page-morph")
    page.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, capture, harmonic):
    harmonic.stop()  # one engine on the JACK server at a time keeps the capture unambiguous
    folder = tmp_path_factory.mktemp("trained")
    bundle = encoder_bundle(folder / "model")
    serve = Serve(bundle, folder)
    capture.connect_from("PortAudio")
    yield serve, bundle
    serve.stop()


def test_a_dropped_recording_becomes_a_preset_on_the_map_that_plays(browser, trained, capture, tmp_path):
    from rtsynth.from_audio import encode_recording

    serve, bundle = trained
    rate = 44100
    t = np.arange(int(0.8 * rate)) / rate
    tone = sum(0.3 / k * np.sin(2 * np.pi * 262 * k * t) for k in range(1, 6)) * np.minimum(1, 20 * (0.8 - t))
    wav = tmp_path / "my sound.wav"
    sf.write(wav, tone.astype(np.float32), rate)
    page = open_page(browser, serve)
    page.evaluate(
        """(data) => { const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer(); transfer.items.add(new File([bytes], "my sound.wav"));
        const drop = new DragEvent("drop", {dataTransfer: transfer, bubbles: true});
        document.getElementById("map").dispatchEvent(drop); }""",
        base64.b64encode(wav.read_bytes()).decode(),
    )
    page.wait_for_function("window.rtsynth.state.map.points.some((p) => p.name === 'my_sound')", timeout=WAIT_S * 1000)
    expected = encode_recording(bundle, wav)[:8]
    deadline = time.monotonic() + WAIT_S
    while np.abs(np.subtract(serve.status()["timbre_z"], expected)).max() > 1e-3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert np.abs(np.subtract(serve.status()["timbre_z"], expected)).max() < 1e-3
    assert "my_sound" in page.locator("#presets").inner_text()
    quiet = time.monotonic()
    played = press_key(page, capture, 62)
    silence = capture.record(quiet - 0.5, quiet - 0.1)
    assert held_level(sounding(played)) > 100 * np.abs(silence).max() + 1e-7
    screenshot(page, "page-preset")
    page.close()
