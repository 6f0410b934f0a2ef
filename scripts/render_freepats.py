#!/usr/bin/env python3
"""Render a GM-SOL corpus's notes from the freepats GUS patch set with TiMidity++, as a labelled folder.

Why: the SoundFonts Debian packages share most of their recordings (docs/results.md, *More than
one SoundFont*); freepats (`apt-get install timidity freepats`) holds other recordings of 12 of
the 14 instruments (no viola, no contrabass). It plays through TiMidity++, not FluidSynth, so
this takes the notes a corpus of `rtsynth data gm` planned (its labels.csv: program, key,
velocity, held time) and renders each one the patch set maps, reverb and chorus off, mono,
16 bit, at that corpus's rate, with that corpus's dynamics colour (its summary.json: the
low-pass or high shelf per dynamics). `rtsynth data prep --corpus OUT` reads the result like
any labelled folder.

Usage: .venv/bin/python scripts/render_freepats.py SOURCE_CORPUS OUT
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import soundfile as sf
from tqdm import tqdm

from rtsynth.train.corpus.gm import GmRenderConfig, coloured_for, to_pcm16, write_wav_atomic

CONFIG = Path("/etc/timidity/freepats.cfg")
TAIL_S = 3.0  # rendered after the note-off: the longest release
TICKS = 480  # per beat, at MIDI's default 120 bpm


def programs(config: Path) -> set[int]:
    """GM programs (0-based) that bank 0 of a TiMidity++ config maps to a patch file."""
    found, in_bank0 = set(), False
    for line in config.read_text().splitlines():
        words = line.split()
        if words[:1] in (["bank"], ["drumset"]):
            in_bank0 = words == ["bank", "0"]
        elif in_bank0 and len(words) > 1 and words[0].isdigit() and words[1].endswith(".pat"):
            found.add(int(words[0]))
    return found


def ticks(seconds: float) -> int:
    exact: float = mido.second2tick(seconds, TICKS, 500_000)
    return round(exact)


def write_note(path: Path, program: int, key: int, velocity: int, held_s: float) -> None:
    track = mido.MidiTrack()
    track.append(mido.Message("program_change", program=program, time=0))
    track.append(mido.Message("note_on", note=key, velocity=velocity, time=ticks(0.01)))
    track.append(mido.Message("note_off", note=key, velocity=0, time=ticks(held_s)))
    track.append(mido.MetaMessage("end_of_track", time=ticks(TAIL_S)))
    mido.MidiFile(tracks=[track], ticks_per_beat=TICKS).save(path)


def render(midi: Path, wav: Path, rate: int) -> None:
    effects_off = ["-EFreverb=0", "-EFchorus=0"]
    command = ["timidity", "-c", str(CONFIG), "-idq", "-OwMs1l", "-s", str(rate), *effects_off, "-o", str(wav)]
    subprocess.run([*command, str(midi)], check=True, stdout=subprocess.DEVNULL)


def main(source: Path, out: Path) -> int:
    for needed in (source / "labels.csv", source / "summary.json", CONFIG):
        if not needed.is_file():
            print(f"render_freepats: {needed} not found", file=sys.stderr)
            return 2
    with open(source / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rate = sf.info(source / rows[0]["path"]).samplerate
    made = json.loads((source / "summary.json").read_text())["config"]
    colour = GmRenderConfig(lowpass_harmonics=tuple(made["lowpass_harmonics"]), shelf_db=tuple(made["shelf_db"]))
    known = programs(CONFIG)
    kept, missing = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        midi, raw = Path(tmp) / "note.mid", Path(tmp) / "note.wav"
        for row in tqdm(rows, desc="freepats", unit="note"):
            if int(row["gm_program"]) not in known:
                missing.add(row["instrument"])
                continue
            write_note(midi, int(row["gm_program"]), int(row["pitch"]), int(row["velocity"]), float(row["held_s"]))
            render(midi, raw, rate)
            audio = sf.read(raw, dtype="float32")[0]
            audio = coloured_for(audio, rate, row["dynamics"], int(row["pitch"]), colour)
            write_wav_atomic(out / row["path"], to_pcm16(audio), rate, "freepats via TiMidity++")
            kept.append(row)
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    print(f"{len(kept)} notes rendered; not in the patch set: {', '.join(sorted(missing)) or 'none'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
