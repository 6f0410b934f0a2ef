"""Small corpora written into a tmp folder, with real WAVs (enveloped sines) and known labels.

`write_tinysol` follows the official TinySOL release: `TinySOL_metadata.csv` with its
official header, audio at the `Path` column's relative path. `write_folder` writes a folder
corpus with `labels.csv`. Both return the labels a reader must find and the entries it must
skip (with a word its reason must contain), spelled out here rather than computed, so the
reader tests can fail. With `defects=False` they are clean corpora for prep tests; each
tone's sounding length (between 0.2 s silences) is in `sounding`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 44_100
SILENCE = 0.2  # seconds before and after each tone
AMPLITUDE = {"pp": 0.05, "p": 0.08, "mf": 0.25, "f": 0.5, "ff": 0.7, "fff": 0.9}

TINYSOL_HEADER = (
    "Path",
    "Fold",
    "Family",
    "Instrument (abbr.)",
    "Instrument (in full)",
    "Technique (abbr.)",
    "Technique (in full)",
    "Pitch",
    "Pitch ID",
    "Dynamics",
    "Dynamics ID",
    "Instance ID",
    "String ID (if applicable)",
    "Needed digital retuning",
)
DYNAMICS_ID = {"pp": "0", "p": "1", "mf": "2", "f": "3", "ff": "4"}


@dataclass(frozen=True)
class Row:
    family: str
    folder: str
    abbr: str
    full: str
    pitch: str  # "Pitch" column
    pitch_id: str  # "Pitch ID" column
    dynamics: str  # as TinySOL writes it
    sounding: float = 0.5
    string_id: str = ""
    write_file: bool = True

    @property
    def path(self) -> str:
        instance = f"{int(float(self.string_id))}c" if self.string_id else "N"
        return f"{self.family}/{self.folder}/ordinario/{self.abbr}-ord-{self.pitch}-{self.dynamics}-{instance}-N.wav"


# usable rows and the labels the reader must give them: (instrument, MIDI pitch, dynamics)
TINYSOL_GOOD = (
    (Row("Brass", "Bass_Tuba", "BTb", "Bass Tuba", "F#1", "30", "pp", 0.6), ("tuba", 30, "pp")),
    (Row("Winds", "Flute", "Fl", "Flute", "C4", "60", "mf", 0.9), ("flute", 60, "mf")),
    (Row("Winds", "Flute", "Fl", "Flute", "C5", "72", "p", 0.4), ("flute", 72, "pp")),
    (Row("Strings", "Violin", "Vn", "Violin", "A4", "69", "ff", 1.2, "1.0"), ("violin", 69, "ff")),
    (Row("Keyboards", "Accordion", "Acc", "Accordion", "D4", "62", "p", 0.7), ("accordion", 62, "pp")),
    (Row("Winds", "Sax_Alto", "ASax", "Alto Saxophone", "E4", "64", "mf", 0.3), ("alto_sax", 64, "mf")),
)
# unusable rows and a word the skip reason must contain
TINYSOL_BAD = (
    (Row("Winds", "Oboe", "Ob", "Oboe", "A4", "69", "mf", write_file=False), "not found"),
    (Row("Keyboards", "Piano", "Pno", "Piano", "C4", "60", "mf"), "unknown instrument"),
    (Row("Winds", "Clarinet_Bb", "ClBb", "Clarinet in Bb", "X9", "", "ff"), "Pitch 'X9'"),
    (Row("Brass", "Horn", "Hn", "Horn", "G3", "55", "fff"), "unknown dynamics"),
)
# a file on disk that no metadata row names
TINYSOL_UNLISTED = Row("Winds", "Flute", "Fl", "Flute", "D4", "62", "mf")

TINYSOL_AUDIO_DIR = {"official": ".", "subdir": "TinySOL", "mirdata": "audio"}
TINYSOL_CSV_DIR = {"official": ".", "subdir": ".", "mirdata": "annotation"}


@dataclass
class FixtureCorpus:
    root: Path
    labels: dict[str, tuple[str, int, str]]  # source_id -> (instrument, pitch, dynamics)
    skipped: dict[str, str] = field(default_factory=dict)  # source_id -> word in the reason
    sounding: dict[str, float] = field(default_factory=dict)  # source_id -> tone seconds


def tone(midi: int, sounding: float, dynamics: str) -> np.ndarray:
    """An enveloped two-partial sine with silence around it."""
    t = np.arange(int(sounding * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    wave = np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(2 * np.pi * 2 * f0 * t)
    envelope = np.minimum(1.0, t / 0.01) * np.minimum(1.0, (sounding - t) / 0.05) * np.exp(-t)
    pad = np.zeros(int(SILENCE * SAMPLE_RATE))
    return np.concatenate([pad, AMPLITUDE[dynamics] * wave * envelope / 1.3, pad]).astype(np.float32)


def write_wav(path: Path, midi: int, sounding: float, dynamics: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(midi, sounding, dynamics), SAMPLE_RATE, subtype="PCM_16")


def _tinysol_fields(row: Row, index: int) -> list[str]:
    return [
        row.path,
        str(index % 5),
        row.family,
        row.abbr,
        row.full,
        "ord",
        "ordinario",
        row.pitch,
        row.pitch_id,
        row.dynamics,
        DYNAMICS_ID.get(row.dynamics, "9"),
        "0",
        row.string_id,
        "FALSE",
    ]


def write_tinysol(root: Path, *, defects: bool = True, layout: str = "official") -> FixtureCorpus:
    """A TinySOL-layout corpus: `official` = archive extracted next to the CSV; also `subdir`, `mirdata`."""
    audio = root / TINYSOL_AUDIO_DIR[layout]
    metadata = root / TINYSOL_CSV_DIR[layout] / "TinySOL_metadata.csv"
    metadata.parent.mkdir(parents=True, exist_ok=True)
    rows = [row for row, _ in TINYSOL_GOOD] + ([row for row, _ in TINYSOL_BAD] if defects else [])
    with open(metadata, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TINYSOL_HEADER)
        writer.writerows(_tinysol_fields(row, i) for i, row in enumerate(rows))
    extra_files = [TINYSOL_UNLISTED] if defects else []
    for row in rows + extra_files:
        if row.write_file:
            write_wav(audio / row.path, int(row.pitch_id or 60), row.sounding, row.dynamics)
    fixture = FixtureCorpus(
        root,
        {row.path: labels for row, labels in TINYSOL_GOOD},
        sounding={row.path: row.sounding for row, _ in TINYSOL_GOOD},
    )
    if defects:
        fixture.skipped = {row.path: word for row, word in TINYSOL_BAD}
        fixture.skipped[TINYSOL_UNLISTED.path] = "no row"
    return fixture


# folder corpus rows: (path, instrument, pitch as written, dynamics, expected MIDI, sounding)
FOLDER_GOOD = (
    ("synth/low.wav", "my_synth", "48", "mf", 48, 0.5),
    ("synth/c_sharp.wav", "my_synth", "C#4", "ff", 61, 0.8),
    ("bells.wav", "bells", "A3", "pp", 57, 0.3),
)


def write_folder(root: Path, *, defects: bool = True, gm: bool = False) -> FixtureCorpus:
    """A folder corpus; `gm=True` adds the gm_program column that marks a GM-SOL render."""
    rows = [(path, inst, pitch, dyn) for path, inst, pitch, dyn, _, _ in FOLDER_GOOD]
    for path, _, _, dyn, midi, sounding in FOLDER_GOOD:
        write_wav(root / path, midi, sounding, dyn)
    fixture = FixtureCorpus(
        root,
        {path: (inst, midi, dyn) for path, inst, _, dyn, midi, _ in FOLDER_GOOD},
        sounding={path: sounding for path, _, _, _, _, sounding in FOLDER_GOOD},
    )
    if defects:
        write_wav(root / "bad_pitch.wav", 60, 0.3, "mf")
        rows += [("bad_pitch.wav", "bells", "H4", "mf"), ("gone.wav", "bells", "60", "mf")]
        fixture.skipped = {"bad_pitch.wav": "pitch", "gone.wav": "not found"}
    header = ["path", "instrument", "pitch", "dynamics", "take"] + (["gm_program"] if gm else [])
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for take, row in enumerate(rows):
            writer.writerow([*row, take] + ([0] if gm else []))
    return fixture
