"""Run directories: layout, atomic checkpoints, the metrics file, and loading a trained run.

RUNDIR/config.toml            the config the run uses (a resumed run reads it back)
RUNDIR/checkpoints/last.pt    everything needed to continue: weights, optimisers,
                              scheduler, early stopping, RNG states, metric history
RUNDIR/checkpoints/previous.pt  the last.pt before it: where a resume falls back to
RUNDIR/checkpoints/best.pt    the same, for the epoch with the best validation loss
RUNDIR/metrics.csv            one row per epoch, rewritten from the history in last.pt
RUNDIR/train.log              the log of every (resumed) session

Checkpoints hold only tensors and plain Python values and are read with
`torch.load(weights_only=True)`. Each file starts with a line carrying the sha256 of the rest,
so a damaged file is refused by name instead of resuming from garbage.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from rtsynth.errors import RtsynthError
from rtsynth.settings import MelSettings
from rtsynth.train.config import TrainConfig, config_from_dict, dump_toml, read_run_config
from rtsynth.train.models import NoteModel, Removers, build_model
from rtsynth.train.models.harmonic import HarmonicSetup
from rtsynth.train.prep.cache import NoteCache

Checkpoint = Literal["best", "last"]
"""The checkpoints of a run that evaluation and export read."""

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
CHECKSUM_HEADER = b"rtsynth-checkpoint sha256="
REQUIRED_KEYS = ("format", "epoch", "config", "vocab", "model", "optimizer", "scheduler", "early_stopping", "history")


class RunError(RtsynthError, RuntimeError):
    pass


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint(self, which: str) -> Path:
        return self.checkpoints / f"{which}.pt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def log(self) -> Path:
        return self.root / "train.log"


def atomic_write(path: Path, write) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over `path`.

    A kill at any moment leaves either the old file or the new one, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(path: Path, payload: dict) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    header = CHECKSUM_HEADER + hashlib.sha256(body).hexdigest().encode() + b"\n"
    atomic_write(path, lambda f: f.write(header + body))


def _checked_body(path: Path, data: bytes) -> bytes:
    """The torch payload of a checkpoint file, after its checksum line is verified."""
    if not data:
        raise RunError(f"checkpoint {path} is empty (0 bytes)")
    if not data.startswith(CHECKSUM_HEADER):  # written before checksums: readable, not verifiable
        log.warning("checkpoint %s has no checksum (an older run): read as it is", path)
        return data
    line, _, body = data.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != line[len(CHECKSUM_HEADER) :]:
        raise RunError(f"checkpoint {path} is damaged: its sha256 does not match")
    return body


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise RunError(f"no checkpoint at {path}")
    body = _checked_body(path, path.read_bytes())
    try:
        payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: say which, not a pickle trace
        raise RunError(f"cannot read checkpoint {path}: {err or type(err).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path} is not an rtsynth checkpoint of format {CHECKPOINT_FORMAT}")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise RunError(f"checkpoint {path} lacks {', '.join(missing)}")
    # the mel output layer was `decoder.output` before the decoder had a choice of heads
    payload["model"] = {
        key.replace("decoder.output.", "decoder.head.output.", 1) if key.startswith("decoder.output.") else key: value
        for key, value in payload["model"].items()
    }
    return payload


def save_last(paths: RunPaths, payload: dict) -> None:
    """last.pt, keeping the one before as previous.pt (a fallback if last.pt is ever damaged)."""
    last = paths.checkpoint("last")
    if last.exists():
        os.replace(last, paths.checkpoint("previous"))
    save_checkpoint(last, payload)


def load_resumable(paths: RunPaths) -> dict:
    """The newest checkpoint that reads back whole: last.pt, else previous.pt, else best.pt,
    saying which was refused and why."""
    problems = []
    for which in ("last", "previous", "best"):
        path = paths.checkpoint(which)
        if not path.exists():
            continue
        try:
            payload = load_checkpoint(path)
        except RunError as err:
            problems.append(str(err))
            log.error("%s; trying the checkpoint before it", err)
            continue
        if problems:
            log.warning("resuming from %s (epoch %s) instead", path.name, payload["epoch"])
        return payload
    raise RunError("; ".join(problems) or f"no checkpoint in {paths.checkpoints}")


def write_config(paths: RunPaths, config: TrainConfig) -> None:
    atomic_write(paths.config, lambda f: f.write(dump_toml(config).encode()))


def write_metrics(paths: RunPaths, history: list[dict[str, float]]) -> None:
    """metrics.csv from the full history, so it always agrees with last.pt."""
    columns = list(dict.fromkeys(k for row in history for k in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write(paths.metrics, lambda f: f.write(text.getvalue().encode()))


def append_log(paths: RunPaths, level: int, message: str) -> None:
    """One line in train.log, whatever the console's log level (the run's own record)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(paths.log, "a") as f:
        f.write(f"{stamp} {logging.getLevelName(level)} {message}\n")


@dataclass
class LoadedRun:
    run_dir: Path
    config: TrainConfig
    model: NoteModel  # eval mode, CPU
    cache: NoteCache
    epoch: int  # epochs completed when the checkpoint was written
    removers: Removers | None = None  # present for "md-gmvae+c+r"
    audio_tuned: dict | None = None  # `rtsynth tune-audio`'s facts: the rate its synthesis trained at


def restore_model(payload: dict) -> tuple[TrainConfig, NoteModel, Removers | None]:
    """The config, model (with its own classifiers) and removers of a checkpoint payload."""
    config = config_from_dict(payload["config"])
    n_mels, n_frames = payload["mel_shape"]
    harmonic = None
    if "mel_settings" in payload:  # checkpoints before the harmonic decoder lack it
        harmonic = HarmonicSetup(MelSettings.from_dict(payload["mel_settings"]), tuple(payload["vocab"]["pitch"]))
    model = build_model(config, payload["vocab_sizes"], n_mels, n_frames, harmonic)
    model.load_state_dict(payload["model"])
    removers = None
    if payload.get("removers") is not None:
        removers = Removers(payload["vocab_sizes"], config.model.remover_hidden)
        removers.load_state_dict(payload["removers"])
        removers.eval()
    return config, model.eval(), removers


def load_run(run_dir: str | Path, which: Checkpoint = "best", cache: str | Path | None = None) -> LoadedRun:
    """A trained run, ready for evaluation. `cache` overrides the cache path in the config."""
    paths = RunPaths(Path(run_dir))
    if not paths.config.is_file():
        raise RunError(f"{paths.root} is not a run directory (no config.toml)")
    payload = load_checkpoint(paths.checkpoint(which))
    config, model, removers = restore_model(payload)
    note_cache = NoteCache.load(cache or read_run_config(paths.config).cache)
    if note_cache.vocab.to_dict() != payload["vocab"]:
        raise RunError(f"the dataset cache {note_cache.root} has another vocabulary than run {paths.root}")
    epoch = int(payload["epoch"])
    return LoadedRun(paths.root, config, model, note_cache, epoch, removers, payload.get("audio_tuned"))
