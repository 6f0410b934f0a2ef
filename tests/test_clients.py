"""The SuperCollider and Pure Data examples, run headless against a real server and engine.

Each test starts the real OscServer on a free localhost port in front of the real (offline)
engine, runs the client program itself (`sclang`, `pd -nogui`), and checks what the server
received: the notes, the bundle-timed morph steps, no /error replies, and the client's own
printout of the /status/reply it read. They skip, naming the Debian package, where the
client program is not installed (scripts/setup installs both).
"""

from __future__ import annotations

import itertools
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from engine_spy import engine, real_engine  # noqa: F401 (fixtures)

from rtsynth.control.osc import OscServer
from rtsynth.engine.events import MorphCorner, MorphPosition, MorphTime, NoteOn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCLANG = shutil.which("sclang")
PD = shutil.which("pd")
RUN_LIMIT_S = 180  # a ceiling for a stuck client on a loaded machine, not a timing check
STEP_S = 0.1  # the SuperCollider example stamps its morph steps this far apart


@pytest.fixture
def server(engine, tmp_path):
    with OscServer(engine, port=0, presets_dir=tmp_path / "presets", bundles_dir=tmp_path / "bundles") as srv:
        yield srv


# --- SuperCollider ------------------------------------------------------------------------------


def run_sclang(script: Path, port: int, home: Path) -> subprocess.CompletedProcess:
    """sclang is a Qt program: 'offscreen' runs it without a display, and its Qt WebEngine
    refuses to start as root unless the Chromium sandbox is off (harmless otherwise). A fresh
    HOME keeps a developer's startup file and extensions out of the test."""
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        QTWEBENGINE_DISABLE_SANDBOX="1",
        XDG_RUNTIME_DIR=str(home),
        HOME=str(home),
        RTSYNTH_PORT=str(port),
    )
    try:
        return subprocess.run(
            [SCLANG, str(script)],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT_S,
        )
    except subprocess.TimeoutExpired as err:  # an error in the script leaves sclang waiting
        output = err.stdout.decode() if isinstance(err.stdout, bytes) else err.stdout
        pytest.fail(f"sclang did not finish within {RUN_LIMIT_S} s; its output ends: {(output or '')[-3000:]}")


@pytest.mark.skipif(SCLANG is None, reason="sclang not installed (Debian package supercollider-language)")
def test_supercollider_example_plays_notes_and_a_bundle_timed_morph(server, engine, tmp_path):
    run = run_sclang(EXAMPLES / "supercollider" / "rtsynth.scd", server.port, tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert server.errors == 0, run.stdout[-3000:]
    assert "rtsynth status:" in run.stdout and "  voices: " in run.stdout, "the OSCFunc printed /status/reply"
    events = engine.drain()

    timbres = engine.model_info()["timbres"]
    notes = [e for e in events if isinstance(e, NoteOn)]
    assert len(notes) == 8 and all(n.one_shot for n in notes)
    assert {n.timbre for n in notes} <= set(timbres) and len({n.timbre for n in notes}) > 1
    assert len({round(n.duration, 3) for n in notes}) >= 3, "durations vary: they choose the D latent"
    assert len({n.velocity for n in notes}) >= 3

    corners = {e.corner: e.timbre for e in events if isinstance(e, MorphCorner)}
    assert corners == {"a": timbres[0], "b": timbres[1]}
    assert any(isinstance(e, MorphTime) for e in events)
    steps = [e for e in events if isinstance(e, MorphPosition)]
    assert [s.x for s in steps] == pytest.approx([i / 20 for i in range(21)])
    assert all(s.at is not None for s in steps), "each step keeps its bundle's timetag"
    gaps = [b.at - a.at for a, b in itertools.pairwise(steps)]
    assert gaps == pytest.approx([STEP_S] * 20, abs=0.01), "timetags, not arrival times, set the schedule"


# --- Pure Data --------------------------------------------------------------------------------------


class PdProcess:
    """`pd -nogui` on a patch; its Pd-window printout (stderr) is read line by line."""

    def __init__(self, patch: Path, sends: str):
        args = [PD, "-nogui", "-nosound", "-nomidi", "-nrt", "-stderr", "-open", str(patch), "-send", sends]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix: str, wait_s: float = RUN_LIMIT_S) -> str:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"pd never printed {prefix!r}; it printed: {self.seen[-20:]}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.mark.skipif(PD is None, reason="pd not installed (Debian package puredata-core)")
def test_pure_data_example_plays_the_demo_and_reads_replies(server, engine):
    pd = PdProcess(EXAMPLES / "puredata" / "rtsynth.pd", f"rtsynth-port {server.port}; rtsynth-demo bang")
    try:
        timbres_line = pd.wait_for("rtsynth-model-info: timbres")
        status_line = pd.wait_for("rtsynth-status:")
    finally:
        pd.stop()
    assert timbres_line.split()[2:] == engine.model_info()["timbres"]
    assert " voices " in status_line
    assert server.errors == 0, [line for line in pd.seen if line.startswith("rtsynth-error")]
    events = engine.drain()
    notes = [e for e in events if isinstance(e, NoteOn)]
    assert [n.note for n in notes] == [60, 62, 64, 65, 67, 69, 71, 72]
    assert all(n.one_shot for n in notes) and len({n.duration for n in notes}) == 8
    assert {e.corner for e in events if isinstance(e, MorphCorner)} == {"a", "b"}
    sweep = [e.x for e in events if isinstance(e, MorphPosition)]
    assert len(sweep) > 5 and sweep[0] == 0.0 and sweep[-1] == pytest.approx(1.0)
    assert sweep == sorted(sweep)
