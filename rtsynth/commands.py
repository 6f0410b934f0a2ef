"""Runtime subcommands: render, serve, bench (the work lives in rtsynth.render / rtsynth.serve)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)

A4_HELP = "concert pitch: A4 (MIDI 69) in Hz, 380-480 (default 440); every key's f0 follows it"


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    render = commands.add_parser(
        "render",
        help="render a note or a MIDI file to WAV with a bundle",
        description="Offline rendering through the live engine's own voices.",
    )
    render.add_argument("--bundle", help="bundle directory (default: the shipped model, bundles/default)")
    render.add_argument("--timbre", help="timbre cluster name or index (corner a of a morph)")
    render.add_argument(
        "--morph",
        nargs="+",
        metavar="TIMBRE",
        help="morph from --timbre to one more timbre (by --x) or over four corners a b / c d "
        "(three more, by --x and --y)",
    )
    render.add_argument("--x", type=float, default=0.5, help="morph position a -> b, 0-1")
    render.add_argument("--y", type=float, default=0.5, help="morph position (a b) -> (c d), 0-1")
    render.add_argument("--note", type=int, help="MIDI note number")
    render.add_argument("--velocity", type=int, default=100, help="MIDI velocity 1-127")
    render.add_argument("--duration", type=float, default=1.0, help="seconds held (also selects the duration latent)")
    render.add_argument("--midi", help="a standard MIDI file to render instead of one note")
    render.add_argument("--samplerate", type=int, default=48000, help="44100 or 48000")
    render.add_argument("--gain", type=float, default=0.5, help="master gain, 0-2")
    render.add_argument("--a4", dest="a4_hz", type=float, default=440.0, help=A4_HELP)
    render.add_argument("--vocoder", help="vocoder name (default: the bundle's, else the runtime default)")
    render.add_argument("-o", "--output", default="out.wav", help="WAV file to write")
    render.set_defaults(func=_render)

    serve = commands.add_parser(
        "serve",
        help="run the live synth: OSC and MIDI in, audio out",
        description="Flags override the config file (the format of rtsynth/configs/serve.toml).",
    )
    serve.add_argument("--config", help="TOML with a [serve] and an [engine] table")
    serve.add_argument("--bundle", help="bundle directory (default: the shipped model, bundles/default)")
    serve.add_argument("--host", help="OSC listen address (default 127.0.0.1: this machine only)")
    serve.add_argument("--osc-port", type=int, help="OSC UDP port (default 9000)")
    serve.add_argument("--midi-in", help="MIDI input: 'virtual' or part of a port name")
    serve.add_argument("--cc-map", help="a CC -> latent map file for MIDI controllers")
    serve.add_argument("--audio-backend", choices=("sounddevice", "pyo"))
    serve.add_argument("--output-device", help="audio output device name or index (default: the system's)")
    serve.add_argument("--samplerate", type=int, help="44100 or 48000 (default 48000)")
    serve.add_argument("--blocksize", type=int, help="frames per audio block (default 256)")
    serve.add_argument("--a4", dest="a4_hz", type=float, help=A4_HELP)
    serve.add_argument(
        "--lookahead-blocks",
        type=float,
        help="blocks between an event's arrival and its sound (default 1; more: fewer late new notes)",
    )
    serve.add_argument("--providers", choices=("cpu", "cuda"), help="onnxruntime provider (default cpu)")
    serve.add_argument("--voices", type=int, help="polyphony (default 32)")
    serve.set_defaults(func=_serve)

    serve.add_argument(
        "--web",
        dest="web_port",
        nargs="?",
        type=int,
        const=8000,
        metavar="PORT",
        help="the browser control page's port (default 8000), on --host",
    )
    serve.add_argument("--no-web", dest="web_port", action="store_const", const=0, help="no browser control page")
    _add_preset_parsers(commands)

    bench = commands.add_parser("bench", help="run a benchmark from bench/ and save its JSON")
    bench.add_argument("name", help="benchmark name: a script in bench/, e.g. train_step")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_run_bench)


def _add_preset_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    preset = commands.add_parser("preset", help="make presets (from a recording of your own)")
    steps = preset.add_subparsers(dest="preset_command", metavar="STEP", required=True)
    from_audio = steps.add_parser(
        "from-audio",
        help="encode a recording with the bundle's encoder and save its timbre as a preset",
        description="Any common audio format and sample rate; the note is prepared exactly as training notes "
        "were (mono, trimmed, resampled, mel) and its timbre latent saved as presets/NAME.json.",
    )
    from_audio.add_argument("file", help="the recording (one note or sound)")
    from_audio.add_argument("--name", required=True, help="preset name (a plain name, no folders)")
    from_audio.add_argument("--bundle", help="bundle directory (default: the shipped model, bundles/default)")
    from_audio.add_argument("--presets-dir", default="presets", help="presets folder (default: presets)")
    from_audio.set_defaults(func=_preset_from_audio)


def _preset_from_audio(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rtsynth.bundle import BundleError
    from rtsynth.from_audio import preset_from_audio
    from rtsynth.render import RenderError, resolve_bundle

    try:
        bundle = resolve_bundle(args.bundle)
        path = preset_from_audio(bundle, Path(args.file), Path(args.presets_dir), args.name)
    except (BundleError, RenderError, ValueError) as err:  # FromAudioError, UnsafeNameError too
        log.error("%s", err)
        return 2
    print(f"preset {args.name!r} written to {path}; play it with /preset/load {args.name}")
    return 0


def _render(args: argparse.Namespace) -> int:
    from rtsynth.render import render_command

    return render_command(args)


def _serve(args: argparse.Namespace) -> int:
    from rtsynth.serve import serve_command

    return serve_command(args)


def _run_bench(args: argparse.Namespace) -> int:
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / f"{args.name}.py"
    if not script.is_file():
        known = sorted(p.stem for p in script.parent.glob("*.py"))
        log.error("no benchmark %r in %s; known: %s", args.name, script.parent, known)
        return 2
    argv, sys.argv = sys.argv, [str(script), *args.bench_args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:  # the script's own exit status, not the end of the caller
        return 0 if done.code is None else done.code if isinstance(done.code, int) else 1
    finally:
        sys.argv = argv
    return 0
