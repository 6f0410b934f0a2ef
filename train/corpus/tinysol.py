"""TinySOL (Zenodo record 3685367) read straight from its official files, no index needed.

The release is `TinySOL_metadata.csv` plus `TinySOL.tar.gz`, whose top level is the family
folders (`Brass/`, `Keyboards/`, `Strings/`, `Winds/`); the `Path` column is relative to
that level. We accept the archive extracted next to the CSV, into a `TinySOL/` folder, or
mirdata's data home (`annotation/TinySOL_metadata.csv` + `audio/`), which `--download` makes.

The official header: Path, Fold, Family, Instrument (abbr.), Instrument (in full),
Technique (abbr.), Technique (in full), Pitch, Pitch ID, Dynamics, Dynamics ID, Instance ID,
String ID (if applicable), Needed digital retuning. We label from the abbreviation, Pitch ID
(checked against Pitch) and Dynamics; every column but Path goes to NoteRecord.extra as text.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rtsynth.labels import INSTRUMENT_BY_TINYSOL, parse_note_name
from rtsynth.train.corpus.folder import RowError, audio_path, field, parse_pitch, read_table, row_skip, unlisted_audio
from rtsynth.train.corpus.records import Corpus, NoteRecord

log = logging.getLogger(__name__)

METADATA_NAME = "TinySOL_metadata.csv"
REQUIRED_COLUMNS = ("Path", "Instrument (abbr.)", "Pitch", "Pitch ID", "Dynamics")
METADATA_DIRS = (".", "annotation")
AUDIO_DIRS = (".", "TinySOL", "audio")

# TinySOL marks a few accordion and flute notes `p`; the paper (and its code) counts them as pp.
DYNAMICS_ALIASES = {"pp": "pp", "p": "pp", "mf": "mf", "ff": "ff"}

ZENODO_URL = "https://zenodo.org/record/3685367"


def find_metadata(root: Path) -> Path | None:
    for folder in METADATA_DIRS:
        candidate = root / folder / METADATA_NAME
        if candidate.is_file():
            return candidate
    return None


def read_tinysol(root: str | Path) -> Corpus:
    root = Path(root)
    metadata = find_metadata(root)
    if metadata is None:
        raise FileNotFoundError(
            f"no {METADATA_NAME} in {root} or {root / 'annotation'}: download TinySOL.tar.gz and "
            f"{METADATA_NAME} from {ZENODO_URL} and extract the archive next to the CSV"
        )
    _, rows = read_table(metadata, REQUIRED_COLUMNS)
    base = _audio_base(root, [row.get("Path", "") for _, row in rows])
    records, skipped, seen = [], [], set()
    for line, row in rows:
        try:
            record = _tinysol_record(base, row)
            if record.path in seen:
                raise RowError("same file as an earlier row")
        except RowError as err:
            skipped.append(row_skip(row.get("Path", ""), METADATA_NAME, line, str(err)))
            continue
        seen.add(record.path)
        records.append(record)
    skipped += unlisted_audio(base, rows, "Path", METADATA_NAME)
    log.debug("TinySOL %s (audio in %s): %d notes, %d skipped", root, base, len(records), len(skipped))
    return Corpus(kind="tinysol", root=root, records=records, skipped=skipped)


def _audio_base(root: Path, paths: list[str]) -> Path:
    """The folder the `Path` column is relative to: the first candidate holding any listed file."""
    for folder in AUDIO_DIRS:
        base = (root / folder).resolve()
        if any(p and (base / p).is_file() for p in paths):
            return base
    tried = ", ".join(str(root / folder) for folder in AUDIO_DIRS)
    raise FileNotFoundError(
        f"none of the {len(paths)} audio files in {METADATA_NAME} exists under {tried}; "
        f"extract TinySOL.tar.gz (from {ZENODO_URL}) into {root}"
    )


def _tinysol_record(base: Path, row: dict) -> NoteRecord:
    relative = field(row, "Path")
    abbr = field(row, "Instrument (abbr.)")
    instrument = INSTRUMENT_BY_TINYSOL.get(abbr)
    if instrument is None:
        raise RowError(f"unknown instrument abbreviation {abbr!r} (known: {', '.join(INSTRUMENT_BY_TINYSOL)})")
    written = field(row, "Dynamics")
    dynamics = DYNAMICS_ALIASES.get(written)
    if dynamics is None:
        raise RowError(f"unknown dynamics {written!r} (known: {', '.join(DYNAMICS_ALIASES)})")
    pitch = _pitch(field(row, "Pitch ID"), field(row, "Pitch"))
    path = audio_path(base, relative)
    extra = {k: v for k, v in row.items() if k != "Path"}
    return NoteRecord(
        path=path,
        source_id=Path(relative).as_posix(),
        instrument=instrument.name,
        pitch=pitch,
        dynamics=dynamics,
        extra=extra,
    )


def _pitch(pitch_id: str, name: str) -> int:
    """MIDI pitch from "Pitch ID", else from the note name; the two must agree when both parse."""
    from_name = _note_or_none(name)
    if not pitch_id:
        if from_name is None:
            raise RowError(f"no Pitch ID, and Pitch {name!r} is not a note name")
        return from_name
    try:
        pitch = parse_pitch(pitch_id)
    except RowError as err:
        raise RowError(f"Pitch ID: {err}") from None
    if from_name is not None and from_name != pitch:
        raise RowError(f"Pitch {name!r} and Pitch ID {pitch_id} disagree")
    return pitch


def _note_or_none(name: str) -> int | None:
    try:
        return parse_note_name(name)
    except ValueError:
        return None


def download(root: Path) -> None:
    """Fetch TinySOL into `root` with mirdata (mirdata layout); needs the [download] extra."""
    try:
        import mirdata
    except ImportError:
        raise RuntimeError(
            "--download needs mirdata: pip install 'rtsynth[download]' "
            f"(or download the two files from {ZENODO_URL} yourself)"
        ) from None
    try:
        mirdata.initialize("tinysol", data_home=str(root)).download()
    except OSError as err:  # URLError, requests' ConnectionError and disk errors are all OSErrors
        raise RuntimeError(
            f"could not download TinySOL into {root} ({err}); offline? Download "
            f"TinySOL.tar.gz and {METADATA_NAME} from {ZENODO_URL} by hand"
        ) from err
