"""`rtsynth data prep`: preprocess a corpus into a dataset cache."""

from __future__ import annotations

import argparse


def add_parsers(data: argparse._SubParsersAction) -> None:
    pass
