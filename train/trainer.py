"""The training loop: two stages per batch, epoch-mean validation, exact resume, DDP.

Per batch: stage 1 updates the VAE (encoder, heads, priors, decoder, classifiers) on the
weighted objective with the removers frozen; stage 2 updates only the removers on the
detached latents. Per epoch: validation on posterior means (of the averaged weights where
`weight_average` keeps an average), early stopping and the plateau scheduler on the epoch
mean of the validation loss (after β and λ have reached their final values), then atomic
checkpoints and metrics.csv. Only rank 0 writes.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.augment import Augmenter
from rtsynth.train.averaging import WeightAverage
from rtsynth.train.config import TrainConfig
from rtsynth.train.data import Batch, NoteDataset, PerturbedDataset, eval_batches, steps_per_epoch, train_batches
from rtsynth.train.distributed import DistContext, all_reduce_sum, gather_objects
from rtsynth.train.losses import Weights, accuracies, model_terms, model_total, remover_terms
from rtsynth.train.models.harmonic import HarmonicSetup
from rtsynth.train.models.tanaka import cyclical_beta
from rtsynth.train.prep.cache import NoteCache
from rtsynth.train.runs import (
    RunError,
    RunPaths,
    append_log,
    load_resumable,
    save_checkpoint,
    save_last,
    write_config,
    write_metrics,
)
from rtsynth.train.step import DivergenceError, build_networks, train_step

log = logging.getLogger(__name__)


@dataclass
class EarlyStopping:
    patience: int
    best: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0

    def update(self, value: float, epoch: int, counting: bool) -> bool:
        """Record an epoch's validation loss; True if it is the best so far."""
        if value < self.best:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        if counting:
            self.bad_epochs += 1
        return False

    @property
    def stop(self) -> bool:
        return self.bad_epochs >= self.patience


class Meter:
    """Sample-weighted sums of named scalars, reduced over processes into means."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sums: torch.Tensor | None = None
        self.count = 0

    def add(self, values: dict[str, torch.Tensor], n: int) -> None:
        stacked = torch.stack([v.detach().float().cpu() for v in values.values()]) * n
        if self.sums is None:
            self.names, self.sums = list(values), stacked
        else:
            self.sums += stacked
        self.count += n

    def means(self, ctx: DistContext) -> dict[str, float]:
        if self.sums is None:
            raise RuntimeError("no batch was measured: the split has no notes for this process")
        totals = all_reduce_sum(torch.cat([self.sums, torch.tensor([float(self.count)])]), ctx)
        return dict(zip(self.names, (totals[:-1] / totals[-1]).tolist()))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Torch, numpy and Python generator states as tensors and plain values."""
    state = np.random.get_state()
    assert isinstance(state, tuple)  # the legacy form, the default: (name, keys, pos, has_gauss, gauss)
    _, keys, pos, has_gauss, gauss = state
    version, words, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "words": torch.tensor(words, dtype=torch.int64), "gauss": gauss_next},
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["words"].tolist()), p["gauss"]))


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | Path,
        ctx: DistContext | None = None,
        resume: bool = False,
        lr: float | None = None,
    ):
        """`lr` (with resume): continue at this learning rate instead of the checkpoint's."""
        self.config, self.ctx, self.paths = config, ctx or DistContext(), RunPaths(Path(run_dir))
        if not resume and self.paths.checkpoint("last").exists():
            raise RunError(f"{self.paths.root} already holds a run: pass --resume or choose another --out")
        if self.ctx.distributed and config.variant == "tanaka-3f" and config.tanaka_table().reentry:
            # the second pass runs the bare network outside the data-parallel wrapper's forward
            raise RunError("re-entry training runs in one process; start it without torchrun")
        cores = max(1, (os.cpu_count() or 1) // self.ctx.local_world_size)
        torch.set_num_threads(config.num_threads or cores)
        seed_everything(config.seed)
        self._load_data(NoteCache.load(config.cache))
        self.augmenter = Augmenter.from_config(config.augment, self.mel_settings, self.vocab)
        self.nets = build_networks(
            config,
            self.vocab.sizes(),
            self.mel_shape,
            self.ctx,
            self.train_data.mels,
            HarmonicSetup(self.mel_settings, self.vocab.pitch),
        )
        self.net, self.removers = self.nets.net, self.nets.removers  # the bare modules
        self.average = WeightAverage(self.net, config.weight_average) if config.weight_average > 0 else None
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.nets.optimizer,
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            min_lr=config.min_lr,
        )
        self.stopping = EarlyStopping(config.patience)
        if self.ctx.distributed:
            torch.manual_seed(config.seed + self.ctx.rank)  # distinct sampling noise per process
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        if resume:
            self._restore(load_resumable(self.paths))
            if lr is not None:
                self._set_lr(lr)

    def _load_data(self, cache: NoteCache) -> None:
        self.vocab, self.mel_settings = cache.vocab, cache.mel_settings
        self.mel_shape = tuple(cache.mels.shape[1:])
        self.train_data = NoteDataset.from_cache(cache, "train")
        if self.config.variant == "tanaka-3f":
            from rtsynth.train.perturb import PerturbationBank

            bank = PerturbationBank.load(cache.root)
            self.train_data = PerturbedDataset.from_bank(
                self.train_data, cache, "train", bank, self.config.tanaka_table().perturbation_dropout
            )
        if self.config.variant == "luo-gmvae" and (luo := self.config.luo_table()).label_fraction < 1.0:
            self.train_data = self.train_data.with_hidden_timbre(luo.label_fraction, luo.label_seed)
        self.val_data = NoteDataset.from_cache(cache, "val")
        log.info("data: %d train, %d val notes from %s", len(self.train_data), len(self.val_data), cache.root)

    # -- one batch, one epoch -------------------------------------------------------------

    def weights(self, epoch: int) -> Weights:
        lam = self.config.remover_weight.value(epoch) if self.removers is not None else 0.0
        cfg = self.config
        supervision = cfg.luo_table().supervision_weight if cfg.variant == "luo-gmvae" else 0.0
        beta, reentry = cfg.beta.value(epoch), 0.0
        if cfg.variant == "tanaka-3f":
            tanaka = cfg.tanaka_table()
            beta = cyclical_beta(epoch, tanaka.kl_cycle, cfg.beta.end) if tanaka.kl_cycle else beta
            reentry = tanaka.reentry_weight if tanaka.reentry else 0.0
        return Weights(beta=beta, remover=lam, supervision=supervision, reentry=reentry)

    def train_step(self, batch: Batch, weights: Weights, where: str = "") -> dict[str, torch.Tensor]:
        return train_step(self.nets, batch, weights, self.config.loss, self.ctx, where, self.config.metric)

    def _train_epoch(self, epoch: int, weights: Weights) -> dict[str, float]:
        self.nets.model.train()
        meter, ctx = Meter(), self.ctx
        steps = steps_per_epoch(len(self.train_data), self.config.batch_size, ctx.world_size)
        batches = train_batches(
            self.train_data, self.config.batch_size, epoch, self.config.seed, ctx.rank, ctx.world_size
        )
        if self.augmenter is not None:
            generator = self.augmenter.generator(self.config.seed, epoch, ctx.rank)
            batches = (self.augmenter(batch, generator) for batch in batches)
        bar = tqdm(batches, total=steps, desc=f"epoch {epoch + 1}", leave=False, disable=not ctx.is_main)
        for step, batch in enumerate(bar):
            terms = self.train_step(batch.to(ctx.device), weights, f"epoch {epoch + 1} step {step + 1}")
            if self.average is not None:
                self.average.update(self.net)
            meter.add(terms, len(batch))
            bar.set_postfix(loss=f"{terms['total'].item():.4g}")
        return meter.means(ctx)

    def validate(self, weights: Weights) -> dict[str, float]:
        """Epoch means over the whole validation split, on posterior means (no sampling), with
        the averaged weights where the config keeps an average."""
        if self.average is None:
            return self._validate(weights)
        with self.average.applied(self.net):
            return self._validate(weights)

    @torch.no_grad()
    def _validate(self, weights: Weights) -> dict[str, float]:
        self.net.eval()
        meter, cfg = Meter(), self.config
        for batch in eval_batches(self.val_data, cfg.batch_size, self.ctx.rank, self.ctx.world_size):
            batch = batch.to(self.ctx.device)
            out = self.net(batch.mel)
            terms = model_terms(self.net, out, batch.mel, batch.labels, self.removers, cfg.loss, cfg.metric)
            terms["total"] = model_total(terms, cfg.loss, weights, cfg.metric)
            monitor = Weights(beta=cfg.beta.end, remover=0.0, supervision=weights.supervision)
            terms["monitor"] = model_total(terms, cfg.loss, monitor, cfg.metric)
            terms["mse"] = torch.nn.functional.mse_loss(out.recon, batch.mel)  # plain, as in Table I
            terms.update(accuracies(out.logits, batch.labels, "acc"))
            if self.removers is not None:
                logits = self.removers(out.z)
                terms.update(remover_terms(logits, batch.labels))
                terms.update(accuracies(logits, batch.labels, "rem_acc"))
            meter.add(terms, len(batch))
        return meter.means(self.ctx)

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """Train and validate epoch `epoch` (0-based); the metrics row it produces."""
        weights = self.weights(epoch)
        lr = self.nets.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        train = self._train_epoch(epoch, weights)
        val = self.validate(weights)
        return {
            "epoch": epoch + 1,
            "lr": lr,
            "beta": weights.beta,
            "lambda": weights.remover,
            "seconds": time.perf_counter() - start,
            **{f"train_{k}": v for k, v in train.items()},
            **{f"val_{k}": v for k, v in val.items()},
        }

    # -- the loop ---------------------------------------------------------------------------

    def fit(self) -> EarlyStopping:
        """Train until early stopping or max_epochs; resumable after any kill."""
        cfg, ctx = self.config, self.ctx
        if ctx.is_main and self.epoch == 0:
            write_config(self.paths, cfg)
        self._event(
            logging.INFO,
            "training %s on %s from epoch %d (%d process(es), %d threads each)",
            cfg.variant,
            cfg.cache,
            self.epoch + 1,
            ctx.world_size,
            torch.get_num_threads(),
        )
        bar = tqdm(total=cfg.max_epochs, initial=self.epoch, desc="epochs", disable=not ctx.is_main)
        try:
            while self.epoch < cfg.max_epochs and not self.stopping.stop:
                self._epoch_and_save()
                row = self.history[-1]
                bar.update(1)
                bar.set_postfix(train=f"{row['train_total']:.4g}", val=f"{row['val_monitor']:.4g}")
        except DivergenceError as err:
            self._event(logging.ERROR, "%s; the last good checkpoint is epoch %d", err, self.epoch)
            raise
        finally:
            bar.close()
        reason = "early stopping" if self.stopping.stop else "max_epochs reached"
        self._event(
            logging.INFO,
            "finished after %d epochs (%s); best epoch %d, validation loss %.5g",
            self.epoch,
            reason,
            self.stopping.best_epoch,
            self.stopping.best,
        )
        return self.stopping

    def _epoch_and_save(self) -> None:
        cfg = self.config
        row = self.run_epoch(self.epoch)
        warm = self.epoch >= cfg.warmup_epochs
        improved = self.stopping.update(row["val_monitor"], self.epoch + 1, counting=warm)
        if warm:
            self.scheduler.step(row["val_monitor"])
        self.epoch += 1
        self.history.append(row)
        self._save(improved)
        self._event(logging.INFO, "epoch %d: %s", self.epoch, _summary(row))

    # -- checkpoints --------------------------------------------------------------------------

    def _payload(self, rng: list[dict]) -> dict:
        cfg = self.config
        return {
            "format": 1,
            "epoch": self.epoch,
            "config": cfg.to_dict(),
            "vocab": self.vocab.to_dict(),
            "vocab_sizes": self.vocab.sizes(),
            "mel_shape": list(self.mel_shape),
            "mel_settings": self.mel_settings.to_dict(),
            # what evaluation and export read: the averaged weights where there are some
            "model": self.net.state_dict() if self.average is None else self.average.state,
            **(
                {}
                if self.average is None
                else {"trained_model": self.net.state_dict(), "average_updates": self.average.updates}
            ),
            "removers": None if self.removers is None else self.removers.state_dict(),
            "optimizer": self.nets.optimizer.state_dict(),
            "remover_optimizer": None if self.nets.stage2 is None else self.nets.stage2.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "early_stopping": asdict(self.stopping),
            "rng": rng,
            "history": self.history,
        }

    def _save(self, improved: bool) -> None:
        rng = gather_objects(rng_state(), self.ctx)  # every rank's generators, for exact resume
        if not self.ctx.is_main:
            return
        payload = self._payload(rng)
        if improved:
            save_checkpoint(self.paths.checkpoint("best"), payload)
        save_last(self.paths, payload)
        write_metrics(self.paths, self.history)

    def _restore(self, payload: dict) -> None:
        if payload["vocab"] != self.vocab.to_dict():
            raise RunError(f"the dataset cache has another vocabulary than the run in {self.paths.root}")
        self.net.load_state_dict(payload.get("trained_model", payload["model"]))
        if self.average is not None:
            self.average.load(payload["model"], int(payload["average_updates"]))
        self.nets.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if self.nets.stage2 is not None:
            self.nets.stage2.removers.load_state_dict(payload["removers"])
            self.nets.stage2.optimizer.load_state_dict(payload["remover_optimizer"])
        self.stopping = EarlyStopping(**payload["early_stopping"])
        self.stopping.patience = self.config.patience
        self.epoch, self.history = int(payload["epoch"]), list(payload["history"])
        states = payload["rng"]
        if len(states) == self.ctx.world_size:
            set_rng_state(states[self.ctx.rank])
        else:
            self._event(
                logging.WARNING,
                "checkpoint has RNG states of %d processes, this run has %d: reseeding",
                len(states),
                self.ctx.world_size,
            )
            seed_everything(self.config.seed + self.epoch * 1000 + self.ctx.rank)
        self._event(logging.INFO, "resumed %s after epoch %d", self.paths.root, self.epoch)

    def _set_lr(self, lr: float) -> None:
        """A manual annealing step: every parameter group of the model's optimiser, from now on."""
        for group in self.nets.optimizer.param_groups:
            group["lr"] = lr
        self._event(logging.INFO, "learning rate set to %g after epoch %d", lr, self.epoch)

    def _event(self, level: int, message: str, *args) -> None:
        """Log, and on rank 0 also record in train.log."""
        log.log(level, message, *args)
        if self.ctx.is_main:
            self.paths.root.mkdir(parents=True, exist_ok=True)
            append_log(self.paths, level, message % args)


def _summary(row: dict[str, float]) -> str:
    keys = ["train_total", "val_monitor", "val_mse", *(f"val_acc_{d}" for d in DESCRIPTORS), "lr", "seconds"]
    return ", ".join(f"{k}={row[k]:.4g}" for k in keys if k in row)
