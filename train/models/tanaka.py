"""Paper 001 (Tanaka et al.): global timbre, frame-wise pitch and frame-wise variation, no labels.

Encoders read liftered mels (section III-C): the timbre and variation encoders the envelope of
a randomly pitch-shifted note, the pitch encoder the fine structure of a randomly
timbre-distorted one (train/perturb.py makes the perturbed mels; the liftering is here, in
torch, so it applies alike to the bank's notes, to clean notes at inference and to the
intermediate reconstruction of paper 002's re-entry). Priors are N(0, I). The decoder takes
the frame-wise latents with the global timbre tiled along time.

Towards the rest of the project the latents are flattened per note: "timbre" z_t [D_t],
"pitch" z_p [T' * D_p] and "dynamics" the variation z_v [T' * D_v] (the paper's variation holds
expressions, playstyles and volumes), so evaluation, class means, export and the engine
handle it as any model with three latents; there is no duration latent.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rtsynth.dsp.mel import mel_filterbank
from rtsynth.labels import LatentLayout
from rtsynth.settings import MelSettings
from rtsynth.train.config import ModelConfig, TanakaConfig
from rtsynth.train.models.heads import VariationalHead
from rtsynth.train.models.init import xavier_linear
from rtsynth.train.models.priors import gaussian_kl
from rtsynth.train.models.vae import VAEOutput
from rtsynth.train.perturb import lifter_cut

VARIATION = "dynamics"  # the layout slot of the frame-wise variation latent


class Lifter(nn.Module):
    """Unit mel [B, M, T] -> (envelope, fine structure) unit mels, by the real cepstrum of the
    linear-frequency log spectrum cut at the paper's quefrency.

    The mel is spread back over the STFT bins by the normalised transpose of its filterbank (a
    smooth interpolation), liftered there, and each part is taken back to a peak-normalised
    unit mel. Differentiable, so re-entry can lifter its own reconstruction.
    """

    bank: torch.Tensor  # buffers
    spread: torch.Tensor

    def __init__(self, settings: MelSettings):
        super().__init__()
        bank = np.asarray(mel_filterbank(settings), np.float32)  # [M, F]
        spread = bank.T / np.maximum(bank.sum(axis=0, keepdims=True).T, 1e-8)  # [F, M]
        self.register_buffer("bank", torch.from_numpy(bank.copy()))
        self.register_buffer("spread", torch.from_numpy(spread))
        self.cut, self.db_range = lifter_cut(settings.sample_rate), settings.db_range

    def forward(self, unit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        db = (unit - 1.0) * self.db_range
        power = self.spread @ torch.pow(10.0, db / 10.0)  # [B, F, T]
        log_amp = 0.5 * torch.log(power.clamp_min(1e-12))
        cepstrum = torch.fft.irfft(log_amp, dim=1)
        keep = torch.zeros(cepstrum.shape[1], device=unit.device)
        keep[: self.cut] = 1.0
        keep[cepstrum.shape[1] - self.cut + 1 :] = 1.0
        envelope = torch.fft.rfft(cepstrum * keep[:, None], dim=1).real[:, : log_amp.shape[1]]
        return self._unit(envelope), self._unit(log_amp - envelope)

    def _unit(self, log_amp: torch.Tensor) -> torch.Tensor:
        db = 10.0 * torch.log10((self.bank @ torch.exp(2.0 * log_amp.clamp(-30, 30))).clamp_min(1e-12))
        peak = db.amax(dim=(1, 2), keepdim=True)
        return ((db - peak) / self.db_range + 1.0).clamp(0.0, 1.0)


class FrameEncoder(nn.Module):
    """BiGRU layers over pooled frames [B, T', M] (with optional per-frame conditions before the
    last layer, as the paper's variation and conditional pitch encoders) -> frame posteriors."""

    def __init__(self, n_in: int, n_condition: int, dim: int, tanaka: TanakaConfig, model: ModelConfig):
        super().__init__()
        h = tanaka.gru_hidden
        self.first = nn.GRU(n_in, h, max(tanaka.gru_layers - 1, 1), batch_first=True, bidirectional=True)
        self.last = nn.GRU(2 * h + n_condition, h, 1, batch_first=True, bidirectional=True)
        self.head = VariationalHead(2 * h, 0, dim, (model.logvar_min, model.logvar_max), model.logvar_init)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.first(x)
        h, _ = self.last(h if condition is None else torch.cat([h, condition], dim=-1))
        return self.head(h)


class TimbreEncoder(nn.Module):
    """BiGRU layers, the mean over frames, a Gaussian layer: the global z_t.

    With `attack_frames` a second BiGRU reads the note's first frames unpooled and its mean
    joins the first's: pooled alone, the attack that names an instrument is one or two
    averaged frames."""

    def __init__(self, n_in: int, tanaka: TanakaConfig, model: ModelConfig):
        super().__init__()
        h, self.attack_frames = tanaka.gru_hidden, tanaka.attack_frames
        self.gru = nn.GRU(n_in, h, tanaka.gru_layers, batch_first=True, bidirectional=True)
        self.attack = nn.GRU(n_in, h, 1, batch_first=True, bidirectional=True) if self.attack_frames else None
        n_features = 2 * h * (2 if self.attack is not None else 1)
        self.head = VariationalHead(
            n_features, 0, tanaka.timbre_dim, (model.logvar_min, model.logvar_max), model.logvar_init
        )

    def forward(self, pooled: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pooled [B, T', M] and the unpooled frames [B, T, M] it came from."""
        h, _ = self.gru(pooled)
        features = h.mean(dim=1)
        if self.attack is not None:
            a, _ = self.attack(frames[:, : self.attack_frames])
            features = torch.cat([features, a.mean(dim=1)], -1)
        return self.head(features)


class FrameDecoder(nn.Module):
    """[z_t tiled, z_v, z_p] per pooled frame -> mel [B, M, T]: 1-D convolutions over time and a
    layer writing `time_pool` frames of every mel bin per pooled frame, through a sigmoid."""

    def __init__(self, n_latent: int, n_mels: int, tanaka: TanakaConfig, model: ModelConfig):
        super().__init__()
        c = model.hidden
        self.pool, self.n_mels = tanaka.time_pool, n_mels
        layers: list[nn.Module] = [nn.Conv1d(n_latent, c, 3, padding=1), nn.LeakyReLU()]
        for _ in range(max(model.decoder_depth, 1)):
            layers += [nn.Conv1d(c, c, 3, padding=1), nn.LeakyReLU()]
        self.net = nn.Sequential(*layers)
        self.to_mels = nn.Conv1d(c, n_mels * tanaka.time_pool, 1)
        xavier_linear(self)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        out = self.to_mels(self.net(frames.transpose(1, 2)))  # [B, M * pool, T']
        b, _, t = out.shape
        out = out.view(b, self.n_mels, self.pool, t).permute(0, 1, 3, 2).reshape(b, self.n_mels, t * self.pool)
        return torch.sigmoid(out)

    @torch.no_grad()
    def fit_output_bias(self, mels: torch.Tensor, eps: float = 1e-3) -> None:
        mean = mels.mean(dim=(0, 2)).clamp(eps, 1 - eps)
        assert self.to_mels.bias is not None  # built with bias
        self.to_mels.bias.copy_(torch.log(mean / (1 - mean)).repeat_interleave(self.pool))


class ThreeFactorVAE(nn.Module):
    prior_logvar = 0.0  # N(0, I) priors
    input_mean: torch.Tensor  # buffers
    input_std: torch.Tensor

    def __init__(self, config: ModelConfig, tanaka: TanakaConfig, settings: MelSettings, n_mels: int, n_frames: int):
        super().__init__()
        if n_frames % tanaka.time_pool:
            raise ValueError(f"{n_frames} frames are not divisible by tanaka.time_pool {tanaka.time_pool}")
        if tanaka.attack_frames > n_frames:
            raise ValueError(
                f"tanaka.attack_frames {tanaka.attack_frames} is more than the {n_frames} frames of a note"
            )
        self.variant, self.tanaka = "tanaka-3f", tanaka
        self.frames = n_frames // tanaka.time_pool
        self.dims = {"timbre": tanaka.timbre_dim, "pitch": tanaka.pitch_dim, VARIATION: tanaka.variation_dim}
        self.layout = LatentLayout.of(
            {
                "timbre": tanaka.timbre_dim,
                "pitch": self.frames * tanaka.pitch_dim,
                VARIATION: self.frames * tanaka.variation_dim,
            }
        )
        self.lifter = Lifter(settings)
        self.register_buffer("input_mean", torch.zeros(n_mels, 1))
        self.register_buffer("input_std", torch.ones(n_mels, 1))
        self.timbre = TimbreEncoder(n_mels, tanaka, config)
        self.variation = FrameEncoder(n_mels, tanaka.timbre_dim, tanaka.variation_dim, tanaka, config)
        conditional = tanaka.pitch_encoder == "conditional"
        n_condition = tanaka.timbre_dim + tanaka.variation_dim if conditional else 0
        self.pitch = FrameEncoder(n_mels, n_condition, tanaka.pitch_dim, tanaka, config)
        self.decoder = FrameDecoder(sum(self.dims.values()), n_mels, tanaka, config)

    @torch.no_grad()
    def fit_statistics(self, mels: torch.Tensor, floor: float = 1e-3) -> None:
        """Input standardisation and the decoder's output bias from the training split [N, M, T]."""
        self.input_mean.copy_(mels.mean(dim=(0, 2)).unsqueeze(1))
        self.input_std.copy_(mels.std(dim=(0, 2)).unsqueeze(1).clamp_min(floor))
        self.decoder.fit_output_bias(mels)

    def prior_means(self) -> None:
        return None

    def prior_sigma(self, descriptor: str) -> float:
        return 1.0

    def _standard(self, unit: torch.Tensor) -> torch.Tensor:
        """Standardised [B, M, T] encoder input."""
        return (unit - self.input_mean) / self.input_std

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        """Time-pooled [B, T', M] from a standardised [B, M, T]."""
        return F.avg_pool1d(x, self.tanaka.time_pool).transpose(1, 2)

    def _posteriors(
        self, envelope: torch.Tensor, fine: torch.Tensor, sample: bool
    ) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], dict[str, torch.Tensor]]:
        """Posteriors [B, D] / [B, T', D] and their draws (ancestral: z_v sees the drawn z_t)."""
        standard = self._standard(envelope)
        env, fin = self._frames(standard), self._frames(self._standard(fine))
        post: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        z: dict[str, torch.Tensor] = {}
        post["timbre"] = self.timbre(env, standard.transpose(1, 2))
        z["timbre"] = _draw(*post["timbre"], sample)
        tiled = z["timbre"].unsqueeze(1).expand(-1, self.frames, -1)
        post[VARIATION] = self.variation(env, tiled)
        z[VARIATION] = _draw(*post[VARIATION], sample)
        condition = torch.cat([tiled, z[VARIATION]], -1) if self.tanaka.pitch_encoder == "conditional" else None
        post["pitch"] = self.pitch(fin, condition)
        z["pitch"] = _draw(*post["pitch"], sample)
        return post, z

    def _decode_frames(self, z: dict[str, torch.Tensor]) -> torch.Tensor:
        tiled = z["timbre"].unsqueeze(1).expand(-1, self.frames, -1)
        return self.decoder(torch.cat([tiled, z[VARIATION], z["pitch"]], dim=-1))

    def encode(self, mel: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Clean notes (inference, paper 002's small encoder): flattened per-note posteriors."""
        envelope, fine = self.lifter(mel)
        post, _ = self._posteriors(envelope, fine, sample=False)
        return {d: (mu.flatten(1), lv.flatten(1)) for d, (mu, lv) in post.items()}

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """A flattened z [B, layout size] (timbre, pitch, variation) -> mel."""
        parts = dict(zip(self.layout.names, torch.split(z, [n for _, n in self.layout.dims], dim=1), strict=True))
        b = z.shape[0]
        return self._decode_frames(
            {
                "timbre": parts["timbre"],
                "pitch": parts["pitch"].view(b, self.frames, -1),
                VARIATION: parts[VARIATION].view(b, self.frames, -1),
            }
        )

    def classify(self, z: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {}  # unsupervised: no classifiers

    def forward(
        self,
        mel: torch.Tensor,
        sample: bool | None = None,
        shifted: torch.Tensor | None = None,
        distorted: torch.Tensor | None = None,
    ) -> VAEOutput:
        """Training: the envelope of `shifted`, the fine structure of `distorted` (clean `mel` where not given)."""
        sample = self.training if sample is None else sample
        envelope, _ = self.lifter(mel if shifted is None else shifted)
        _, fine = self.lifter(mel if distorted is None else distorted)
        if self.training and self.tanaka.input_noise > 0:
            envelope = (envelope + self.tanaka.input_noise * torch.randn_like(envelope)).clamp(0, 1)
            fine = (fine + self.tanaka.input_noise * torch.randn_like(fine)).clamp(0, 1)
        post, z = self._posteriors(envelope, fine, sample)
        return VAEOutput(
            {d: (mu.flatten(1), lv.flatten(1)) for d, (mu, lv) in post.items()},
            {d: v.flatten(1) for d, v in z.items()},
            self._decode_frames(z),
            {},
        )

    def reentry(self, first: VAEOutput, sample: bool = True) -> VAEOutput:
        """Paper 002: the same network on the first pass's reconstruction, for all its encoders."""
        envelope, fine = self.lifter(first.recon)
        post, z = self._posteriors(envelope, fine, sample)
        return VAEOutput(
            {d: (mu.flatten(1), lv.flatten(1)) for d, (mu, lv) in post.items()},
            {d: v.flatten(1) for d, v in z.items()},
            self._decode_frames(z),
            {},
        )

    def objective_terms(self, out: VAEOutput, prefix: str = "") -> dict[str, torch.Tensor]:
        """KL of every latent to N(0, I), summed over its dims and frames, mean over notes."""
        return {f"{prefix}kl_{d}": gaussian_kl(mu, lv).mean() for d, (mu, lv) in out.posteriors.items()}


def _draw(mu: torch.Tensor, logvar: torch.Tensor, sample: bool) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu


def cyclical_beta(epoch: int, cycle: int, end: float) -> float:
    """Cyclical annealing (Fu et al., the paper's schedule): β rises linearly from 0 to `end`
    over the first half of every `cycle` epochs and stays there for the second half."""
    half = max(cycle / 2.0, 1.0)
    return end * min(1.0, (epoch % cycle) / half) if cycle > 0 else end
