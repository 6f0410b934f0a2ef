"""Any folder of note recordings plus a `labels.csv` (users' own instruments, and GM-SOL).

The helpers here (CSV rows with line numbers, safe audio paths, pitch parsing, audio files
no row mentions) are shared with the TinySOL reader: both are "a labels table over a
folder of audio", and both must turn every unusable row or file into a `Skipped`.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from rtsynth.errors import RtsynthError
from rtsynth.labels import parse_note_name
from rtsynth.train.corpus.records import Corpus, NoteRecord, Skipped

log = logging.getLogger(__name__)

LABELS_NAME = "labels.csv"
REQUIRED_COLUMNS = ("path", "instrument", "pitch", "dynamics")
GM_COLUMN = "gm_program"  # only the GM-SOL renderer writes it: marks a rendered corpus
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".aif", ".aiff", ".ogg"})


class RowError(RtsynthError, ValueError):
    """A metadata row that cannot become a note; the message is the skip reason."""


def read_table(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and (line number, row) pairs of a CSV; a missing required column is an error.

    Reading the header up front lets a wrong file fail once, clearly, instead of every
    row being skipped for the same reason.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return _parse_table(path, csv.reader(handle), required)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path} is not a readable UTF-8 CSV file: {err}") from None


def _parse_table(path: Path, reader, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict]]]:
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in required if name not in header]
    if missing:
        raise ValueError(f"{path} lacks required column(s) {missing}; its header is {header}")
    rows = []
    for fields in reader:
        if not any(value.strip() for value in fields):
            continue  # blank line
        if len(fields) != len(header):
            fields = None  # reported per row by the caller through `field`
        rows.append((reader.line_num, _as_row(header, fields)))
    return header, rows


def _as_row(header: list[str], fields: list[str] | None) -> dict:
    if fields is None:
        return {}
    return {name: value.strip() for name, value in zip(header, fields)}


def field(row: dict, name: str) -> str:
    """A row's value; a row whose field count differs from the header's has none."""
    if not row:
        raise RowError("malformed row: its number of fields differs from the header's")
    return row[name]


def audio_path(base: Path, relative: str) -> Path:
    """The existing audio file a row names, which must lie inside `base`."""
    if not relative:
        raise RowError("empty path")
    path = (base / relative).resolve()
    if not path.is_relative_to(base.resolve()):
        raise RowError(f"path {relative!r} points outside the corpus folder")
    if not path.is_file():
        raise RowError(f"audio file not found: {base / relative}")
    return path


def parse_pitch(text: str) -> int:
    """A MIDI number ('61') or a note name ('C#4') -> MIDI number 0-127."""
    try:
        pitch = int(text)
    except ValueError:
        try:
            pitch = parse_note_name(text)
        except ValueError:
            raise RowError(f"pitch {text!r} is neither a MIDI number nor a note name like C#4") from None
    if not 0 <= pitch <= 127:
        raise RowError(f"pitch {text!r} is outside MIDI 0-127")
    return pitch


def unlisted_audio(base: Path, rows: list[tuple[int, dict]], column: str, table: str) -> list[Skipped]:
    """Audio files under `base` that no row names (used or skipped): reported, never dropped silently."""
    named = {(base / row[column]).resolve() for _, row in rows if row.get(column)}
    found = sorted(p for p in base.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    return [
        Skipped(p.relative_to(base).as_posix(), f"audio file has no row in {table}")
        for p in found
        if p.resolve() not in named
    ]


def row_skip(source_id: str, table: str, line: int, reason: str) -> Skipped:
    return Skipped(source_id or f"{table}:{line}", f"{table} line {line}: {reason}")


def read_folder(root: str | Path) -> Corpus:
    """Read `root/labels.csv`; kind "gm-sol" when it has a gm_program column, else "folder"."""
    root = Path(root)
    table = root / LABELS_NAME
    if not table.is_file():
        raise FileNotFoundError(
            f"no {LABELS_NAME} in {root}: a folder corpus needs one with columns {', '.join(REQUIRED_COLUMNS)}"
        )
    header, rows = read_table(table, REQUIRED_COLUMNS)
    records, skipped = [], []
    seen: dict[Path, int] = {}  # file -> the line that listed it
    for line, row in rows:
        source_id = row.get("path", "")
        try:
            record = _folder_record(root, row)
            if record.path in seen:
                raise RowError(f"same file as line {seen[record.path]}")
        except RowError as err:
            skipped.append(row_skip(source_id, LABELS_NAME, line, str(err)))
            continue
        seen[record.path] = line
        records.append(record)
    skipped += unlisted_audio(root, rows, "path", LABELS_NAME)
    kind = "gm-sol" if GM_COLUMN in header else "folder"
    log.debug("%s corpus %s: %d notes, %d skipped", kind, root, len(records), len(skipped))
    return Corpus(kind=kind, root=root, records=records, skipped=skipped)


def _folder_record(root: Path, row: dict) -> NoteRecord:
    relative = field(row, "path")
    instrument, dynamics = field(row, "instrument"), field(row, "dynamics")
    if not instrument:
        raise RowError("empty instrument")
    if not dynamics:
        raise RowError("empty dynamics")
    pitch = parse_pitch(field(row, "pitch"))
    path = audio_path(root, relative)
    extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS}
    return NoteRecord(
        path=path,
        source_id=Path(relative).as_posix(),
        instrument=instrument,
        pitch=pitch,
        dynamics=dynamics,
        extra=extra,
    )
