"""The one command-line entry point, `rtsynth`.

Each area registers its own subcommands (`add_parsers`) from a module that imports only
the standard library and `rtsynth` at top level; heavy dependencies (torch, librosa,
FluidSynth) are imported inside the command functions, so `rtsynth --help` works on a
runtime-only install and a missing extra is reported by name.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from rtsynth.errors import RtsynthError

log = logging.getLogger("rtsynth")

# modules that provide `add_parsers(subparsers)`, in --help order
COMMAND_MODULES = {
    "data": (
        "rtsynth.train.corpus.cli_gm",
        "rtsynth.train.corpus.cli_sources",
        "rtsynth.train.corpus.played",
        "rtsynth.train.prep.cli",
    ),
    None: ("rtsynth.train.cli", "rtsynth.train.eval.cli", "rtsynth.export.cli", "rtsynth.commands"),
}

# top-level import names that only the [train] extra installs
TRAIN_EXTRA = {"torch", "librosa", "sklearn", "matplotlib", "tqdm", "fluidsynth", "mirdata", "onnx", "onnxscript"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtsynth",
        description="A neural instrument: corpus -> prep -> train -> eval -> export -> serve.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data = commands.add_parser("data", help="build and prepare note corpora (GM-SOL, TinySOL, folders)")
    data_commands = data.add_subparsers(dest="data_command", metavar="STEP", required=True)
    for group, modules in COMMAND_MODULES.items():
        target = data_commands if group == "data" else commands
        for name in modules:
            importlib.import_module(name).add_parsers(target)
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except RtsynthError as err:  # the user's to fix: one line, no traceback
        log.error("%s", err)
        return 2
    except ModuleNotFoundError as err:
        root = (err.name or "").split(".")[0]
        if root in TRAIN_EXTRA:
            log.error(
                "`rtsynth %s` needs the [train] extra (missing module %r): "
                "pip install torch==2.13.0 'rtsynth[train]'  (torch==2.13.0 is the CPU build)",
                args.command,
                root,
            )
            return 3
        raise
    except KeyboardInterrupt:
        log.warning("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
