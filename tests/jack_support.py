"""A real JACK server (dummy driver) for tests, and a JACK client that records what it hears.

The server gets a unique name (JACK_DEFAULT_SERVER) so tests never touch a user's JACK.
PortAudio reads the server list when it initialises, so it is re-initialised once the
server runs and terminated (closing its JACK client) before the server stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import numpy as np

SR = 48000


@contextlib.contextmanager
def jack_server(period: int = 256, log_path=None, realtime: bool = False):
    if shutil.which("jackd") is None:
        raise RuntimeError("jackd is not installed (apt install jackd2)")
    name = f"rtsynth-test-{uuid.uuid4().hex[:8]}"
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 (closed when the server stops)
    scheduling = "--realtime" if realtime else "--no-realtime"  # realtime: SCHED_FIFO threads, where allowed
    server = subprocess.Popen(
        ["jackd", scheduling, "-n", name, "-d", "dummy", "-r", str(SR), "-p", str(period)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    try:
        _wait_for(name, server)
        import sounddevice

        sounddevice._terminate()
        sounddevice._initialize()
        yield name
    finally:
        with contextlib.suppress(Exception):
            import sounddevice

            sounddevice._terminate()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        with contextlib.suppress(Exception):
            import sounddevice

            sounddevice._initialize()
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous
        if log is not subprocess.DEVNULL:
            log.close()


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if this process dies without its cleanup (a crash)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_for(name: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jackd exited with code {server.returncode}")
        if (
            subprocess.run(
                ["jack_lsp"], capture_output=True, env={**os.environ, "JACK_DEFAULT_SERVER": name}, timeout=30
            ).returncode
            == 0
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"jackd did not answer within {timeout:.0f} s")


class Capture:
    """Records its input port, each block placed at its JACK frame time (xruns leave zeros)."""

    def __init__(self, seconds: float = 120.0, name: str = "rtsynth-capture"):
        import jack

        self.client = jack.Client(name, no_start_server=True)
        self.port = self.client.inports.register("in")
        self.audio = np.zeros(int(seconds * SR), dtype=np.float32)
        self.received = np.zeros(len(self.audio), dtype=bool)  # False where our own xruns left zeros
        self.first_frame: int | None = None
        self.end = 0  # capture index after the latest block
        self.block_index = np.zeros(1 << 17, dtype=np.int64)  # each block's capture index ...
        self.block_clock = np.zeros(1 << 17)  # ... and the clock when its callback ran
        self.blocks = 0
        self.xruns = 0
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _process(self, frames: int) -> None:
        now = time.monotonic()
        frame = self.client.last_frame_time
        if self.first_frame is None:
            self.first_frame = frame
        index = frame - self.first_frame
        if index + frames <= len(self.audio) and self.blocks < len(self.block_index):
            self.audio[index : index + frames] = self.port.get_array()
            self.received[index : index + frames] = True
            self.end = index + frames
            self.block_index[self.blocks], self.block_clock[self.blocks] = index, now
            self.blocks += 1

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    def connect_from(self, pattern: str = "PortAudio", channels: int = 2) -> str:
        """Listen to the left output of the newest stream of the client matching `pattern`
        (PortAudio numbers its ports on, stream after stream: out_0 out_1, then out_2 ...)."""
        ports = self.client.get_ports(pattern, is_audio=True, is_output=True)
        if len(ports) < channels:
            raise RuntimeError(f"no {channels}-channel JACK output matches {pattern!r}")
        newest = sorted(ports, key=lambda p: int(p.shortname.rsplit("_", 1)[-1]))[-channels]
        for connected in self.port.connections:
            self.client.disconnect(connected, self.port)
        self.client.connect(newest, self.port)
        return newest.name

    def index_of(self, clock_time: float) -> int:
        """Capture index of an engine-clock (time.monotonic) instant.

        Callbacks run late, never early, so over the blocks around that instant the smallest
        (clock - index / SR) is the best estimate of where the frame clock sits.
        """
        n = self.blocks
        clocks, indices = self.block_clock[:n], self.block_index[:n]
        near = np.abs(clocks - clock_time) < 0.25
        if not near.any():
            near = np.arange(n) >= n - 200
        offset = np.min(clocks[near] - indices[near] / SR)
        return round((clock_time - offset) * SR)

    def window(self, start: float, stop: float) -> np.ndarray:
        """Captured audio between two engine-clock instants."""
        return self.audio[self._span(start, stop)].copy()

    def received_in(self, start: float, stop: float) -> np.ndarray:
        """Which samples of `window(start, stop)` a callback of ours delivered."""
        return self.received[self._span(start, stop)].copy()

    def _span(self, start: float, stop: float) -> slice:
        return slice(max(0, self.index_of(start)), max(0, self.index_of(stop)))

    def record(self, start: float, stop: float) -> np.ndarray:
        """Wait until the capture holds `stop` (and a little after), then return the window."""
        self.wait_until(stop + 0.05)
        return self.window(start, stop)

    def wait_until(self, clock_time: float, timeout: float = 120.0) -> None:
        """Block until the capture holds audio up to `clock_time`."""
        deadline = time.monotonic() + timeout
        while self.blocks == 0 or self.end < self.index_of(clock_time):
            if time.monotonic() > deadline:
                raise TimeoutError("JACK stopped delivering audio")
            time.sleep(0.05)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def jack_server_or_skip(period: int, tmp_path_factory):
    """A test module's JACK dummy server (its log in a temp folder), or a skip saying why not."""
    import pytest  # the benches share this module without it

    try:
        with jack_server(period, tmp_path_factory.mktemp("jackd") / "jackd.log") as name:
            yield name
    except RuntimeError as err:
        pytest.skip(f"no JACK server: {err}")


def capturing(seconds: float):
    """A recorder of the server's playback, closed when the module is done."""
    recorder = Capture(seconds=seconds)
    yield recorder
    recorder.close()


def check_scheduled_notes(engine, capture: Capture, t0: float, on_time_s: float) -> None:
    """Two notes scheduled a second apart from t0: each starts within `on_time_s` of its time,
    sounds at its pitch and is released after its note-off."""
    from audio_checks import cents, estimate_f0, held_level, midi_hz, onset

    from rtsynth.engine.events import NoteOff, NoteOn

    for i, note in enumerate((57, 64)):
        engine.submit(NoteOn(note, 0.8, at=t0 + i))
        engine.submit(NoteOff(note, at=t0 + i + 0.4))
    for i, note in enumerate((57, 64)):
        t = t0 + i
        around = capture.record(t - 0.1, t + 0.95)
        start = onset(around, 1e-3) / SR - 0.1
        assert abs(start) < on_time_s, f"note {note} started {start * 1e3:.1f} ms from its time"
        held = around[int(0.2 * SR) : int(0.45 * SR)]
        assert abs(cents(estimate_f0(held, midi_hz(note)), midi_hz(note))) < 50
        assert held_level(around[int(0.8 * SR) : int(1.0 * SR)]) < 0.01 * held_level(held)  # released


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_banner(process: subprocess.Popen) -> str:
    """What `rtsynth serve` printed up to its banner's last line (where it listens, what it plays on)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "voices:" in line:
            break
    return "".join(lines)


def stop_serve(process: subprocess.Popen, sig: int) -> str:
    """Send `sig` and return the rest of the output; a server that does not stop is killed."""
    process.send_signal(sig)
    try:
        return process.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def serve_without_audio(*args: str, cwd) -> subprocess.CompletedProcess:
    """`rtsynth serve ARGS` where no JACK server runs and none may start; skips the test where
    a sound card lets serve start playing instead (it then never returns)."""
    import pytest

    env = {**os.environ, "JACK_DEFAULT_SERVER": "rtsynth-no-such-server", "JACK_NO_START_SERVER": "1"}
    command = [sys.executable, "-m", "rtsynth", "serve", *args]
    try:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("this machine has a sound card: serve started playing on it")
