"""Corpus -> dataset cache: the whole of `rtsynth data prep` below the command line."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rtsynth.errors import RtsynthError
from rtsynth.labels import Vocabulary
from rtsynth.settings import PAPER_MEL, PAPER_TRIM, MelSettings, TrimSettings
from rtsynth.train.corpus.combine import combine_corpora
from rtsynth.train.corpus.read import read_corpus
from rtsynth.train.corpus.records import Corpus, NoteRecord, Skipped
from rtsynth.train.jobs import ordered_map
from rtsynth.train.prep.cache import CACHE_FORMAT, SPLITS, NoteCache, write_cache
from rtsynth.train.prep.fingerprint import PREP_VERSION, changed_parts, input_fingerprint
from rtsynth.train.prep.note import NoteJob, PreparedNote
from rtsynth.train.prep.options import PrepOptions
from rtsynth.train.prep.report import build_report, write_report
from rtsynth.train.prep.splits import stratified_split
from rtsynth.train.prep.vocab import build_vocabulary, label_indices

log = logging.getLogger(__name__)


class PrepError(RtsynthError, RuntimeError):
    """Nothing usable came out of the corpus (the report says why for every note)."""


@dataclass
class PrepOutcome:
    cache_dir: Path
    rebuilt: bool
    report: dict  # the content of report.json


def prepare_corpus(
    corpus_dir: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    options: PrepOptions = PrepOptions(),
    *,
    mel: MelSettings = PAPER_MEL,
    trim: TrimSettings = PAPER_TRIM,
    workers: int = 2,
    force: bool = False,
    progress: bool = True,
    figures: bool = True,
) -> PrepOutcome:
    """Build the cache at `out_dir` unless it was built from the same inputs and settings; several
    corpus folders make one cache (train/corpus/combine.py)."""
    out = Path(out_dir)
    dirs = [corpus_dir] if isinstance(corpus_dir, str | Path) else list(corpus_dir)
    corpus = combine_corpora([read_corpus(Path(d)) for d in dirs])
    fingerprint = input_fingerprint(corpus, mel, trim, options)
    stale = ["--force"] if force else stale_parts(out, fingerprint)
    if not stale:
        log.info("cache up to date: %s", out)
        return PrepOutcome(out, False, json.loads((out / "report.json").read_text()))
    log.info("building cache %s from %s (%s changed)", out, corpus.root, ", ".join(stale))
    wanted, filtered = filter_pitch(sorted(corpus.records, key=lambda r: r.source_id), options.pitch_range)
    started = time.perf_counter()
    notes, mels, failed = collect(wanted, NoteJob(mel, trim, options), mel, workers, progress)
    prep_seconds = time.perf_counter() - started
    check_usable(corpus, notes, failed, filtered, out)  # before touching `out`: a failed prep keeps what is there
    out.mkdir(parents=True, exist_ok=True)
    for marker in ("manifest.json", "report.json"):  # the cache is incomplete until both are rewritten
        (out / marker).unlink(missing_ok=True)
    vocab, labels, split = write_labelled_cache(out, corpus, notes, mels, options, mel, trim, fingerprint)
    del mels
    load_seconds, cache = timed_load(out)
    timing = {
        "prep_seconds": round(prep_seconds, 3),
        "ms_per_note": round(1000 * prep_seconds / len(wanted), 2),
        "workers": workers,
        "load_seconds": round(load_seconds, 3),
    }
    log.info(
        "prepared %d notes in %.1f s (%.1f ms per note, %d workers); cache load + read of every mel: %.2f s",
        len(notes),
        prep_seconds,
        timing["ms_per_note"],
        workers,
        load_seconds,
    )
    report = build_report(corpus, notes, failed, filtered, labels, split, vocab, timing)
    if figures:
        from rtsynth.train.prep.figures import write_figures

        write_figures(cache, report)
    write_report(out, report)  # report.json last: its presence marks a finished build
    return PrepOutcome(out, True, report)


def check_usable(
    corpus: Corpus, notes: Sequence[PreparedNote], failed: Sequence[Skipped], filtered: Sequence, out: Path
) -> None:
    """Say how many notes were left out; refuse to write a cache with none."""
    skipped = [*corpus.skipped, *failed]
    if skipped:
        log.warning(
            "%d notes skipped (%d by the corpus reader, %d in audio processing); reasons in %s",
            len(skipped),
            len(corpus.skipped),
            len(failed),
            out / "report.md",
        )
    if not notes:
        raise PrepError(
            f"no usable notes in {corpus.root}: {len(skipped)} skipped, {len(filtered)} filtered "
            f"by pitch; first reasons: {[f'{s.source_id}: {s.reason}' for s in skipped[:3]]}"
        )


def write_labelled_cache(
    out: Path,
    corpus: Corpus,
    notes: Sequence[PreparedNote],
    mels: np.ndarray,
    options: PrepOptions,
    mel: MelSettings,
    trim: TrimSettings,
    fingerprint: dict,
) -> tuple[Vocabulary, dict[str, np.ndarray], np.ndarray]:
    """Vocabulary, class indices and splits of the kept notes, written with their mels."""
    vocab = build_vocabulary(notes, options.pitch_range, trim)
    labels = label_indices(notes, vocab, trim)
    split = stratified_split([n.record.instrument for n in notes], options.split_fractions, options.seed)
    write_cache(
        out,
        mels,
        labels,
        split,
        np.array([n.peak_db for n in notes]),
        np.array([n.duration_s for n in notes]),
        [n.record.source_id for n in notes],
        vocab,
        mel,
        manifest_extra={
            "fingerprint": fingerprint,
            "prep_version": PREP_VERSION,
            "corpus": corpus.describe(),
            "trim_settings": asdict(trim),
            "options": options.to_dict(),
            "splits": {s: int(np.sum(split == k)) for k, s in enumerate(SPLITS)},
        },
    )
    return vocab, labels, split


def stale_parts(out: Path, fingerprint: dict[str, str]) -> list[str]:
    """What makes the cache at `out` out of date; empty when it is current."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return ["cache (none complete yet)"]
    if manifest.get("format") != CACHE_FORMAT:
        return ["cache format"]
    if not (out / "report.json").is_file():
        return ["report (missing)"]
    return changed_parts(manifest.get("fingerprint"), fingerprint)


def filter_pitch(
    records: Sequence[NoteRecord], pitch_range: tuple[int, int] | None
) -> tuple[list[NoteRecord], list[tuple[NoteRecord, str]]]:
    """(notes inside the range, [(note outside, reason)]); filtering is a choice, not an error."""
    if pitch_range is None:
        return list(records), []
    lo, hi = pitch_range
    inside = [r for r in records if lo <= r.pitch <= hi]
    outside = [(r, f"pitch {r.pitch} outside {lo}..{hi}") for r in records if not lo <= r.pitch <= hi]
    return inside, outside


def collect(
    records: Sequence[NoteRecord], job: NoteJob, mel: MelSettings, workers: int, progress: bool
) -> tuple[list[PreparedNote], np.ndarray, list[Skipped]]:
    """Run the job over every record; mels go straight into one float16 array, in record order."""
    from tqdm import tqdm

    mels = np.empty((len(records), mel.n_mels, mel.n_frames), dtype=np.float16)
    notes: list[PreparedNote] = []
    failed: list[Skipped] = []
    with tqdm(total=len(records), unit="note", desc="prep", disable=not progress) as bar:
        for result in ordered_map(job, records, workers):
            if isinstance(result, Skipped):
                failed.append(result)
                log.debug("skipped %s: %s", result.source_id, result.reason)
            else:
                mels[len(notes)] = result[1]
                notes.append(result[0])
            bar.update()
    return notes, mels[: len(notes)], failed


def timed_load(root: Path) -> tuple[float, NoteCache]:
    """Seconds to load the cache and read every byte of every mel (what an epoch needs)."""
    started = time.perf_counter()
    cache = NoteCache.load(root)
    for i in range(0, len(cache), 256):
        np.bitwise_or.reduce(cache.mels[i : i + 256].view(np.uint16), axis=None)
    return time.perf_counter() - started, cache
