"""`rtsynth data play`: a labelled corpus played by a bundle.

Every note of a corpus's labels.csv is rendered by the synth as `rtsynth render` plays it (the
offline engine, the bundle's own synthesis and levels) at the row's instrument, pitch, velocity
(the bundle's velocity for its dynamics where the row has none) and sounding length (the
recording's, by prep's trim rule: a duration is a sounding length to the engine), and written under
the same path beside a copy of the labels. Prepared like any corpus and scored by
`rtsynth eval RUN --on CACHE`, it gives Table I through audio: the run's own encoder and
classifiers on what its synth plays. Duration is measured from the audio, as for any corpus.
"""

from __future__ import annotations

import argparse
import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtsynth.bundle import BundleError, read_spec
from rtsynth.errors import RtsynthError
from rtsynth.train.corpus.folder import LABELS_NAME, read_folder, read_table
from rtsynth.train.corpus.records import NoteRecord

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000


class PlayError(RtsynthError, ValueError):
    """A corpus or bundle that cannot be played; the message names the problem."""


@dataclass(frozen=True)
class PlayedNote:
    record: NoteRecord
    velocity: int
    seconds: float  # the sounding length asked for


def add_parsers(data: argparse._SubParsersAction) -> None:
    p = data.add_parser(
        "play",
        help="render every note of a labelled corpus with a bundle (what the synth plays, as a corpus)",
        description="Render every note of a corpus's labels.csv as `rtsynth render` plays it, under the "
        "same paths beside a copy of the labels. Prepare the result with `rtsynth data prep` and score a "
        "run on it with `rtsynth eval RUN --on CACHE`: Table I through what the synth plays.",
    )
    p.add_argument("--corpus", type=Path, required=True, help="folder with labels.csv (e.g. from `rtsynth data gm`)")
    p.add_argument("--bundle", type=Path, required=True, help="the bundle that plays it")
    p.add_argument("--out", type=Path, required=True, help="new folder for the played corpus")
    p.add_argument(
        "--test-of",
        type=Path,
        metavar="CACHE",
        help="play only the notes of this cache's test split (a run's own test split; prep the result "
        "with the run's --pitch-range so that the vocabularies agree)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        only = test_sources(args.test_of) if args.test_of else None
        played = play_corpus(args.corpus, args.bundle, args.out, only)
    except (PlayError, BundleError, OSError) as err:
        log.error("%s", err)
        return 2
    log.info("played %d notes into %s", played, args.out)
    return 0


def play_corpus(corpus: Path, bundle: Path, out: Path, only: set[str] | None = None) -> int:
    """Render the corpus's notes (those whose source id is in `only`, if given) with `bundle`
    into `out`; returns how many were played."""
    import soundfile
    from tqdm import tqdm

    from rtsynth.engine.backends import OfflineRenderer
    from rtsynth.engine.config import EngineConfig
    from rtsynth.render import NoteRequest, note_events

    if (out / LABELS_NAME).exists():
        raise PlayError(f"{out} already holds a corpus; choose a new --out")
    notes = [n for n in plan_notes(corpus, bundle) if only is None or n.record.source_id in only]
    if not notes:
        raise PlayError(f"none of the notes of {corpus} is in the given test split")
    renderer = OfflineRenderer(bundle, EngineConfig(samplerate=SAMPLE_RATE))
    for note in tqdm(notes, desc="play", unit="note"):
        r = note.record
        audio = renderer.render(note_events(NoteRequest(r.pitch, note.velocity, note.seconds, r.instrument)))
        path = out / r.source_id
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), np.asarray(audio, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    write_labels(corpus / LABELS_NAME, out / LABELS_NAME, {n.record.source_id for n in notes})
    return len(notes)


def plan_notes(corpus: Path, bundle: Path) -> list[PlayedNote]:
    """The corpus's notes the bundle can play; PlayError when there is none."""
    spec = read_spec(bundle)
    timbres = set(spec.descriptors["timbre"].classes)
    velocities: dict[str, int] = spec.velocity_to_dynamics
    records = read_folder(corpus).records
    notes = [PlayedNote(r, _velocity(r, velocities), _sounding(r)) for r in records if r.instrument in timbres]
    if len(notes) < len(records):
        missing = sorted({r.instrument for r in records} - timbres)
        log.warning("%d notes of %s left out: the bundle has no timbre %s", len(records) - len(notes), corpus, missing)
    if not notes:
        raise PlayError(f"no note of {corpus} has a timbre of the bundle {bundle}")
    return notes


def test_sources(cache: Path) -> set[str]:
    """Source ids of a prepared cache's test split (its notes.csv)."""
    table = cache / "notes.csv"
    if not table.is_file():
        raise PlayError(f"{cache} is not a prepared cache (no notes.csv)")
    _, rows = read_table(table, ("source", "split"))
    return {row["source"] for _, row in rows if row["split"] == "test"}


def write_labels(source: Path, target: Path, played: set[str]) -> None:
    """The source's labels.csv, its rows of the played notes only."""
    header, rows = read_table(source, ("path",))
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(row for _, row in rows if Path(row["path"]).as_posix() in played)


def _velocity(record: NoteRecord, velocities: dict[str, int]) -> int:
    given = record.extra.get("velocity", "")
    if given:
        return int(given)
    if record.dynamics not in velocities:
        raise PlayError(f"{record.source_id}: dynamics {record.dynamics!r} has no velocity in the bundle")
    return velocities[record.dynamics]


def _sounding(record: NoteRecord) -> float:
    """The recording's sounding length by prep's trim rule: what a duration asks of the engine."""
    import soundfile

    from rtsynth.dsp.fidelity import sounding_length_s

    try:
        audio, rate = soundfile.read(str(record.path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise PlayError(f"{record.source_id}: cannot read the recording ({err})") from None
    return sounding_length_s(audio.mean(axis=1), rate)
