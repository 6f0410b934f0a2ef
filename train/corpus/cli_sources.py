"""Corpus subcommands (being written)."""

from __future__ import annotations

import argparse


def add_parsers(data: argparse._SubParsersAction) -> None:
    pass
