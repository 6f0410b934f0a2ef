"""`rtsynth data gm|tinysol|folder`: build or index a note corpus."""

from __future__ import annotations

import argparse


def add_parsers(data: argparse._SubParsersAction) -> None:
    pass  # filled by the corpus modules
