"""Runtime subcommands: render, serve, bench (the work lives in rtsynth.render / rtsynth.serve)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_parsers(commands: argparse._SubParsersAction) -> None:
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
    render.add_argument("--vocoder", help="vocoder name (default: the bundle's, else the runtime default)")
    render.add_argument("-o", "--output", default="out.wav", help="WAV file to write")
    render.set_defaults(func=_render)

    serve = commands.add_parser(
        "serve",
        help="run the live synth: OSC and MIDI in, audio out",
        description="Flags override the config file (configs/serve.toml format).",
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
    serve.add_argument("--providers", choices=("cpu", "cuda"), help="onnxruntime provider (default cpu)")
    serve.add_argument("--voices", type=int, help="polyphony (default 32)")
    serve.set_defaults(func=_serve)

    bench = commands.add_parser("bench", help="run a benchmark from bench/ and save its JSON")
    bench.add_argument("name", help="benchmark name: a script in bench/, e.g. train_step")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_run_bench)


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
    sys.argv = [str(script), *args.bench_args]
    runpy.run_path(str(script), run_name="__main__")
    return 0
