"""Audio backends: they own the audio thread (or the offline clock) and call Engine.process.

All three share the engine's voices and mixer: sounddevice (PortAudio: JACK, ALSA, CoreAudio,
WASAPI), pyo (optional extra), and offline (a virtual clock, a numpy buffer / WAV).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from rtsynth.engine.config import EngineConfig
from rtsynth.engine.engine import BUFFER_SECONDS, Engine
from rtsynth.engine.events import Event
from rtsynth.engine.mixer import FREE

log = logging.getLogger(__name__)

BACKENDS = ("sounddevice", "pyo")


class AudioBackendError(RuntimeError):
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
        self._stream = None
        self._fallback_delay = 0.0
        self._clock = ClockMap()

    def start(self) -> SoundDeviceBackend:
        import sounddevice as sd

        config = self.engine.config
        try:
            self._stream = sd.OutputStream(
                samplerate=config.samplerate, blocksize=config.blocksize, device=self.device,
                channels=self.channels, dtype="float32", latency="low", callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as err:
            raise AudioBackendError(f"cannot open audio output {self.device or '(default)'} at "
                                    f"{config.samplerate} Hz, {config.blocksize} frames: {err}") from None
        self._fallback_delay = self._stream.latency
        info = sd.query_devices(self._stream.device)
        self.engine.audio_info = {
            "backend": "sounddevice", "device": info["name"],
            "hostapi": sd.query_hostapis(info["hostapi"])["name"], "latency_ms": self._stream.latency * 1e3,
        }
        self._stream.start()
        return self

    def _callback(self, outdata, frames, time_info, status) -> None:
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

    def __exit__(self, *exc) -> None:
        self.stop()


class PyoBackend:
    """pyo's audio server drives the engine through a shared table it reads each buffer."""

    def __init__(self, engine: Engine, device: int | None = None, channels: int = 2, audio: str = "portaudio"):
        self.engine, self.device, self.channels, self.audio = engine, device, channels, audio
        self._server = None

    def start(self) -> PyoBackend:
        try:
            import pyo
        except ImportError:
            raise AudioBackendError("the pyo backend needs the optional extra: pip install 'rtsynth[pyo]'") from None
        config = self.engine.config
        server = pyo.Server(sr=config.samplerate, nchnls=self.channels, buffersize=config.blocksize, duplex=0,
                            audio=self.audio)
        if self.device is not None:
            server.setOutputDevice(self.device)
        server.boot()
        if not server.getIsBooted():
            raise AudioBackendError(f"pyo could not open its {self.audio} audio output (see pyo's messages above)")
        table = pyo.DataTable(size=config.blocksize)
        block = np.asarray(table.getBuffer())
        scratch = np.zeros((config.blocksize, 1), dtype=np.float32)
        delay = 2 * config.blocksize / config.samplerate  # pyo reports no DAC times: one buffer out, one in flight

        def fill() -> None:
            self.engine.process(scratch, self.engine.clock(), delay)
            block[:] = scratch[:, 0]

        self._reader = pyo.TableRead(table, freq=table.getRate(), loop=True).mix(self.channels).out()
        server.setCallback(fill)
        server.start()
        self._server = server
        self.engine.audio_info = {"backend": "pyo", "device": str(self.device or "default"), "hostapi": "pyo",
                                  "latency_ms": delay * 1e3}
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> PyoBackend:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def open_backend(name: str, engine: Engine, device: str | None):
    if name == "sounddevice":
        return SoundDeviceBackend(engine, device)
    if name == "pyo":
        return PyoBackend(engine, None if device is None else int(device) if device.isdigit() else device)
    raise ValueError(f"unknown audio backend {name!r}; choose from {BACKENDS}")


class OfflineClock:
    """The engine clock while rendering offline: the time of the block being rendered."""

    def __init__(self):
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
        self.engine = Engine(bundle_dir, config, clock=self.clock, realtime=False)

    def render(self, events: list[Event], tail: float = 0.5, max_seconds: float = 3600.0) -> np.ndarray:
        """Play events (`at` in seconds from the start of this render) until every voice has
        finished and `tail` seconds of silence followed; return the mono output."""
        if any(e.at is None or not math.isfinite(e.at) or e.at < 0 for e in events):
            raise ValueError("offline events need finite, non-negative `at` times (seconds)")
        engine, clock = self.engine, self.clock
        origin = clock.now
        events = sorted((replace(e, at=e.at + origin) for e in events), key=lambda e: e.at)
        sr, n = engine.config.samplerate, engine.config.blocksize
        last = events[-1].at - origin if events else 0.0
        limit = min(max_seconds, last + BUFFER_SECONDS + engine.config.release_ms * 1e-3 + tail)
        blocks, block, index, silent_since = [], np.zeros((n, 1), dtype=np.float32), 0, None
        for k in range(int(math.ceil(limit * sr / n))):
            t = origin + k * n / sr
            clock.now = t
            while index < len(events) and events[index].at < t + 2 * n / sr:
                engine.submit(events[index], arrival=events[index].at)
                index += 1
            engine.worker.drain()
            engine.process(block, t, 0.0)
            blocks.append(block[:, 0].copy())
            idle = index == len(events) and not engine.worker.voices and np.all(engine.bank.state == FREE)
            silent_since = (silent_since if silent_since is not None else t) if idle else None
            if silent_since is not None and t - silent_since >= tail:
                break
        clock.now = origin + len(blocks) * n / sr
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
