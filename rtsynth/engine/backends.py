"""Audio backends: they own the audio thread (or the offline clock) and call Engine.process.

All three share the engine's voices and mixer: sounddevice (PortAudio: JACK, ALSA, CoreAudio,
WASAPI), pyo (optional extra), and offline (a virtual clock, a numpy buffer / WAV).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from rtsynth.engine.config import EngineConfig
from rtsynth.engine.engine import BUFFER_SECONDS, Engine
from rtsynth.engine.events import Event, NoteOn
from rtsynth.engine.local import LocalWorker
from rtsynth.engine.mixer import FREE
from rtsynth.engine.worker import RenderWorker
from rtsynth.errors import RtsynthError

if TYPE_CHECKING:
    import pyo
    import sounddevice as sd

log = logging.getLogger(__name__)

BACKENDS = ("sounddevice", "pyo")


class AudioBackendError(RtsynthError, RuntimeError):
    """The audio output cannot be opened; the message says which device and why."""


def output_devices() -> list[str]:
    """Names of the output devices PortAudio sees (empty without a sound card or server)."""
    try:
        import sounddevice as sd
    except OSError:  # sounddevice raises OSError when the PortAudio library is missing
        return []
    return [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]


class ClockMap:
    """Maps an audio stream's clock onto the engine clock.

    The stream's time of a block is exact (it counts frames), but the callback starts some
    variable time after it. Callbacks run late, never early, so the smallest recent
    (engine clock - stream time) is the truest offset; a short window follows any drift
    between the two clocks (a sound card's crystal, or a dummy driver falling behind).
    """

    def __init__(self, window: int = 64):
        self._differences = np.full(window, np.inf)
        self._count = 0

    def engine_time(self, engine_now: float, stream_time: float) -> float:
        """Engine-clock time of `stream_time`, given the engine clock read in the callback."""
        if not stream_time:  # host APIs that report no stream time
            return engine_now
        self._differences[self._count % len(self._differences)] = engine_now - stream_time
        self._count += 1
        return stream_time + float(self._differences.min())


class SoundDeviceBackend:
    def __init__(self, engine: Engine, device: str | int | None = None, channels: int = 2):
        self.engine, self.device, self.channels = engine, device, channels
        self.error: BaseException | None = None
        self._stream: sd.OutputStream | None = None
        self._fallback_delay = 0.0
        self._clock = ClockMap()

    def start(self) -> SoundDeviceBackend:
        import sounddevice as sd

        config = self.engine.config
        try:
            self._stream = sd.OutputStream(
                samplerate=config.samplerate,
                blocksize=config.blocksize,
                device=self.device,
                channels=self.channels,
                dtype="float32",
                latency="low",
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as err:
            raise AudioBackendError(
                f"cannot open audio output {self.device or '(default)'} at "
                f"{config.samplerate} Hz, {config.blocksize} frames: {err}"
            ) from None
        self._fallback_delay = self._stream.latency
        info = sd.query_devices(self._stream.device)
        self.engine.audio_info = {
            "backend": "sounddevice",
            "device": info["name"],
            "hostapi": sd.query_hostapis(info["hostapi"])["name"],
            "latency_ms": self._stream.latency * 1e3,
        }
        self._stream.start()
        return self

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: sd.CallbackFlags) -> None:
        engine = self.engine
        if status.output_underflow:
            engine.mixer.stats.xruns += 1
        delay = time_info.outputBufferDacTime - time_info.currentTime
        if not 0.0 < delay < 1.0:  # host APIs that do not report times
            delay = self._fallback_delay
        try:
            engine.process(outdata, self._clock.engine_time(engine.clock(), time_info.currentTime), delay)
        except Exception as err:  # never let the stream die; status() reports it
            outdata.fill(0)
            self.error = err

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def __enter__(self) -> SoundDeviceBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _LatencyRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]


_XRUN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class JackMonitor:
    """A port-less JACK client beside pyo's, for what pyo does not tell: whether a JACK server
    runs (pyo would try to start one), how late its output ports play, and the xruns."""

    NO_START_SERVER, PLAYBACK_LATENCY = 0x01, 1  # jack_options_t, jack_latency_callback_mode_t

    def __init__(self, lib: ctypes.CDLL, client: int, on_xrun: Callable[[], None]):
        self._lib, self._client = lib, client

        def xrun(_arg: int | None) -> int:
            on_xrun()
            return 0

        self._on_xrun = _XRUN_CALLBACK(xrun)  # ctypes needs it kept alive
        lib.jack_set_xrun_callback(client, self._on_xrun, None)
        lib.jack_activate(client)

    @classmethod
    def connect(cls, name: str, on_xrun: Callable[[], None]) -> JackMonitor | None:
        """The monitor, or None where no JACK server runs (or no JACK library is installed)."""
        path = ctypes.util.find_library("jack")
        if path is None:
            return None
        lib = ctypes.CDLL(path)
        handle, text = ctypes.c_void_p, ctypes.c_char_p
        lib.jack_client_open.restype = lib.jack_port_by_name.restype = handle
        lib.jack_get_uuid_for_client_name.restype = handle
        lib.jack_client_open.argtypes = [text, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.jack_port_by_name.argtypes = lib.jack_get_uuid_for_client_name.argtypes = [handle, text]
        lib.jack_port_get_latency_range.argtypes = [handle, ctypes.c_int, ctypes.POINTER(_LatencyRange)]
        lib.jack_port_get_all_connections.restype = ctypes.POINTER(text)  # NULL-terminated, freed by jack_free
        lib.jack_port_get_all_connections.argtypes = [handle, handle]
        lib.jack_set_xrun_callback.argtypes = [handle, _XRUN_CALLBACK, handle]
        lib.jack_activate.argtypes = lib.jack_deactivate.argtypes = [handle]
        lib.jack_client_close.argtypes = lib.jack_free.argtypes = [handle]
        status = ctypes.c_int()
        client = lib.jack_client_open(name.encode(), cls.NO_START_SERVER, ctypes.byref(status))
        return cls(lib, client, on_xrun) if client else None

    def free_name(self, base: str) -> str:
        """`base`, else base-2, base-3 ...: a client name not in use, so the ports can be found by
        name (JACK would silently rename a clash)."""
        for k in range(1, 100):
            name = base if k == 1 else f"{base}-{k}"
            uuid = self._lib.jack_get_uuid_for_client_name(self._client, name.encode())
            if not uuid:
                return name
            self._lib.jack_free(uuid)
        raise AudioBackendError(f"JACK already has clients {base!r} to {base}-99")

    def playback_latency(self, client_name: str, channels: int) -> int:
        """Frames from an output port of `client_name` to the DAC: the most over the ports its
        outputs feed (JACK updates the outputs' own figure only a moment after they connect)."""
        latency, frames = _LatencyRange(), 0
        for channel in range(1, channels + 1):
            for name in self._connections(f"{client_name}:output_{channel}"):
                port = self._lib.jack_port_by_name(self._client, name)
                self._lib.jack_port_get_latency_range(port, self.PLAYBACK_LATENCY, ctypes.byref(latency))
                frames = max(frames, latency.max)
        return frames

    def _connections(self, port_name: str) -> list[bytes]:
        """Full names of the ports a port is connected to (none for a port that does not exist)."""
        port = self._lib.jack_port_by_name(self._client, port_name.encode())
        names = self._lib.jack_port_get_all_connections(self._client, port) if port else None
        if not names:
            return []
        found: list[bytes] = []
        while names[len(found)] is not None:
            found.append(names[len(found)])
        self._lib.jack_free(ctypes.cast(names, ctypes.c_void_p))
        return found

    def close(self) -> None:
        self._lib.jack_deactivate(self._client)
        self._lib.jack_client_close(self._client)


class PyoBackend:
    """pyo's audio server drives the engine: pyo calls back before each of its buffers, the
    callback mixes one engine block into a table, and a TableScan plays that table sample for
    sample (no interpolation, no drift) to every output channel.

    Host: JACK when a JACK server runs (the pyo wheel's PortAudio has no JACK), else PortAudio;
    `device` is "jack" (JACK or an error), a PortAudio output index, or part of its name.
    pyo tells neither DAC times nor xruns: blocks are timed by counting frames (ClockMap); on
    JACK a monitor client reads the output ports' playback latency (what PortAudio's callback
    reports on JACK too) and counts xruns; on PortAudio two buffers are assumed and xruns go
    uncounted.
    """

    STOP_WAIT_S = 0.25  # after pyo stops calling us: lets a buffer already in flight finish

    def __init__(
        self, engine: Engine, device: str | int | None = None, channels: int = 2, client_name: str = "rtsynth"
    ):
        self.engine, self.device, self.channels, self.client_name = engine, device, channels, client_name
        self.error: BaseException | None = None
        self._server: pyo.Server | None = None
        self._monitor: JackMonitor | None = None
        self._players: (
            tuple[pyo.DataTable, pyo.PyoObject] | tuple[()]
        ) = ()  # pyo's table and its reader: alive while the server plays them
        self._block: np.ndarray | None = None  # the table's memory, [frames, 1]
        self._clock = ClockMap()
        self._frames, self._delay, self._playing = 0, 0.0, False

    def start(self) -> PyoBackend:
        os.environ.setdefault("PYO_GUI_WX", "0")  # no pyo GUI here: skip its wxPython probe and notice
        try:
            import pyo
        except ImportError:
            raise AudioBackendError("the pyo backend needs the optional extra: pip install 'rtsynth[pyo]'") from None
        try:
            self._open(pyo)
        except BaseException:
            self.stop()
            raise
        return self

    def _open(self, pyo: ModuleType) -> None:
        if self.device in (None, "jack"):
            self._monitor = JackMonitor.connect(f"{self.client_name}-monitor", self._count_xrun)
            if self._monitor is None and self.device == "jack":
                raise AudioBackendError("pyo backend: no JACK server is running (start one, e.g. `jackd -d alsa`)")
        if self._monitor is not None:
            self.client_name = self._monitor.free_name(self.client_name)
            output, where = None, {"device": self.client_name, "hostapi": "JACK"}
        else:
            output, name = self._portaudio_output(pyo)
            where = {"device": name, "hostapi": "PortAudio (pyo)"}
        server = self._boot(pyo, output)
        n, sr = server.getBufferSize(), self.engine.config.samplerate
        table = pyo.DataTable(size=n)
        self._block = np.asarray(table.getBuffer()).reshape(n, 1)
        self._players = (table, pyo.TableScan(table).mix(self.channels).out())
        if self._monitor is not None:
            self._delay = max(n, self._monitor.playback_latency(self.client_name, self.channels)) / sr
        else:
            self._delay = 2 * n / sr
        self.engine.audio_info = {"backend": "pyo", **where, "latency_ms": self._delay * 1e3}
        server.setCallback(self._callback)
        self._playing = True
        server.start()

    def _boot(self, pyo: ModuleType, output: int | None) -> pyo.Server:
        """A booted pyo server (on JACK, or on PortAudio `output`) at the engine's rate and block
        size, or AudioBackendError saying why not."""
        config, host = self.engine.config, "PortAudio" if output is not None else "JACK"
        self._server = server = pyo.Server(
            sr=config.samplerate,
            nchnls=self.channels,
            buffersize=config.blocksize,
            duplex=0,
            audio=host.lower(),
            jackname=self.client_name,
            verbosity=1,
        )  # pyo prints errors only
        server.deactivateMidi()  # MIDI is rtsynth's own (rtmidi): pyo must not open the ports too
        if output is not None:
            server.setOutputDevice(output)
        server.boot()
        if not server.getIsBooted():
            raise AudioBackendError(f"pyo could not open its {host} audio output (see pyo's message above)")
        sr, n = int(server.getSamplingRate()), server.getBufferSize()
        if (sr, n) != (config.samplerate, config.blocksize):  # JACK imposes its own
            raise AudioBackendError(
                f"{host} runs at {sr} Hz with {n}-frame buffers, the engine at "
                f"{config.samplerate} Hz with {config.blocksize}: start rtsynth with "
                f"--samplerate {sr} --blocksize {n}"
            )
        return server

    def _portaudio_output(self, pyo: ModuleType) -> tuple[int, str]:
        """The PortAudio output to open, index and name (pyo crashes booting without one)."""
        names, indexes = pyo.pa_get_output_devices()
        if not indexes:
            raise AudioBackendError("pyo backend: no JACK server is running and PortAudio sees no audio output")
        if self.device is None:
            index = pyo.pa_get_default_output()
        elif isinstance(self.device, int):
            index = self.device
        else:
            index = next((i for name, i in zip(names, indexes) if str(self.device).lower() in name.lower()), None)
        if index not in indexes:
            wanted = "(the default)" if self.device is None else repr(self.device)
            raise AudioBackendError(f"pyo backend: no PortAudio output {wanted}; outputs: {', '.join(names)}")
        return index, names[indexes.index(index)]

    def _callback(self) -> None:
        """pyo calls this before computing each buffer, holding the interpreter lock: mix one block."""
        block = self._block
        if block is None:  # not open yet, or closed
            return
        if not self._playing:  # stopping: silence, nothing else
            block.fill(0)
            return
        engine = self.engine
        try:
            stream_time = self._frames / engine.config.samplerate
            engine.process(block, self._clock.engine_time(engine.clock(), stream_time), self._delay)
        except Exception as err:  # pyo ignores what its callback raises; keep the stream going
            block.fill(0)
            self.error = err
        self._frames += len(block)

    def _count_xrun(self) -> None:
        self.engine.mixer.stats.xruns += 1

    def stop(self) -> None:
        """Silence the callback, stop pyo, let a buffer in flight finish, then close pyo and JACK.

        Order matters: a pyo DataTable frees its memory outright, whatever still views it, so
        the numpy view goes first, then pyo's objects, then (with nothing left on it) the server."""
        self._playing = False
        server, self._server = self._server, None
        if server is not None and server.getIsStarted():
            server.stop()
            time.sleep(self.STOP_WAIT_S)
        self._block = None
        self._players = ()
        if server is not None and server.getIsBooted():
            server.shutdown()
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None

    def __enter__(self) -> PyoBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_backend(name: str, engine: Engine, device: str | None) -> SoundDeviceBackend | PyoBackend:
    if name == "sounddevice":
        return SoundDeviceBackend(engine, device)
    if name == "pyo":
        return PyoBackend(engine, None if device is None else int(device) if device.isdigit() else device)
    raise ValueError(f"unknown audio backend {name!r}; choose from {BACKENDS}")


class OfflineClock:
    """The engine clock while rendering offline: the time of the block being rendered."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class OfflineRenderer:
    """The engine on a virtual clock: timed events in, mono audio out, as fast as it renders.

    Each block's notes are rendered completely before the block is mixed, so the result
    does not depend on the machine's speed. Successive renders continue the same timeline.
    """

    def __init__(self, bundle_dir: str | Path, config: EngineConfig = EngineConfig()):
        self.clock = OfflineClock()
        self.engine = Engine(bundle_dir, config, clock=self.clock, realtime=False).start()
        link = self.engine.worker_link
        assert isinstance(link, LocalWorker)
        self._link = link

    @property
    def worker(self) -> RenderWorker:
        return self._link.worker

    def render(self, events: list[Event], tail: float = 0.5, max_seconds: float = 3600.0) -> np.ndarray:
        """Play events (`at` in seconds from the start of this render) until every voice has
        finished and `tail` seconds of silence followed; return the mono output."""
        if any(e.at is None or not math.isfinite(e.at) or e.at < 0 for e in events):
            raise ValueError("offline events need finite, non-negative `at` times (seconds)")
        engine, clock = self.engine, self.clock
        origin = clock.now
        events = sorted((replace(e, at=_time(e) + origin) for e in events), key=_time)
        sr, n = engine.config.samplerate, engine.config.blocksize
        last = max((_end(e) - origin for e in events), default=0.0)
        limit = min(max_seconds, last + BUFFER_SECONDS + engine.config.release_ms * 1e-3 + tail)
        blocks: list[np.ndarray] = []
        block, index, silent_since = np.zeros((n, 1), dtype=np.float32), 0, None
        for k in range(math.ceil(limit * sr / n)):
            t = origin + k * n / sr
            clock.now = t
            while index < len(events) and _time(events[index]) < t + 2 * n / sr:
                engine.submit(events[index], arrival=_time(events[index]))
                index += 1
            self.worker.drain()
            engine.process(block, t, 0.0)
            blocks.append(block[:, 0].copy())
            idle = index == len(events) and not self.worker.voices and np.all(engine.bank.state == FREE)
            silent_since = (silent_since if silent_since is not None else t) if idle else None
            if silent_since is not None and t - silent_since >= tail:
                break
        clock.now = origin + len(blocks) * n / sr
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def _end(event: Event) -> float:
    """When an offline event's note is asked to end (a one-shot's), else its time."""
    length = event.duration if isinstance(event, NoteOn) and event.one_shot and event.duration else 0.0
    return _time(event) + length


def _time(event: Event) -> float:
    """An offline event's time (OfflineRenderer.render checked that each has one)."""
    assert event.at is not None
    return event.at
