"""`rtsynth serve`: the live instrument. Engine + audio backend + OSC server + MIDI input.

Settings come from a TOML file (rtsynth/configs/serve.toml: a [serve] table and an [engine] table)
with command-line flags on top. Without a sound card it still does something useful: it
renders a short demo through the same engine to a WAV file and says where.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rtsynth.config import ConfigError, from_dict, read_toml
from rtsynth.engine.config import EngineConfig
from rtsynth.resources import config_file

if TYPE_CHECKING:
    from rtsynth.control.midi import MidiInput
    from rtsynth.engine.engine import Engine

log = logging.getLogger(__name__)

STATUS_EVERY_S = 10.0


@dataclass(frozen=True)
class ServeConfig:
    bundle: str = ""  # empty: the shipped default model (bundles/default)
    host: str = "127.0.0.1"  # OSC: localhost unless told otherwise
    osc_port: int = 9000
    web_port: int = 8000  # the browser control page (on `host`); 0: no page
    midi_in: str = ""  # empty: no MIDI; "virtual"; or part of a port name
    cc_map: str = ""  # a CC -> latent map file for MIDI controllers
    audio_backend: str = "sounddevice"
    output_device: str = ""  # empty: the system default
    presets_dir: str = "presets"  # relative paths: from the working directory
    bundles_dir: str = "bundles"  # /model/load NAME looks here
    demo_wav: str = "renders/serve-demo.wav"  # written when there is no audio output
    engine: EngineConfig = field(default_factory=EngineConfig)


def load_serve_config(path: str | Path | None) -> ServeConfig:
    """ServeConfig from a TOML file ([serve] keys plus an [engine] table), or the defaults."""
    if path is None:
        return ServeConfig()
    path = config_file(path)
    data = read_toml(path)
    unknown = sorted(set(data) - {"serve", "engine"})
    if unknown:
        raise ConfigError(f"{path}: unknown tables {unknown}; use [serve] and [engine]")
    try:
        return from_dict(ServeConfig, {**data.get("serve", {}), "engine": data.get("engine", {})})
    except (ConfigError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None


# CLI flags and where they go: ServeConfig fields, then EngineConfig fields
SERVE_FLAGS = ("bundle", "host", "osc_port", "web_port", "midi_in", "cc_map", "audio_backend", "output_device")
ENGINE_FLAGS = ("samplerate", "a4_hz", "blocksize", "lookahead_blocks", "providers", "voices")


def apply_flags(config: ServeConfig, args: argparse.Namespace) -> ServeConfig:
    """Flags given on the command line override the file; flags left out (None) do not."""
    serve = {k: getattr(args, k) for k in SERVE_FLAGS if getattr(args, k, None) is not None}
    engine = {k: getattr(args, k) for k in ENGINE_FLAGS if getattr(args, k, None) is not None}
    return replace(config, **serve, engine=replace(config.engine, **engine))


def serve_command(args: argparse.Namespace) -> int:
    from rtsynth.bundle import BundleError
    from rtsynth.render import RenderError, resolve_bundle

    try:
        config = apply_flags(load_serve_config(args.config), args)
        bundle = resolve_bundle(config.bundle or None)
    except (ConfigError, RenderError, ValueError) as err:
        log.error("%s", err)
        return 2
    try:
        return run(config, bundle)
    except BundleError as err:
        log.error("%s", err)
        return 2


def run(config: ServeConfig, bundle: Path) -> int:
    from rtsynth.engine.backends import AudioBackendError, open_backend, output_devices
    from rtsynth.engine.engine import Engine, check_bundle

    check_bundle(bundle)
    if config.audio_backend == "sounddevice" and not output_devices():
        return render_demo(config, bundle)
    engine = Engine(bundle, config.engine)
    backend, controls = None, []
    # the interpreter is ours here: control threads and the audio callback take turns sooner
    sys.setswitchinterval(config.engine.switch_interval_ms * 1e-3)
    stop_on_signals()
    try:
        engine.start()
        backend = open_backend(config.audio_backend, engine, config.output_device or None)
        backend.start()
        controls = start_controls(engine, config)
        print(banner(engine, controls), flush=True)
        watch(engine)
    except (AudioBackendError, OSError, RuntimeError) as err:
        log.error("%s", err)
        return 1
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        for control in reversed(controls):
            control.stop()
        if backend is not None:
            backend.stop()
        engine.stop()
    return 0


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM stop the server cleanly. Set explicitly because a process
    started in the background by a non-interactive shell (or a supervisor) inherits SIGINT
    ignored, and SIGTERM would otherwise kill it without stopping the audio and the worker."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


class Control(Protocol):
    """A way in to the engine (OSC, MIDI, the page) that runs beside it until stopped."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


def start_controls(engine: Engine, config: ServeConfig) -> list[Control]:
    from rtsynth.control.midi import MidiInput
    from rtsynth.control.osc import OscServer

    controls: list[Control] = [OscServer(engine, config.host, config.osc_port, config.presets_dir, config.bundles_dir)]
    midi = None
    if config.midi_in:
        import rtmidi

        # on a JACK server, MIDI comes through JACK too (ALSA may not even exist there)
        api = rtmidi.API_UNIX_JACK if engine.audio_info.get("hostapi", "").startswith("JACK") else None
        midi = MidiInput(engine, config.midi_in, config.cc_map or None, api=api)
        controls.append(midi)
    started: list[Control] = []
    try:
        for control in controls:
            control.start()
            started.append(control)
    except Exception:
        for control in reversed(started):
            control.stop()
        raise
    if config.web_port:
        started += start_page(engine, config, midi)
    return started


def start_page(engine: Engine, config: ServeConfig, midi: MidiInput | None) -> list[Control]:
    """The browser page, if its port is free: a busy port must not keep the instrument from playing."""
    from rtsynth.control.commands import CommandLayer
    from rtsynth.control.web import WebServer

    commands = CommandLayer(engine, config.presets_dir, config.bundles_dir)
    page = WebServer(engine, commands, config.host, config.web_port, midi)
    try:
        page.start()
    except OSError as err:
        log.warning("%s; playing on without the page (--web PORT picks another port)", err)
        return []
    return [page]


def banner(engine: Engine, controls: list[Control]) -> str:
    from rtsynth.control.midi import MidiInput
    from rtsynth.control.osc import OscServer
    from rtsynth.control.web import WebServer

    audio, status = engine.audio_info, engine.status()
    lines = [
        f"rtsynth serve: playing model {status['model']!r} on {status['provider']}",
        f"  vocoder:    {status['vocoder']} (a note's first frames: {status['attack_vocoder']})",
    ]
    for control in controls:
        if isinstance(control, MidiInput):
            lines.append(f"  MIDI in:    {control.port_name}")
        elif isinstance(control, WebServer):
            lines.append(f"  page:       {control.url}  (open it in a browser)")
        elif isinstance(control, OscServer):
            lines.append(f"  OSC:        udp://{control.host}:{control.port}  (replies go to the sender)")
    lines.append(
        f"  audio:      {audio.get('device')} via {audio.get('hostapi')} ({audio.get('backend')}), "
        f"{status['samplerate']} Hz, {status['blocksize']} frames, A4 = {status['a4_hz']:g} Hz, "
        f"output latency {audio.get('latency_ms', math.nan):.1f} ms"
    )
    lines.append(f"  voices:     {status['voices_max']}; Ctrl-C to stop")
    return "\n".join(lines)


def watch(engine: Engine) -> None:
    """Run until interrupted, reporting the measured latency and any trouble as it changes."""
    shown = None
    while True:
        time.sleep(STATUS_EVERY_S)
        status = engine.status()
        report = (status["notes"], status["xruns"], status["underruns"], status["dropped_notes"])
        if report != shown:
            print(
                f"notes {status['notes']}, latency p50 {status['latency_p50_ms']:.1f} ms / p99 "
                f"{status['latency_p99_ms']:.1f} ms, voices {status['voices']}, xruns {status['xruns']}, "
                f"late audio {status['underruns']}, dropped notes {status['dropped_notes']}",
                flush=True,
            )
            shown = report
        if engine.worker_lost:
            raise RuntimeError(f"the render worker process died and could not be replaced: {status['model_error']}")


def render_demo(config: ServeConfig, bundle: Path) -> int:
    """No audio output here: play a short phrase through the same engine into a WAV instead."""
    from rtsynth.engine.events import Event, MorphCorner, MorphPosition, NoteOff, NoteOn
    from rtsynth.render import render, write_wav

    print("rtsynth serve: no audio output device found (no sound card, no JACK/PulseAudio server).", flush=True)
    events: list[Event] = [MorphCorner("a", 0, at=0.0), MorphCorner("b", 1, at=0.0)]
    for i, note in enumerate((60, 64, 67, 72, 67, 64, 60)):
        events += [
            MorphPosition(i / 6, at=i * 0.4),
            NoteOn(note, 0.7, 0.4, at=i * 0.4 + 0.01),
            NoteOff(note, at=i * 0.4 + 0.39),
        ]
    audio = render(bundle, events, config.engine)
    path = write_wav(config.demo_wav, audio, config.engine.samplerate)
    print(
        f"rendered a demo phrase (a morph between the first two timbres) to {path} instead; "
        f"start a sound server (e.g. `jackd -d alsa`) to play live",
        flush=True,
    )
    return 0
