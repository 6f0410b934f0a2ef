"""`rtsynth eval RUNDIR` and `rtsynth compare RUNDIR...`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    ev = commands.add_parser(
        "eval",
        help="evaluate a trained run: RUNDIR/report.md, metrics.json, figures/",
        description="Table I, 4x4 k-NN leakage matrix, denseness/divergence, controllability and timbre "
        "transfer judged by an independent CNN classifier (trained once per cache), and figures.",
    )
    ev.add_argument("run_dir", type=Path, metavar="RUNDIR")
    ev.add_argument("--checkpoint", choices=("best", "last"), default="best")
    ev.add_argument(
        "--max-train-notes",
        type=int,
        default=4000,
        help="training notes encoded for k-NN and class centroids (default 4000)",
    )
    ev.add_argument("--tsne-points", type=int, default=600, help="training notes in the t-SNE plots (default 600)")
    ev.add_argument("--control-refs", type=int, default=48, help="reference notes for controllability (default 48)")
    ev.add_argument("--transfer-notes", type=int, default=12, help="source notes per transfer pair (default 12)")
    ev.add_argument(
        "--pitch-notes",
        type=int,
        default=120,
        help="test notes whose reconstructions are vocoded and their f0 measured (default 120)",
    )
    ev.add_argument("--classifier-epochs", type=int, default=15, help="max epochs of the independent classifier")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--on",
        type=Path,
        metavar="CACHE",
        help="instead: score the run on every note of another cache whose labels the run knows (e.g. "
        "GM-SOL from a SoundFont left out of training; it may lack some instruments): per-descriptor "
        "accuracy and timbre confusion -> RUNDIR/holdout-<CACHE>.md and .json",
    )
    ev.add_argument("--out", type=Path, metavar="STEM", help="with --on: write STEM.md and STEM.json instead")
    ev.set_defaults(func=_eval)

    cmp = commands.add_parser("compare", help="one Table-I-style markdown table over evaluated runs")
    cmp.add_argument("run_dirs", type=Path, nargs="+", metavar="RUNDIR")
    cmp.add_argument("--out", type=Path, help="write the table to FILE (default: print it)")
    cmp.set_defaults(func=_compare)


def _eval(args: argparse.Namespace) -> int:
    from rtsynth.train.eval.names import SYMBOL
    from rtsynth.train.eval.pipeline import EvalOptions, evaluate_run
    from rtsynth.train.prep.cache import CacheError
    from rtsynth.train.runs import RunError

    if not (args.run_dir / "checkpoints").is_dir():
        log.error("%s is not a run directory (no checkpoints/); train one with `rtsynth train`", args.run_dir)
        return 2
    if args.on is not None:
        return _eval_holdout(args)
    options = EvalOptions(
        which=args.checkpoint,
        max_train_notes=args.max_train_notes,
        tsne_points=args.tsne_points,
        control_refs=args.control_refs,
        transfer_notes=args.transfer_notes,
        seed=args.seed,
        classifier_epochs=args.classifier_epochs,
        pitch_notes=args.pitch_notes,
    )
    try:
        metrics = evaluate_run(args.run_dir, options)
    except (RunError, CacheError, ValueError) as err:
        log.error("cannot evaluate %s: %s", args.run_dir, err)
        return 2
    acc = metrics["table_one"]["accuracy"]
    scores = " ".join(f"{SYMBOL[d]} {'-' if acc[d] is None else format(acc[d], '.3f')}" for d in acc)
    log.info(
        "%s: %s, recon MSE %.4f -> %s",
        metrics["variant"],
        scores,
        metrics["table_one"]["recon_mse"],
        args.run_dir / "report.md",
    )
    return 0


def _eval_holdout(args: argparse.Namespace) -> int:
    from rtsynth.train.eval.holdout import HoldoutOptions, evaluate_holdout, score_text, write_holdout
    from rtsynth.train.eval.names import SYMBOL
    from rtsynth.train.prep.cache import CacheError
    from rtsynth.train.runs import RunError

    options = HoldoutOptions(which=args.checkpoint, max_train_notes=args.max_train_notes, seed=args.seed)
    try:
        report = evaluate_holdout(args.run_dir, args.on, options)
    except (RunError, CacheError, ValueError, OSError) as err:
        log.error("cannot evaluate %s on %s: %s", args.run_dir, args.on, err)
        return 2
    _, md_path = write_holdout(report, args.out or args.run_dir / f"holdout-{args.on.resolve().name}")
    held = report["held_out_scores"]
    scores = " ".join(f"{SYMBOL[d]} {score_text(held['classifier'][d])}" for d in held["classifier"])
    log.info("held out (%d notes, classifiers): %s -> %s", held["notes"], scores, md_path)
    unheard = report["unheard_scores"]
    if unheard is not None and report["heard_in_training"]["timbres"]:
        log.info(
            "timbres whose recordings training held: %s; the other %d notes: T %s",
            ", ".join(report["heard_in_training"]["timbres"]),
            unheard["notes"],
            score_text(unheard["classifier"]["timbre"]),
        )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from rtsynth.train.eval.report import compare_table, load_metrics

    try:
        metrics = [load_metrics(run) for run in args.run_dirs]
    except FileNotFoundError as err:
        log.error("%s", err)
        return 2
    table = compare_table(metrics)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
        log.info("wrote %s", args.out)
    else:
        print(table)
    return 0
