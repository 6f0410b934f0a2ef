"""`rtsynth data prep`: preprocess a corpus into a dataset cache (Dal Rí et al. section III-B)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_parsers(data: argparse._SubParsersAction) -> None:
    prep = data.add_parser(
        "prep",
        help="trim, label durations, make 256x256 mels, split: corpus -> dataset cache",
        description="Paper-faithful preprocessing: mono, trim silence at -40 dB (duration label), "
        "22 050 Hz, pad/crop to 5.94 s, 256x256 mel in [0, 1] with each note's peak dB, 80/10/10 "
        "splits stratified by instrument. Rebuilds only when inputs, settings or options change.",
    )
    prep.add_argument(
        "--corpus",
        required=True,
        action="append",
        help="corpus folder (GM-SOL, TinySOL or labels.csv folder); repeat it to make one cache from several "
        "(each note's source id then starts with its corpus folder, relative to their common folder)",
    )
    prep.add_argument("--out", required=True, help="cache folder to write (e.g. cache/gm-sol)")
    prep.add_argument(
        "--pitch-range",
        type=int,
        nargs=2,
        metavar=("LO", "HI"),
        help="keep MIDI pitches LO..HI only (paper Table I: 48 71); default: all",
    )
    prep.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    prep.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    prep.add_argument("--force", action="store_true", help="rebuild even when the cache is up to date")
    prep.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    prep.set_defaults(func=run_prep)
    probe = data.add_parser(
        "probe",
        help="how readable each label is from a cache's mels: a linear probe, per dynamics",
        description="Logistic regression on each note's summarised mel (sounding-frame mean and spread, attack, "
        "envelope), fitted on the training split, scored on val + test: accuracy of every label overall and per "
        "dynamics class, and the commonest timbre confusions. A label the probe cannot read points at the corpus.",
    )
    probe.add_argument("cache", help="dataset cache folder (from `rtsynth data prep`)")
    probe.add_argument("--json", help="also write the result to this JSON file")
    probe.set_defaults(func=run_probe)
    perturb = data.add_parser(
        "perturb",
        help="paper 001's perturbation bank beside a cache (needed by variant tanaka-3f)",
        description="For every note: audio vocoded from its mel, then VARIANTS random pitch shifts (-7..7 semitones) "
        "and random timbre distortions (two of nine pedalboard effects), as mels in CACHE/perturbation/.",
    )
    perturb.add_argument("cache", help="dataset cache folder (from `rtsynth data prep`)")
    perturb.add_argument("--variants", type=int, default=2, help="perturbed versions per note (default 2)")
    perturb.add_argument("--seed", type=int, default=0)
    perturb.set_defaults(func=run_perturb)


def run_perturb(args: argparse.Namespace) -> int:
    from rtsynth.train.perturb import PerturbSettings, build_bank
    from rtsynth.train.prep.cache import CacheError

    try:
        folder = build_bank(args.cache, PerturbSettings(variants=args.variants, seed=args.seed))
    except ImportError as err:
        log.error("the perturbation bank needs pedalboard (pip install 'rtsynth[train]'): %s", err)
        return 2
    except (ValueError, OSError, CacheError) as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s", folder)
    return 0


def run_prep(args: argparse.Namespace) -> int:
    from rtsynth.train.prep.options import PrepOptions
    from rtsynth.train.prep.pipeline import PrepError, prepare_corpus
    from rtsynth.train.prep.report import histogram_text

    try:
        options = PrepOptions(pitch_range=tuple(args.pitch_range) if args.pitch_range else None, seed=args.seed)
        outcome = prepare_corpus(
            args.corpus, args.out, options, workers=args.workers, force=args.force, figures=not args.no_figures
        )
    except (ValueError, OSError, PrepError) as err:
        log.error("%s", err)
        return 2
    counts = outcome.report["counts"]
    if outcome.rebuilt:
        print(histogram_text(outcome.report))
    print(
        f"{outcome.cache_dir}: {counts['kept']} notes, {counts['skipped']} skipped, {counts['filtered']} "
        f"filtered ({'rebuilt' if outcome.rebuilt else 'up to date'}); report: {outcome.cache_dir / 'report.md'}"
    )
    return 0


def run_probe(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rtsynth.train.prep.cache import CacheError, NoteCache
    from rtsynth.train.prep.probe import probe_cache, probe_text

    try:
        result = probe_cache(NoteCache.load(args.cache))
    except (ValueError, OSError, CacheError) as err:
        log.error("%s", err)
        return 2
    print(probe_text(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0
