"""Loss terms of Dal Rí et al., each returned under its own name so a divergence can be named.

Stage 1 (model): reconstruction (edge-weighted MSE + Huber), β·KL to the prior component
of the known label, classifier cross-entropy, and λ·KL(uniform || R_ξ(z_¬ξ)) against
frozen removers; with the harmonic decoder, the error of the pitch it reads from z_P;
optionally the spread of z_ξ's means across the other labels (`label_spread`).
Stage 2 (removers only): cross-entropy of R_ξ on detached latents.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from rtsynth.labels import DESCRIPTORS
from rtsynth.train.config import LossConfig, MetricConfig
from rtsynth.train.models import NoteModel, Removers, VAEOutput
from rtsynth.train.models.luo import LuoGMVAE
from rtsynth.train.models.tanaka import ThreeFactorVAE


@dataclass(frozen=True)
class Weights:
    """The scalar weights of one epoch (β and λ follow their ramps)."""

    beta: float
    remover: float
    supervision: float = 0.0  # paper 003: weight of the cross-entropy of q(y_t|x) on labelled notes
    reentry: float = 0.0  # paper 002: weight of the second pass's objective


def edge_weights(target: torch.Tensor, strength: float) -> torch.Tensor:
    """1 + strength · local gradient magnitude of the target mel [B, M, T].

    "Edge-weighted" here means: bins where the target changes fast along frequency
    (harmonic peaks and formant flanks) or along time (onsets, note ends) weigh more, so
    the reconstruction does not blur the structure that carries pitch, timbre and
    duration into a smooth average. Central differences, zero at the borders.
    """
    df = torch.zeros_like(target)
    dt = torch.zeros_like(target)
    df[:, 1:-1] = (target[:, 2:] - target[:, :-2]).abs() * 0.5
    dt[:, :, 1:-1] = (target[:, :, 2:] - target[:, :, :-2]).abs() * 0.5
    return 1.0 + strength * (df + dt)


def reconstruction(recon: torch.Tensor, target: torch.Tensor, config: LossConfig) -> dict[str, torch.Tensor]:
    weights = edge_weights(target, config.edge_weight)
    # normalised per note, then a plain mean over notes: the same number whether a batch is
    # processed whole or split across data-parallel processes
    per_note = (weights * (recon - target) ** 2).sum(dim=(1, 2)) / weights.sum(dim=(1, 2))
    weighted_mse = per_note.mean()
    huber = F.huber_loss(recon, target, delta=config.huber_delta)
    return {"recon_edge_mse": weighted_mse, "recon_huber": huber}


def tensor_sum(values: Iterable[torch.Tensor]) -> torch.Tensor:
    """The sum of one or more tensors, typed as a tensor (the builtin sum may return its start, 0)."""
    return functools.reduce(operator.add, values)


def uniform_kl(logits: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(U || softmax(logits)), U uniform over the K classes."""
    k = logits.shape[-1]
    return -math.log(k) - F.log_softmax(logits, dim=-1).mean(dim=-1).mean()


def model_terms(
    model: NoteModel,
    out: VAEOutput,
    mel: torch.Tensor,
    labels: dict[str, torch.Tensor],
    removers: Removers | None,
    config: LossConfig,
    metric: MetricConfig | None = None,
) -> dict[str, torch.Tensor]:
    """Every unweighted stage-1 term, each a scalar mean over the batch.

    `model` and `removers` are the bare modules (not DDP wrappers); the removers are
    called with detached parameters, i.e. frozen, as stage 1 requires.
    """
    terms = reconstruction(out.recon, mel, config)
    if metric is not None and metric.weight > 0:
        terms.update(contrastive_terms(out, labels, metric))
    if isinstance(model, LuoGMVAE):
        terms.update(model.objective_terms(out, labels))
        return terms
    if isinstance(model, ThreeFactorVAE):
        terms.update(model.objective_terms(out))
        if model.tanaka.reentry and model.training:
            second = model.reentry(out)
            terms.update({f"re_{k}": v for k, v in reconstruction(second.recon, mel, config).items()})
            terms.update(model.objective_terms(second, prefix="re_"))
        return terms
    for d, kl in model.kl(out.posteriors, labels).items():
        terms[f"kl_{d}"] = kl.mean()
    for d, logits in out.logits.items():
        terms[f"cls_{d}"] = F.cross_entropy(logits, labels[d])
    if out.pitch is not None:
        terms["pitch_semitones"] = F.huber_loss(out.pitch, model.decoder.class_pitch(labels["pitch"]), delta=1.0)
    if config.spread_weight > 0:
        for d, spread in label_spreads(out, labels, model.vocab_sizes).items():
            terms[f"spread_{d}"] = spread
    if removers is not None:
        frozen = {k: v.detach() for k, v in removers.named_parameters()}
        for d, logits in functional_call(removers, frozen, (remover_input(out, config),)).items():
            terms[f"adv_{d}"] = uniform_kl(logits)
    return terms


def label_spread(mu: torch.Tensor, own: torch.Tensor, other: torch.Tensor, other_classes: int) -> torch.Tensor:
    """Mean over the notes of |m(own, other) − m(own)|², m being the batch mean of `mu` [B, dim]
    over the notes that share those labels.

    Zero when, inside every class of the latent's own label, each class of the other label
    has the same mean: nothing of the other label is left for a neighbour search to find.
    Groups of one note also pull it towards its class mean, a mild extra shrinkage.
    """

    def group_means(groups: torch.Tensor) -> torch.Tensor:
        _, groups = torch.unique(groups, return_inverse=True)
        sums = mu.new_zeros(int(groups.max()) + 1, mu.shape[1]).index_add(0, groups, mu)
        counts = torch.bincount(groups).unsqueeze(1).to(mu.dtype)
        return (sums / counts)[groups]

    return (group_means(own * other_classes + other) - group_means(own)).pow(2).sum(dim=1).mean()


def label_spreads(
    out: VAEOutput, labels: dict[str, torch.Tensor], vocab_sizes: dict[str, int]
) -> dict[str, torch.Tensor]:
    """For each latent z_ξ (posterior means), `label_spread` summed over the three other labels.

    Under DDP each process measures its own share of the batch: smaller groups, the same aim.
    """
    return {
        d: tensor_sum(label_spread(mu, labels[d], labels[o], vocab_sizes[o]) for o in DESCRIPTORS if o != d)
        for d, (mu, _) in out.posteriors.items()
    }


def remover_input(out: VAEOutput, config: LossConfig) -> dict[str, torch.Tensor]:
    """What the removers read: the sampled latents (the paper) or the posterior means, which
    are what the k-NN leakage of the evaluation reads."""
    if config.remover_input == "mean":
        return {d: mu for d, (mu, _) in out.posteriors.items()}
    return out.z


def remover_terms(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Stage 2: cross-entropy of each remover R_ξ (run on detached latents)."""
    return {f"rem_{d}": F.cross_entropy(logits[d], labels[d]) for d in DESCRIPTORS}


def accuracies(
    logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor], prefix: str
) -> dict[str, torch.Tensor]:
    return {f"{prefix}_{d}": (x.argmax(dim=-1) == labels[d]).float().mean() for d, x in logits.items()}


def pairwise_contrastive(mu: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Paper 004's pairwise loss on one latent [B, d]: the mean over pairs of distinct notes of
    |z_i - z_j|² where they share the label, max(0, margin - |z_i - z_j|)² where not.

    Only whether two labels agree is used. Notes whose label is hidden (negative) take no part.
    """
    known = labels >= 0
    mu, labels = mu[known], labels[known]
    n = len(mu)
    if n < 2:
        return mu.sum() * 0.0
    distance = torch.cdist(mu, mu)
    same = (labels.unsqueeze(0) == labels.unsqueeze(1)).float()
    pair = 1.0 - torch.eye(n, device=mu.device)
    loss = same * distance.pow(2) + (1.0 - same) * F.relu(margin - distance).pow(2)
    return (loss * pair).sum() / pair.sum()


def contrastive_terms(out: VAEOutput, labels: dict[str, torch.Tensor], metric: MetricConfig) -> dict[str, torch.Tensor]:
    """`pairwise_contrastive` on the posterior means of each latent the config names and the model has."""
    return {
        f"metric_{d}": pairwise_contrastive(out.posteriors[d][0], labels[d], metric.margin)
        for d in metric.latents
        if d in out.posteriors
    }


def model_total(
    terms: dict[str, torch.Tensor], config: LossConfig, weights: Weights, metric: MetricConfig | None = None
) -> torch.Tensor:
    """Stage-1 objective: the weighted sum of `model_terms` (the terms a variant has)."""
    total = config.recon_weight * (terms["recon_edge_mse"] + config.huber_weight * terms["recon_huber"])
    if "pitch_semitones" in terms:
        total = total + config.pitch_weight * terms["pitch_semitones"]
    if "sup_timbre" in terms:  # paper 003: the KL of q(y_t|x) and its supervision on the labelled notes
        total = total + weights.beta * terms["kl_y_timbre"] + weights.supervision * terms["sup_timbre"]
    if "re_recon_edge_mse" in terms:  # paper 002: the second pass, weighted as the first
        second = terms["re_recon_edge_mse"] + config.huber_weight * terms["re_recon_huber"]
        kl = sum(terms[f"re_kl_{d}"] for d in DESCRIPTORS if f"re_kl_{d}" in terms)
        total = total + weights.reentry * (config.recon_weight * second + weights.beta * kl)
    for d in DESCRIPTORS:
        if f"metric_{d}" in terms and metric is not None:
            total = total + metric.weight * terms[f"metric_{d}"]
        if f"kl_{d}" in terms:
            total = total + weights.beta * terms[f"kl_{d}"]
        if f"cls_{d}" in terms:
            total = total + config.classifier_weight * terms[f"cls_{d}"]
        if f"adv_{d}" in terms:
            total = total + weights.remover * terms[f"adv_{d}"]
        if f"spread_{d}" in terms:
            total = total + config.spread_weight * terms[f"spread_{d}"]
    return total
