"""`rtsynth export RUNDIR --out BUNDLE`: a trained run -> an ONNX bundle (DESIGN section 5)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="export a trained run to an ONNX bundle",
        description="Export a run's decoder to ONNX (checked against torch) with bundle.json: class means, "
        "loudness table, velocity mapping, corpus facts and metrics. The bundle is written "
        "to a temporary directory and renamed into place only when complete.",
    )
    export.add_argument("run", help="run directory (from `rtsynth train`)")
    export.add_argument("--out", required=True, help="bundle directory to write, e.g. bundles/default")
    export.add_argument("--name", help="bundle name (default: the --out directory's name)")
    export.add_argument("--checkpoint", choices=("best", "last"), default="best", help="which checkpoint (best)")
    export.add_argument("--force", action="store_true", help="replace an existing bundle at --out")
    export.add_argument(
        "--tolerance", type=float, default=1e-4, help="max abs error allowed between the ONNX and torch decoders (1e-4)"
    )
    export.add_argument(
        "--tuning-step",
        type=int,
        default=3,
        help="tuning: measure every key of each timbre's range, store the errors (the engine plays "
        "each key from the class that sounds nearest it), then check every N-th key as "
        "it now plays (3; 0 skips both)",
    )
    export.add_argument(
        "--presets",
        type=int,
        default=8,
        help="models that learned without labels (tanaka-3f): timbre presets clustered from the timbre space (8)",
    )
    export.add_argument(
        "--mark",
        action="append",
        default=[],
        metavar="FILE",
        help="tanaka-3f: also make a preset of this corpus file (its path as in the cache's notes.csv), "
        "named by the file; repeatable",
    )
    export.set_defaults(func=_run)

    synthesis = _bundle_rewrite(
        commands,
        "export-synthesis",
        "give a harmonic decoder's bundle direct harmonic-noise synthesis (ONNX surgery)",
        "Copy a bundle whose decoder has the harmonic output, adding its pitch, partial powers "
        "and noise powers as decoder outputs and declaring synthesis = harmonic-noise, so the engine "
        "synthesizes at the output rate (no vocoder, no resampler). The mel output is checked unchanged.",
    )
    synthesis.set_defaults(func=_run_synthesis)

    calibrate = _bundle_rewrite(
        commands,
        "calibrate",
        "measure each key's level against the reference renderer and store it in the bundle",
        "Play every key each timbre covers at each dynamics through the offline engine and through "
        "the reference renderer (FluidSynth, GM-SOL settings) and write a copy of the bundle whose per-key level "
        "tables make the two match, whose length table makes each key's notes sound the length asked and, for "
        "direct synthesis, whose colour table shapes each key's spectrum below 11 kHz as the reference's and whose "
        "air table adds the noise above 11 kHz the model lacks; then each key outside a timbre's range is set to "
        "play at the level of the range's nearest key. Needs the [train] extra "
        "(FluidSynth and the SoundFont).",
    )
    calibrate.add_argument("--samplerate", type=int, default=48000, help="rate both are rendered at (Hz)")
    calibrate.add_argument("--seconds", type=float, default=1.0, help="held length of each note")
    calibrate.add_argument("--timbres", nargs="+", default=[], help="only these timbres (default: every one)")
    calibrate.add_argument(
        "--only",
        choices=("air", "outside"),
        default="",
        help="air: only the air above the decoder's bands (the levels kept, but for what the air adds); "
        "outside: only the keys outside each timbre's range, held at its nearest key's level",
    )
    calibrate.add_argument("--workers", type=int, default=2, help="processes that render the notes (default 2)")
    calibrate.set_defaults(func=_run_calibrate)


def _run(args: argparse.Namespace) -> int:
    from rtsynth.export.bundle_writer import ExportOptions, export_bundle
    from rtsynth.export.parity import ParityError
    from rtsynth.export.staging import BundleExistsError
    from rtsynth.train.prep.cache import CacheError
    from rtsynth.train.runs import RunError

    options = ExportOptions(
        name=args.name,
        which=args.checkpoint,
        force=args.force,
        tolerance=args.tolerance,
        tuning_step=args.tuning_step,
        presets=args.presets,
        marked=tuple(args.mark),
    )
    try:
        out = export_bundle(args.run, args.out, options)
    except (BundleExistsError, ParityError, RunError, CacheError, ValueError) as err:
        log.error("export failed: %s", err)
        return 1
    log.info("done: rtsynth serve --bundle %s", out)
    return 0


def _run_synthesis(args: argparse.Namespace) -> int:
    from rtsynth.export.synthesis_outputs import export_synthesis

    try:
        out = export_synthesis(args.bundle, args.out, args.force)
    except (OSError, ValueError) as err:  # BundleError, SurgeryError, FileExistsError
        log.error("export-synthesis failed: %s", err)
        return 1
    log.info("done: rtsynth render --bundle %s --note 60", out)
    return 0


def _run_calibrate(args: argparse.Namespace) -> int:
    from rtsynth.export.calibration import CalibrationOptions, calibrate

    options = CalibrationOptions(
        samplerate=args.samplerate,
        seconds=args.seconds,
        force=args.force,
        timbres=tuple(args.timbres),
        only=args.only,
        workers=args.workers,
    )
    out = calibrate(args.bundle, args.out, options)
    log.info("done: rtsynth render --bundle %s --note 60", out)
    return 0


def _bundle_rewrite(
    commands: argparse._SubParsersAction, name: str, help: str, description: str
) -> argparse.ArgumentParser:
    """A command that reads a bundle and writes a changed copy (to the same place with --force)."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=description)
    parser.add_argument("bundle", help="the bundle to read, e.g. rtsynth/bundles/default")
    parser.add_argument("--out", required=True, help="bundle directory to write (may be the same, with --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing bundle at --out")
    return parser
