"""One training step of Dal Rí et al.'s two-stage scheme, shared by the trainer and the bench.

Stage 1 updates the VAE (feature extractor, heads, priors, decoder, classifiers) on the
weighted objective with the removers frozen; stage 2 updates only the removers on the
detached latents. Under DDP each stage's gradients are averaged by its own wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rtsynth.errors import RtsynthError
from rtsynth.labels import DESCRIPTORS
from rtsynth.train.config import LossConfig, MetricConfig, TrainConfig
from rtsynth.train.data import Batch
from rtsynth.train.distributed import DistContext, all_reduce_sum, wrap
from rtsynth.train.losses import Weights, model_terms, model_total, remover_input, remover_terms, tensor_sum
from rtsynth.train.models import NoteModel, Removers, build_model
from rtsynth.train.models.harmonic import HarmonicSetup


class DivergenceError(RtsynthError, RuntimeError):
    """A loss term became NaN or infinite; the message names it."""


@dataclass
class RemoverNets:
    """Stage 2's networks, which only variant "+r" has."""

    removers: Removers  # the bare module
    model: nn.Module  # `removers`, or their DDP wrapper
    optimizer: torch.optim.Optimizer


@dataclass
class Networks:
    net: NoteModel  # the bare model (classifiers and priors included)
    model: nn.Module  # `net`, or its DDP wrapper
    optimizer: torch.optim.Optimizer
    stage2: RemoverNets | None = None

    @property
    def removers(self) -> Removers | None:
        return None if self.stage2 is None else self.stage2.removers


def build_networks(
    config: TrainConfig,
    vocab_sizes: dict[str, int],
    mel_shape: tuple[int, int],
    ctx: DistContext,
    train_mels: torch.Tensor | None = None,
    harmonic: HarmonicSetup | None = None,
) -> Networks:
    """Model, removers (variant "+r") and their Adam optimisers, on ctx.device.

    `train_mels` (the training split) fits the input standardisation and the output bias;
    `harmonic` is needed by the harmonic decoder.
    """
    net = build_model(config, vocab_sizes, *mel_shape, harmonic)
    if train_mels is not None:
        net.fit_statistics(train_mels)
    net.to(ctx.device)
    nets = Networks(net, wrap(net, ctx), torch.optim.Adam(net.parameters(), lr=config.lr))
    if config.uses_removers:
        removers = Removers(vocab_sizes, config.model.remover_hidden).to(ctx.device)
        optimizer = torch.optim.Adam(removers.parameters(), lr=config.lr)
        nets.stage2 = RemoverNets(removers, wrap(removers, ctx), optimizer)
    return nets


def finite_check(terms: dict[str, torch.Tensor], ctx: DistContext, where: str) -> None:
    """Raise on every process if any process has a non-finite term, naming the terms."""
    bad = torch.stack([~torch.isfinite(v.detach()) for v in terms.values()]).float().cpu()
    bad = all_reduce_sum(bad, ctx)
    if bad.any():
        names = [name for name, b in zip(terms, bad.tolist()) if b]
        raise DivergenceError(f"loss term {names[0]!r} diverged (non-finite: {', '.join(names)}) at {where}")


def train_step(
    nets: Networks,
    batch: Batch,
    weights: Weights,
    loss: LossConfig,
    ctx: DistContext,
    where: str = "",
    metric: MetricConfig | None = None,
) -> dict[str, torch.Tensor]:
    """Stage 1, then stage 2; returns every loss term (checked finite before any update)."""
    out = nets.model(batch.mel, **batch.inputs)
    terms = model_terms(nets.net, out, batch.mel, batch.labels, nets.removers, loss, metric)
    terms["total"] = model_total(terms, loss, weights, metric)
    stage2 = nets.stage2
    if stage2 is not None:
        logits = stage2.model({d: z.detach() for d, z in remover_input(out, loss).items()})
        terms.update(remover_terms(logits, batch.labels))
    finite_check(terms, ctx, where)
    nets.optimizer.zero_grad(set_to_none=True)
    terms["total"].backward()
    nets.optimizer.step()
    if stage2 is not None:
        stage2.optimizer.zero_grad(set_to_none=True)
        tensor_sum(terms[f"rem_{d}"] for d in DESCRIPTORS).backward()
        stage2.optimizer.step()
    return terms
