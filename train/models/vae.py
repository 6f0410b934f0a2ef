"""NoteVAE: the four variants of Dal Rí et al. behind one switch.

- "vae+c":        one 20-dim posterior, N(0, I) prior, every classifier sees the whole z
- "md-vae+c":     four posteriors (T 8, P 4, V 4, D 4), N(0, I) priors, C_ξ on z_ξ
- "md-gmvae+c":   as md-vae+c with Gaussian-mixture priors (a learnable mean per class)
- "md-gmvae+c+r": as md-gmvae+c, trained with the removers (train.models.Removers)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, cast

import torch
from torch import nn

from rtsynth.labels import DESCRIPTORS, LATENT_DIMS, LATENT_SIZE, STANDARD_LAYOUT, latent_slices
from rtsynth.train.config import ModelConfig, TrainConfig
from rtsynth.train.models.decoder import Decoder
from rtsynth.train.models.encoder import FeatureExtractor
from rtsynth.train.models.harmonic import HarmonicSetup
from rtsynth.train.models.heads import VariationalHead, classifier
from rtsynth.train.models.priors import GaussianMixturePrior, gaussian_kl

if TYPE_CHECKING:
    from rtsynth.train.models.luo import LuoGMVAE
    from rtsynth.train.models.tanaka import ThreeFactorVAE

JOINT = "joint"  # name of the single head of "vae+c"

NoteModel: TypeAlias = "NoteVAE | LuoGMVAE | ThreeFactorVAE"  # what build_model makes, by variant


@dataclass
class VAEOutput:
    posteriors: dict[str, tuple[torch.Tensor, torch.Tensor]]  # descriptor -> (mu, logvar)
    z: dict[str, torch.Tensor]  # descriptor -> latent fed to decoder and classifiers
    recon: torch.Tensor  # [B, M, T] in [0, 1]
    logits: dict[str, torch.Tensor]  # descriptor -> [B, K]
    pitch: torch.Tensor | None = None  # [B] MIDI the harmonic decoder sounds at the posterior means


class NoteVAE(nn.Module):
    prior_logvar: float = 0.0  # fixed unit variance of every prior component
    layout = STANDARD_LAYOUT

    def __init__(
        self,
        variant: str,
        vocab_sizes: dict[str, int],
        config: ModelConfig,
        n_mels: int = 256,
        n_frames: int = 256,
        harmonic: HarmonicSetup | None = None,
    ):
        super().__init__()
        self.variant = variant
        self.vocab_sizes = {d: int(vocab_sizes[d]) for d in DESCRIPTORS}
        self.multi = variant != "vae+c"
        range_ = (config.logvar_min, config.logvar_max)
        lv0 = config.logvar_init
        self.features = FeatureExtractor(config, n_mels, n_frames)
        head_dims = LATENT_DIMS if self.multi else {JOINT: LATENT_SIZE}
        self.heads = nn.ModuleDict(
            {
                name: VariationalHead(config.hidden, config.head_hidden, dim, range_, lv0)
                for name, dim in head_dims.items()
            }
        )
        self.priors = (
            nn.ModuleDict(
                {d: GaussianMixturePrior(self.vocab_sizes[d], LATENT_DIMS[d], self.prior_logvar) for d in DESCRIPTORS}
            )
            if variant.startswith("md-gmvae")
            else None
        )
        cls_in = LATENT_DIMS if self.multi else dict.fromkeys(DESCRIPTORS, LATENT_SIZE)
        self.classifiers = nn.ModuleDict(
            {d: classifier(cls_in[d], config.classifier_hidden, self.vocab_sizes[d]) for d in DESCRIPTORS}
        )
        self.decoder = Decoder(config, LATENT_SIZE, n_mels, n_frames, harmonic)

    def fit_statistics(self, mels: torch.Tensor) -> None:
        """Input standardisation and the decoder's output bias from the training split [N, M, T]."""
        self.features.fit_input_statistics(mels)
        self.decoder.fit_output_bias(mels)

    def prior_sigma(self, descriptor: str) -> float:
        return math.exp(0.5 * self.prior_logvar)

    def encode(self, mel: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        h = self.features(mel)
        if self.multi:
            return {d: self.heads[d](h) for d in DESCRIPTORS}
        mu, logvar = self.heads[JOINT](h)
        return {d: (mu[:, s], logvar[:, s]) for d, s in latent_slices().items()}

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def classify(self, z: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.multi:
            return {d: self.classifiers[d](z[d]) for d in DESCRIPTORS}
        joint = concat(z)
        return {d: self.classifiers[d](joint) for d in DESCRIPTORS}

    def prior_means(self) -> dict[str, torch.Tensor] | None:
        return None if self.priors is None else {d: self._prior(d).means for d in DESCRIPTORS}

    def _prior(self, descriptor: str) -> GaussianMixturePrior:
        assert self.priors is not None
        return cast(GaussianMixturePrior, self.priors[descriptor])

    def kl(
        self, posteriors: dict[str, tuple[torch.Tensor, torch.Tensor]], labels: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Per-note KL of each descriptor's posterior to its prior [B]."""
        if self.priors is None:
            return {d: gaussian_kl(mu, lv, 0.0, self.prior_logvar) for d, (mu, lv) in posteriors.items()}
        return {d: self._prior(d).kl(mu, lv, labels[d]) for d, (mu, lv) in posteriors.items()}

    def forward(self, mel: torch.Tensor, sample: bool | None = None) -> VAEOutput:
        """Encode, draw z (posterior mean when not sampling), decode and classify.

        `sample` defaults to `self.training`: training uses the reparameterised sample,
        validation and evaluation the posterior mean.
        """
        posteriors = self.encode(mel)
        sample = self.training if sample is None else sample
        z = {d: mu + torch.randn_like(mu) * torch.exp(0.5 * lv) if sample else mu for d, (mu, lv) in posteriors.items()}
        # the pitch reader learns from posterior means: the points the synth plays from, free of
        # the sampling noise that would blur its map into the average of neighbouring pitches
        means = concat({d: mu for d, (mu, _) in posteriors.items()})
        return VAEOutput(posteriors, z, self.decode(concat(z)), self.classify(z), self.decoder.sounding_pitch(means))


def concat(z: dict[str, torch.Tensor]) -> torch.Tensor:
    """z_S = z_T ⊕ z_P ⊕ z_V ⊕ z_D."""
    return torch.cat([z[d] for d in DESCRIPTORS], dim=-1)


def build_model(
    config: TrainConfig,
    vocab_sizes: dict[str, int],
    n_mels: int = 256,
    n_frames: int = 256,
    harmonic: HarmonicSetup | None = None,
) -> NoteModel:
    """The config's variant; `harmonic` (the dataset's mel settings and pitch classes) is needed
    by decoder_output "harmonic"."""
    if config.variant == "luo-gmvae":
        from rtsynth.train.models.luo import LuoGMVAE

        return LuoGMVAE(vocab_sizes, config.model, config.luo_table(), n_mels, n_frames)
    if config.variant == "tanaka-3f":
        from rtsynth.train.models.tanaka import ThreeFactorVAE

        if harmonic is None:
            raise ValueError('variant "tanaka-3f" needs the dataset\'s mel settings (its liftering works on them)')
        return ThreeFactorVAE(config.model, config.tanaka_table(), harmonic.mel_settings, n_mels, n_frames)
    return NoteVAE(config.variant, vocab_sizes, config.model, n_mels, n_frames, harmonic)
