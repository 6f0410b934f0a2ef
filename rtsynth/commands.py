"""Runtime subcommands: render, serve, bench.

These land with issues #4 (render) and #5 (serve, engine benchmarks); until then they
document their interface and say so when run.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    render = commands.add_parser("render", help="render a note or a MIDI file to WAV with a bundle")
    render.add_argument("--bundle", help="bundle directory (default: the shipped model)")
    render.add_argument("--timbre", help="timbre cluster name")
    render.add_argument("--note", type=int, help="MIDI note number")
    render.add_argument("--velocity", type=float, default=100, help="0-127")
    render.add_argument("--duration", type=float, default=1.0, help="seconds")
    render.add_argument("--midi", help="a standard MIDI file to render instead of one note")
    render.add_argument("-o", "--output", default="out.wav", help="WAV file to write")
    render.set_defaults(func=_not_yet("render", 4))

    serve = commands.add_parser("serve", help="run the live synth: OSC and MIDI in, audio out")
    serve.add_argument("--bundle", help="bundle directory (default: the shipped model)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--osc-port", type=int, default=9000)
    serve.add_argument("--midi-in", help="MIDI input port name, or 'virtual'")
    serve.add_argument("--audio-backend", choices=("sounddevice", "pyo"), default="sounddevice")
    serve.add_argument("--samplerate", type=int, default=48000)
    serve.add_argument("--blocksize", type=int, default=256)
    serve.add_argument("--providers", choices=("cpu", "cuda"), default="cpu")
    serve.add_argument("--voices", type=int, default=32)
    serve.set_defaults(func=_not_yet("serve", 5))

    bench = commands.add_parser("bench", help="run a benchmark from bench/ and save its JSON")
    bench.add_argument("name", help="benchmark name: a script in bench/, e.g. train_step")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_run_bench)


def _not_yet(command: str, issue: int):
    def run(args: argparse.Namespace) -> int:
        log.error("`rtsynth %s` is not built yet: it lands with issue #%d", command, issue)
        return 2

    return run


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
