"""`rtsynth export` (issue #4)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="export a trained run to an ONNX bundle")
    export.add_argument("run", help="run directory")
    export.add_argument("--out", required=True, help="bundle directory to write")
    export.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    log.error("`rtsynth export` is not built yet: it lands with issue #4")
    return 2
