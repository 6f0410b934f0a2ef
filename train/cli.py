"""`rtsynth train`: train a NoteVAE variant from a config.

Data-parallel: launch the same command with torchrun, e.g.
    torchrun --nproc_per_node 2 -m rtsynth train --config md-gmvae-c-r --out runs/x
(gloo on CPU; NCCL with --device cuda). Only rank 0 writes the run directory.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import get_args

from rtsynth.train.config import AudioLossName

log = logging.getLogger(__name__)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train", help="train a VAE variant on a dataset cache (DDP via torchrun)")
    p.add_argument(
        "--config", help="a packaged config's name (rtsynth/configs/train) or a TOML file; optional with --resume"
    )
    p.add_argument("--out", required=True, help="run directory (checkpoints, metrics.csv, train.log)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--cache", help="dataset cache directory (overrides the config)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="overrides the config")
    p.add_argument("--max-epochs", type=int, help="overrides the config (e.g. to extend a resumed run)")
    p.add_argument(
        "--lr",
        type=float,
        help="with --resume: continue at this learning rate (a manual annealing "
        "step; the plateau schedule goes on from it)",
    )
    p.add_argument("--threads", type=int, help="torch threads per process (overrides the config)")
    p.add_argument("--seed", type=int, help="overrides the config (repeat a run over seeds to see its spread)")
    p.set_defaults(func=run_train)
    t = commands.add_parser(
        "tune-audio",
        help="train a harmonic decoder's synthesis against its notes rendered at 48 kHz",
        description="Tunes the decoder of RUN (not its encoder: the latents stay) so that the engine's "
        "harmonic-plus-noise synthesis of each training note matches the same note in REFERENCE, the corpus "
        "rendered at 48 kHz (rtsynth data gm --config gm-sol-48k). Writes a run directory to --out, "
        "after every epoch.",
    )
    t.add_argument("--reference", required=True, help="the run's corpus rendered at the output rate")
    t.add_argument("--out", required=True, help="run directory for the tuned decoder (must not exist)")
    t.add_argument("run", help="a trained run with the harmonic decoder")
    t.add_argument("--epochs", type=int, default=2, help="passes over the training notes (2)")
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--max-notes", type=int, help="a seeded subset of the training split")
    t.add_argument(
        "--loss",
        choices=get_args(AudioLossName),
        default="mel",
        help="multi-scale log-mel; that plus a fine spectrum below 1 kHz; or DDSP's MRSTFT",
    )
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: every core)")
    t.set_defaults(func=run_tune_audio)


def _resolve_config(args: argparse.Namespace):
    from rtsynth.train.config import read_config, read_run_config
    from rtsynth.train.runs import RunPaths

    run_config = RunPaths(Path(args.out)).config
    if args.resume and run_config.is_file():
        config = read_run_config(run_config)
        if args.config and read_config(args.config) != config:
            log.warning("--resume uses the run's own %s, not %s", run_config, args.config)
    elif args.config:
        config = read_config(args.config)
    else:
        raise SystemExit(f"--config is required unless --resume finds {run_config}")
    overrides = {
        "cache": args.cache,
        "device": args.device,
        "max_epochs": args.max_epochs,
        "num_threads": args.threads,
        "seed": args.seed,
    }
    return config.replace(**{k: v for k, v in overrides.items() if v is not None})


def run_train(args: argparse.Namespace) -> int:
    from rtsynth.config import ConfigError
    from rtsynth.train.distributed import init_distributed, shutdown
    from rtsynth.train.prep.cache import CacheError
    from rtsynth.train.runs import RunError
    from rtsynth.train.trainer import DivergenceError, Trainer

    try:
        config = _resolve_config(args)
        ctx = init_distributed(config.device)
    except (ConfigError, RuntimeError) as err:
        log.error("%s", err)
        return 2
    finished = False
    try:
        if args.lr is not None and not (args.resume and args.lr > 0):
            log.error("--lr takes a positive learning rate and needs --resume (a new run sets lr in its config)")
            return 2
        trainer = Trainer(config, args.out, ctx, resume=args.resume, lr=args.lr)
        trainer.fit()
        finished = True
    except DivergenceError as err:
        log.error("%s; stopped, the last good checkpoint is %s", err, Path(args.out) / "checkpoints" / "last.pt")
        return 1
    except (ConfigError, CacheError, RunError, ValueError) as err:
        log.error("%s", err)
        return 2
    finally:
        shutdown(ctx, finished)
    return 0


def run_tune_audio(args: argparse.Namespace) -> int:
    import os

    import torch

    from rtsynth.train.audio import AudioTuneError, AudioTuneOptions, tune_audio
    from rtsynth.train.prep.cache import CacheError
    from rtsynth.train.runs import RunError

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    options = AudioTuneOptions(
        Path(args.reference), args.epochs, args.batch_size, lr=args.lr, max_notes=args.max_notes, loss=args.loss
    )
    try:
        tune_audio(args.run, args.out, options)
    except (AudioTuneError, CacheError, RunError) as err:
        log.error("%s", err)
        return 2
    return 0
