"""`rtsynth data gm`: render the GM-SOL corpus (train/corpus/gm.py) with FluidSynth or TiMidity++."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from rtsynth.config import ConfigError

log = logging.getLogger(__name__)


def add_parsers(data: argparse._SubParsersAction) -> None:
    p = data.add_parser(
        "gm",
        help="render the GM-SOL corpus (14 instruments x range x pp/mf/ff) from a SoundFont or patch set",
        description="Render the 14 TinySOL instruments note by note from a General MIDI SoundFont with FluidSynth, "
        "or from a TiMidity++ config (a .cfg, such as the freepats patches) with TiMidity++ "
        "(seeded: the same command gives the same files). Writes OUT/wav/<instrument>/*.wav, "
        "OUT/labels.csv and OUT/summary.json; notes already rendered identically are kept.",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--config", type=Path, help="setup TOML or packaged name, e.g. gm-sol-shelf (default: gm-sol)")
    p.add_argument(
        "--soundfont",
        help="SoundFont file, or a TiMidity++ config such as /etc/timidity/freepats.cfg "
        "(default: Debian's FluidR3_GM.sf2)",
    )
    p.add_argument("--instruments", help="comma-separated names or TinySOL abbreviations, e.g. violin,Fl")
    p.add_argument("--pitch-range", type=int, nargs=2, metavar=("LO", "HI"), help="MIDI pitches to keep")
    p.add_argument("--takes", type=int, help="notes per pitch and dynamics (default: as TinySOL)")
    p.add_argument("--count", type=int, help="render a seeded subsample of N notes of the plan")
    p.add_argument("--seed", type=int, help="run seed (default 0)")
    p.add_argument("--workers", type=int, help="render processes (default 2)")
    p.set_defaults(func=run)
    kit = data.add_parser(
        "gm-kit",
        help="render a SoundFont's GM percussion kit (channel 10) as a folder of unlabelled WAV files",
        description="One WAV per GM percussion key (35-81 by default), struck once and rendered until silent, "
        "named by its GM name; no labels.csv, so `rtsynth data prep` reads the folder as unlabelled sounds.",
    )
    kit.add_argument("--out", type=Path, required=True, help="output folder")
    kit.add_argument("--soundfont", help="SoundFont file (default: Debian's FluidR3_GM.sf2)")
    kit.add_argument("--keys", type=int, nargs=2, metavar=("LO", "HI"), default=(35, 81), help="GM keys (35 81)")
    kit.set_defaults(func=run_kit)


def run_kit(args: argparse.Namespace) -> int:
    from rtsynth.train.corpus import gm
    from rtsynth.train.corpus.gm_kit import render_kit

    try:
        written = render_kit(args.out, args.soundfont or gm.DEFAULT_SOUNDFONT, tuple(args.keys))
    except gm.GmRenderError as err:
        log.error("%s", err)
        return 2
    if not written:
        log.error("no percussion key in %d-%d sounded in the SoundFont", *args.keys)
        return 2
    return 0


def _overrides(args: argparse.Namespace) -> dict:
    values = {
        "soundfont": args.soundfont,
        "instruments": tuple(s.strip() for s in args.instruments.split(",") if s.strip()) if args.instruments else None,
        "pitch_range": tuple(args.pitch_range) if args.pitch_range else None,
        "takes": args.takes,
        "count": args.count,
        "seed": args.seed,
        "workers": args.workers,
    }
    return {k: v for k, v in values.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    from rtsynth.train.corpus import gm

    try:
        cfg = dataclasses.replace(gm.load_gm_config(args.config), **_overrides(args))
        gm.render_corpus(cfg, args.out)
    except (gm.GmRenderError, ConfigError) as err:
        log.error("%s", err)
        return 2
    return 0
