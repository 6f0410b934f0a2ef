"""`rtsynth train`, `rtsynth eval`, `rtsynth compare` (issue #3)."""

from __future__ import annotations

import argparse


def add_parsers(commands: argparse._SubParsersAction) -> None:
    pass
