"""`rtsynth data tinysol` and `rtsynth data folder`: read a corpus and summarise its labels.

Cheap on purpose (labels and file existence only), so a user can check a download or a
labels.csv before running prep on it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_parsers(data: argparse._SubParsersAction) -> None:
    tinysol = data.add_parser(
        "tinysol",
        help="read TinySOL (official layout) and summarise its labels",
        description="Read TinySOL_metadata.csv and the extracted TinySOL.tar.gz under --root "
        "(next to the CSV, in TinySOL/, or mirdata's annotation/ + audio/).",
    )
    tinysol.add_argument("--root", type=Path, required=True, help="folder holding TinySOL_metadata.csv")
    tinysol.add_argument(
        "--download",
        action="store_true",
        help="first download TinySOL into --root with mirdata (extra [download], needs internet)",
    )
    tinysol.set_defaults(func=_run_tinysol)

    folder = data.add_parser(
        "folder",
        help="read a folder of audio files (+ labels.csv) and summarise it",
        description="labels.csv columns: path (relative to --root), instrument, pitch (MIDI number "
        "or note name like C#4), dynamics; further columns are kept as metadata. Without labels.csv "
        "the folder is an unlabelled corpus: every WAV/FLAC/AIFF file is one sound (any rate, mono or "
        "stereo, any length), corrupt and silent files are listed with the reason and left out; "
        "`rtsynth data prep --corpus DIR` makes its cache, variant tanaka-3f trains on it.",
    )
    folder.add_argument("--root", type=Path, required=True, help="folder holding labels.csv or sound files")
    folder.set_defaults(func=_run_folder)


def _run_tinysol(args: argparse.Namespace) -> int:
    from rtsynth.train.corpus.tinysol import download, read_tinysol

    if args.download:
        try:
            download(args.root)
        except RuntimeError as err:
            log.error("%s", err)
            return 2
    return _report(read_tinysol, args.root)


def _run_folder(args: argparse.Namespace) -> int:
    from rtsynth.train.corpus.folder import LABELS_NAME, read_folder
    from rtsynth.train.corpus.tinysol import find_metadata
    from rtsynth.train.corpus.unlabelled import read_unlabelled

    if (args.root / LABELS_NAME).is_file():
        return _report(read_folder, args.root)
    if find_metadata(args.root) is not None:
        log.error("%s has no labels.csv but TinySOL's metadata: read it with `rtsynth data tinysol`", args.root)
        return 2
    return _report(lambda root: read_unlabelled(root, check_audio=True), args.root)


def _report(reader, root: Path) -> int:
    from rtsynth.train.corpus.read import summarize

    try:
        corpus = reader(root)
    except (OSError, ValueError) as err:
        log.error("%s", err)
        return 2
    log.info("%s", summarize(corpus))
    if not corpus.records:
        log.error("no usable notes in %s", root)
        return 1
    return 0
