"""Paper 003 (Luo, Agres, Herremans): a GMVAE with a timbre and a pitch latent.

Two encoders (mel bins as channels, 1-D convolutions over time, a dense layer, a Gaussian
layer) and one shared decoder. Both latents have Gaussian-mixture priors with learnable
means and constant standard deviations. Pitch labels are always known: z_p's KL is taken to
the component of the note's pitch. Instrument labels are only partly known (semi-supervised):
q(y_t|x) is read from the mixture itself, E_q(z_t|x)[p(y_t|z_t)] with one sample, and the
objective holds the expected KL of z_t over q(y_t|x), KL(q(y_t|x) || uniform) and, for the
labelled notes, the cross-entropy of q(y_t|x) (eq. 2 and section 3.3).
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rtsynth.labels import LatentLayout
from rtsynth.train.config import LuoConfig, ModelConfig
from rtsynth.train.models.decoder import Decoder
from rtsynth.train.models.heads import VariationalHead
from rtsynth.train.models.init import xavier_linear
from rtsynth.train.models.priors import GaussianMixturePrior, gaussian_kl
from rtsynth.train.models.vae import VAEOutput

LATENTS = ("timbre", "pitch")
UNLABELLED = -1  # an instrument label the semi-supervised setting hides


class TimeConvEncoder(nn.Module):
    """mel [B, M, T] (standardised) -> (mu, logvar) of one L-dim latent.

    The whole note is read pooled in time and its first `attack_frames` again at full
    resolution: pooled alone, the attack that names an instrument was one or two averaged
    frames (the paper reads only the first 500 ms, unpooled; we keep the whole note, whose
    length the decoder must know)."""

    def __init__(self, luo: LuoConfig, model: ModelConfig, n_mels: int, n_frames: int):
        super().__init__()
        if n_frames % luo.time_pool:
            raise ValueError(f"{n_frames} frames are not divisible by luo.time_pool {luo.time_pool}")
        if luo.attack_frames > n_frames:
            raise ValueError(f"luo.attack_frames {luo.attack_frames} is more than the {n_frames} frames of a note")
        c, self.attack_frames = luo.encoder_channels, luo.attack_frames
        self.whole = _conv_stack(nn.AvgPool1d(luo.time_pool), n_mels, c)
        self.attack = _conv_stack(nn.Identity(), n_mels, c) if self.attack_frames else None
        self.dense = nn.Sequential(
            nn.Linear(c * (n_frames // luo.time_pool + self.attack_frames), luo.encoder_hidden), nn.LeakyReLU()
        )
        xavier_linear(self)
        self.head = VariationalHead(
            luo.encoder_hidden, 0, luo.latent_dim, (model.logvar_min, model.logvar_max), model.logvar_init
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.whole(x)
        if self.attack is not None:
            h = torch.cat([h, self.attack(x[..., : self.attack_frames])], -1)
        return self.head(self.dense(h))


def _conv_stack(pool: nn.Module, n_mels: int, c: int) -> nn.Sequential:
    """Two 1-D convolutions over time, mel bins as channels (section 2.3), flattened."""
    return nn.Sequential(
        pool,
        nn.Conv1d(n_mels, c, 3, padding=1),
        nn.LeakyReLU(),
        nn.Conv1d(c, c, 3, padding=1),
        nn.LeakyReLU(),
        nn.Flatten(),
    )


def mixture_logits(z: torch.Tensor, means: torch.Tensor, logvar: float) -> torch.Tensor:
    """log p(y=k | z) up to a constant under a uniform p(y): -|z - μ_k|² / 2σ² [B, K]."""
    return -0.5 * torch.cdist(z, means).pow(2) / math.exp(logvar)


class LuoGMVAE(nn.Module):
    input_mean: torch.Tensor  # buffers
    input_std: torch.Tensor

    def __init__(self, vocab_sizes: dict[str, int], config: ModelConfig, luo: LuoConfig, n_mels: int, n_frames: int):
        super().__init__()
        self.variant = "luo-gmvae"
        self.vocab_sizes = {d: int(vocab_sizes[d]) for d in vocab_sizes}
        self.layout = LatentLayout.of(dict.fromkeys(LATENTS, luo.latent_dim))
        self.logvars = {"timbre": 2.0 * luo.timbre_log_sigma, "pitch": 2.0 * luo.pitch_log_sigma}
        self.register_buffer("input_mean", torch.zeros(n_mels, 1))
        self.register_buffer("input_std", torch.ones(n_mels, 1))
        self.encoders = nn.ModuleDict({d: TimeConvEncoder(luo, config, n_mels, n_frames) for d in LATENTS})
        self.priors = nn.ModuleDict(
            {d: GaussianMixturePrior(self.vocab_sizes[d], luo.latent_dim, self.logvars[d]) for d in LATENTS}
        )
        self.decoder = Decoder(config, self.layout.size, n_mels, n_frames)

    @torch.no_grad()
    def fit_statistics(self, mels: torch.Tensor, floor: float = 1e-3) -> None:
        """Input standardisation and the decoder's output bias from the training split [N, M, T]."""
        self.input_mean.copy_(mels.mean(dim=(0, 2)).unsqueeze(1))
        self.input_std.copy_(mels.std(dim=(0, 2)).unsqueeze(1).clamp_min(floor))
        self.decoder.fit_output_bias(mels)

    def encode(self, mel: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        x = (mel - self.input_mean) / self.input_std
        return {d: self.encoders[d](x) for d in LATENTS}

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def classify(self, z: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """log q(y|x) of each latent, read from its mixture (no classifier network)."""
        return {d: F.log_softmax(mixture_logits(z[d], self._prior(d).means, self.logvars[d]), -1) for d in LATENTS}

    def prior_means(self) -> dict[str, torch.Tensor]:
        return {d: self._prior(d).means for d in LATENTS}

    def _prior(self, descriptor: str) -> GaussianMixturePrior:
        return cast(GaussianMixturePrior, self.priors[descriptor])

    def prior_sigma(self, descriptor: str) -> float:
        """σ of a latent's mixture components (1 for a descriptor without a latent: unused)."""
        return math.exp(0.5 * self.logvars.get(descriptor, 0.0))

    def forward(self, mel: torch.Tensor, sample: bool | None = None) -> VAEOutput:
        posteriors = self.encode(mel)
        sample = self.training if sample is None else sample
        z = {d: mu + torch.randn_like(mu) * torch.exp(0.5 * lv) if sample else mu for d, (mu, lv) in posteriors.items()}
        return VAEOutput(posteriors, z, self.decode(torch.cat([z[d] for d in LATENTS], -1)), self.classify(z))

    def objective_terms(self, out: VAEOutput, labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The KL terms of eq. 2 and the semi-supervised cross-entropy, each a batch mean."""
        mu_p, lv_p = out.posteriors["pitch"]
        mu_t, lv_t = out.posteriors["timbre"]
        prior_t = self._prior("timbre")
        log_q = out.logits["timbre"]  # [B, K]
        q = log_q.exp()
        kl_each = gaussian_kl(mu_t.unsqueeze(1), lv_t.unsqueeze(1), prior_t.means.unsqueeze(0), prior_t.logvar)
        known = labels["timbre"] != UNLABELLED
        picked = log_q.gather(1, labels["timbre"].clamp_min(0).unsqueeze(1)).squeeze(1)
        return {
            "kl_pitch": self._prior("pitch").kl(mu_p, lv_p, labels["pitch"]).mean(),
            "kl_timbre": (q * kl_each).sum(1).mean(),
            "kl_y_timbre": (q * (log_q + math.log(q.shape[1]))).sum(1).mean(),
            "sup_timbre": -(picked * known).sum() / known.sum().clamp_min(1),
        }


def hide_labels(timbre: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """A copy of the instrument labels [n] with all but `fraction` of each instrument's notes
    set to UNLABELLED, so the labelled share follows the instrument distribution (section 3.3)."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.full_like(timbre, UNLABELLED)
    for k in torch.unique(timbre):
        rows = torch.nonzero(timbre == k).squeeze(1)
        keep = rows[torch.randperm(len(rows), generator=generator)[: round(fraction * len(rows))]]
        out[keep] = k
    return out
