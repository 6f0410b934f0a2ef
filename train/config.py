"""Training configuration: one TOML file per named setup in rtsynth/configs/train/.

Every field has the default of the shipped model's recipe (md-gmvae-c-r-full: MD-GMVAE+C+R over
every pitch of GM-SOL, harmonic decoder output), so a config file only states what it changes.
The run directory keeps a copy (`dump_toml`) so a run can be resumed or evaluated without the
file it started from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rtsynth.config import ConfigError, from_dict, load_config, read_toml
from rtsynth.labels import DESCRIPTORS
from rtsynth.resources import config_file
from rtsynth.settings import sounding_level

# how `rtsynth tune-audio` compares what the synthesizer plays with the reference (train/audio.py)
AudioLossName = Literal["mel", "mel-fine", "mrstft"]

Variant = Literal["vae+c", "md-vae+c", "md-gmvae+c", "md-gmvae+c+r", "luo-gmvae", "tanaka-3f"]
VARIANTS: tuple[str, ...] = ("vae+c", "md-vae+c", "md-gmvae+c", "md-gmvae+c+r")  # paper 000's four
OTHER_PAPER_VARIANTS: tuple[str, ...] = ("luo-gmvae", "tanaka-3f")  # papers 003 and 001 (+ 002)


@dataclass(frozen=True)
class Ramp:
    """A weight that rises linearly from `start` to `end` over `epochs` epochs after `delay`.

    Bounded by construction: it never passes `end` (the reference code's remover weight
    grew without limit).
    """

    start: float = 0.0
    end: float = 1.0
    delay: int = 0
    epochs: int = 0

    def value(self, epoch: int) -> float:
        if self.epochs <= 0:
            return self.end if epoch >= self.delay else self.start
        progress = min(max((epoch - self.delay) / self.epochs, 0.0), 1.0)
        return self.start + (self.end - self.start) * progress

    @property
    def last_ramp_epoch(self) -> int:
        """First epoch at which the weight has reached `end`."""
        return self.delay + max(self.epochs, 0)


@dataclass(frozen=True)
class ModelConfig:
    """Network sizes. The defaults are the CPU-sized network (see bench/train_step.py).

    Encoder φ (train/models/encoder.py): time average-pooled by `time_pool`, a stem
    Conv2d with kernel = stride = `encoder_stem` (mel, frame), then one stride-2 3x3
    Conv2d per further entry of `encoder_channels`; `encoder_depth - 1` stride-1 3x3
    convolutions per stage; with `summary_hidden` > 0, an MLP of that width adds the mean
    of each mel bin over the note's sounding frames to h (the best-timbre recipe,
    md-gmvae-c-r-shelf-shorten). Decoder D
    (train/models/decoder.py): 1-D transposed convolutions along time, channels
    `decoder_channels`, each stage doubling the frame rate, an output layer of kernel
    `decoder_kernel` and stride `decoder_stride` onto the mel bins; `decoder_depth - 1`
    stride-1 convolutions per stage. `decoder_output` "harmonic" (shipped) writes `partials`
    partials at a pitch read from z_P by an MLP of width `pitch_hidden`, plus a noise floor
    (train/models/harmonic.py); "mel" writes the mel bins directly, as the paper does.
    """

    time_pool: int = 4
    encoder_channels: tuple[int, ...] = (16, 32, 64, 64)
    encoder_stem: tuple[int, int] = (2, 2)
    encoder_depth: int = 1
    decoder_channels: tuple[int, ...] = (128, 128, 128, 128)
    decoder_kernel: int = 4
    decoder_stride: int = 4
    decoder_depth: int = 1
    decoder_output: Literal["mel", "harmonic"] = "harmonic"
    partials: int = 64
    pitch_hidden: int = 128
    hidden: int = 256  # size of the shared feature vector h (and of the decoder's first layer)
    summary_hidden: int = 0  # width of the encoder's sounding-frame summary branch (0: none)
    head_hidden: int = 128  # hidden layer of each variational head (0: a single linear layer)
    classifier_hidden: int = 64  # C: Linear(d, 64) - LeakyReLU - Linear(64, K), as in the paper
    remover_hidden: tuple[int, ...] = (64, 64)  # R: 3-layer MLP, as in the reference code
    logvar_min: float = -8.0  # posterior log-variance is clamped softly to this range
    logvar_max: float = 4.0
    logvar_init: float = -4.0  # ... and starts here


@dataclass(frozen=True)
class LossConfig:
    """Weights of the model objective (stage 1). β and λ are ramps, see TrainConfig."""

    recon_weight: float = 1000.0  # the reconstruction terms are per-bin means
    edge_weight: float = 4.0  # extra weight on spectral edges (see losses.edge_weights)
    huber_weight: float = 1.0
    huber_delta: float = 0.1
    classifier_weight: float = 10.0
    pitch_weight: float = 10.0  # harmonic decoder: Huber loss (semitones) of the pitch it reads from z_P
    # what the removers read in both stages: "sample" (the paper) or "mean" (the posterior
    # means, where the evaluation's k-NN leakage looks)
    remover_input: Literal["sample", "mean"] = "sample"
    # > 0: also pull together, within each class of ξ, the batch means of z_ξ over the classes of
    # every other label (losses.label_spread), a non-adversarial aid to the removers; 0: off (the paper)
    spread_weight: float = 0.0


@dataclass(frozen=True)
class AugmentConfig:
    """Training-split augmentation (train/augment.py); off by default, as in the paper."""

    pitch_shift: int = 0  # shift half of each batch by up to this many semitones, relabelling their pitch (0: off)
    shorten_probability: float = 0.0  # share of each batch cut to a shorter duration class (0: off)


# -- settings of the other papers' systems (each its own table, read only by its variant) ----------


@dataclass(frozen=True)
class LuoConfig:
    """Paper 003 (Luo et al., GMVAE), the `[luo]` table that variant "luo-gmvae" requires.

    The defaults are the paper's (section 3.2): L = 16 dims per latent, constant standard
    deviations σ_p = e^-2 and σ_t = e^0 for the mixture components, two 512-filter 1-D
    convolutions of kernel 3 over time (mel bins as channels) and a 512-unit layer per
    encoder. The paper trains with 0, 25, 50, 75 and 100 % of the instrument labels and shows
    the timbre space grouping instruments from 25 % on; `label_fraction` 0.25 is that least
    supervised of its working settings (our choice among the paper's five). Ours, not the
    paper's: `time_pool`, `attack_frames` and `supervision_weight` (docs/papers.md).
    """

    latent_dim: int = 16
    pitch_log_sigma: float = -2.0
    timbre_log_sigma: float = 0.0
    encoder_channels: int = 512
    encoder_hidden: int = 512
    time_pool: int = 4  # ours: frames averaged before the encoders (the paper keeps 500 ms, 43 frames)
    attack_frames: int = 24  # ours: the first frames (0.56 s) read again unpooled (the paper: 500 ms, unpooled)
    label_fraction: float = 0.25  # share of training notes whose instrument label is used, per instrument
    label_seed: int = 0  # which notes keep their label
    supervision_weight: float = 300.0  # ours: weight of the cross-entropy of q(y_t|x) on the labelled notes

    def check(self) -> None:
        if self.latent_dim < 1 or self.encoder_channels < 1 or self.encoder_hidden < 1 or self.time_pool < 1:
            raise ConfigError("luo.latent_dim, encoder_channels, encoder_hidden and time_pool must be >= 1")
        if self.attack_frames < 0:
            raise ConfigError(f"luo.attack_frames must be >= 0, got {self.attack_frames}")
        if not 0.0 <= self.label_fraction <= 1.0:
            raise ConfigError(f"luo.label_fraction must be in [0, 1], got {self.label_fraction}")
        if self.supervision_weight < 0:
            raise ConfigError(f"luo.supervision_weight must be >= 0, got {self.supervision_weight}")


@dataclass(frozen=True)
class TanakaConfig:
    """Paper 001 (Tanaka et al., three factors without labels), the `[tanaka]` table that
    variant "tanaka-3f" requires; `reentry` and the two baselines are paper 002's.

    The defaults are the papers': D_t = 64 global timbre dims, D_v = 64 and D_p = 32 dims per
    frame, 3-layer BiGRU encoders of 2 x 800 cells, the timbre-variation independent pitch
    encoder (the better of the two), cyclical KL annealing every 10 epochs, 25 % perturbation
    dropout for the PD baseline. Ours: frames averaged by `time_pool` before the encoders
    (frame-wise latents at that rate), the timbre encoder's second BiGRU over the first
    `attack_frames` frames unpooled (the paper reads every frame unpooled) and a convolutional
    decoder (exports to ONNX and runs in real time) instead of the BiGRU one.
    """

    timbre_dim: int = 64
    variation_dim: int = 64
    pitch_dim: int = 32
    gru_hidden: int = 800
    gru_layers: int = 3
    time_pool: int = 4
    attack_frames: int = 0  # ours: z_t also reads the note's first frames unpooled (0: pooled only)
    pitch_encoder: Literal["independent", "conditional"] = "independent"
    kl_cycle: int = 10  # epochs per annealing cycle: β rises to beta.end over its first half (0: the beta ramp)
    reentry: bool = False  # paper 002: the network applied twice in series, shared weights
    reentry_weight: float = 1.0  # weight of the second pass's objective beside the first's
    perturbation_dropout: float = 0.0  # paper 002's PD baseline (0.25): share of notes fed unperturbed
    input_noise: float = 0.0  # paper 002's RN baseline: std of white noise on the encoders' unit mels (ours)

    def check(self) -> None:
        sizes = (self.timbre_dim, self.variation_dim, self.pitch_dim, self.gru_hidden, self.gru_layers, self.time_pool)
        if min(sizes) < 1:
            raise ConfigError("tanaka dims, gru_hidden, gru_layers and time_pool must be >= 1")
        if not 0.0 <= self.perturbation_dropout <= 1.0 or self.input_noise < 0 or self.reentry_weight < 0:
            raise ConfigError("tanaka.perturbation_dropout must be in [0, 1], input_noise and reentry_weight >= 0")
        if self.attack_frames < 0:
            raise ConfigError(f"tanaka.attack_frames must be >= 0, got {self.attack_frames}")
        if self.kl_cycle < 0:
            raise ConfigError(f"tanaka.kl_cycle must be >= 0 (0: the beta ramp), got {self.kl_cycle}")


@dataclass(frozen=True)
class MetricConfig:
    """Paper 004's pairwise metric learning, an option of every variant (`[metric]`, off by default).

    Pairs of notes in a batch: their posterior means in latent ξ are pulled together when the
    notes share ξ's label and pushed at least `margin` apart otherwise. Only same/different
    is used, never the class itself, as in the paper.
    """

    weight: float = 0.0  # 0: off
    margin: float = 1.0  # ours: the paper's "−D12" has no bound; a hinge at this distance gives one
    latents: tuple[str, ...] = ("timbre", "pitch")  # the paper's two

    def check(self) -> None:
        if self.weight < 0 or self.margin <= 0:
            raise ConfigError(f"metric.weight must be >= 0 and metric.margin > 0, got {self.weight}, {self.margin}")
        unknown = [d for d in self.latents if d not in DESCRIPTORS]
        if unknown:
            raise ConfigError(f"metric.latents {unknown} are not descriptors; use some of {list(DESCRIPTORS)}")


PAPER_FIELDS = {
    "luo": "paper 003: latent_dim, pitch_log_sigma, timbre_log_sigma, label_fraction, ...",
    "tanaka": "paper 001: timbre_dim, variation_dim, pitch_dim, gru_hidden, ...",
}


@dataclass(frozen=True)
class TrainConfig:
    variant: Variant = "md-gmvae+c+r"
    cache: str = "cache/gm-sol-full"
    seed: int = 0
    batch_size: int = 64  # global: split evenly across data-parallel processes
    lr: float = 1e-3
    max_epochs: int = 200
    patience: int = 25  # early stopping, epochs without a better validation loss
    plateau_patience: int = 10
    plateau_factor: float = 0.5
    min_lr: float = 1e-5
    # > 0: validate, keep and evaluate an exponential moving average of the weights with this
    # decay per step (train/averaging.py); 0: the weights of the last step, as in the paper
    weight_average: float = 0.0
    device: Literal["cpu", "cuda"] = "cpu"
    num_threads: int = 0  # torch threads per process; 0: all cores shared among processes
    beta: Ramp = field(default_factory=lambda: Ramp(start=0.0, end=1.0, delay=0, epochs=20))
    remover_weight: Ramp = field(default_factory=lambda: Ramp(start=0.0, end=1.0, delay=5, epochs=20))
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    luo: LuoConfig | None = None  # paper 003's settings; required by variant "luo-gmvae"
    tanaka: TanakaConfig | None = None  # paper 001's (and 002's) settings; required by variant "tanaka-3f"
    metric: MetricConfig = field(default_factory=MetricConfig)

    def __post_init__(self) -> None:
        self._check_papers()
        if self.batch_size < 1 or self.max_epochs < 1 or self.lr <= 0:
            raise ConfigError("batch_size, max_epochs and lr must be positive")
        if not 0.0 <= self.weight_average < 1.0:
            raise ConfigError(f"weight_average must be in [0, 1) (0: off), got {self.weight_average}")
        if self.loss.spread_weight < 0:
            raise ConfigError(f"loss.spread_weight must be >= 0 (0: off), got {self.loss.spread_weight}")
        a = self.augment
        if a.pitch_shift < 0:
            raise ConfigError(f"augment.pitch_shift must be >= 0 (0: off), got {a.pitch_shift}")
        if not 0.0 <= a.shorten_probability <= 1.0:
            raise ConfigError(f"augment.shorten_probability must be in [0, 1] (0: off), got {a.shorten_probability}")
        m = self.model
        if min(m.encoder_depth, m.decoder_depth, m.time_pool, *m.encoder_stem) < 1:
            raise ConfigError("model depths, time_pool and encoder_stem must be >= 1")
        if m.partials < 1 or m.pitch_hidden < 1:
            raise ConfigError("model.partials and model.pitch_hidden must be >= 1")
        if m.summary_hidden < 0:
            raise ConfigError("model.summary_hidden must be >= 0 (0: no summary branch)")
        if not m.encoder_channels or not m.decoder_channels:
            raise ConfigError("model.encoder_channels and model.decoder_channels must not be empty")
        k, s = m.decoder_kernel, m.decoder_stride
        if s < 1 or k < s or (k - s) % 2:
            raise ConfigError(
                f"model.decoder_kernel {k} must be >= model.decoder_stride {s} >= 1 "
                "and differ from it by an even number"
            )

    def _check_papers(self) -> None:
        """A variant of another paper needs its own table: its settings are the paper's."""
        tables = {
            "luo-gmvae": ("luo", self.luo, PAPER_FIELDS["luo"]),
            "tanaka-3f": ("tanaka", self.tanaka, PAPER_FIELDS["tanaka"]),
        }
        if self.variant in tables:
            name, table, fields = tables[self.variant]
            if table is None:
                raise ConfigError(
                    f'variant "{self.variant}" needs its [{name}] table ({fields}); '
                    f"write at least `[{name}]` to take the paper's values"
                )
            table.check()
            if self.model.decoder_output != "mel":
                raise ConfigError(f'variant "{self.variant}" decodes mels: set model.decoder_output = "mel"')
        self.metric.check()

    def luo_table(self) -> LuoConfig:
        """The [luo] table, which variant "luo-gmvae" always has (checked when the config is made)."""
        if self.luo is None:
            raise ConfigError(f'variant "{self.variant}" has no [luo] table')
        return self.luo

    def tanaka_table(self) -> TanakaConfig:
        """The [tanaka] table, which variant "tanaka-3f" always has (checked when the config is made)."""
        if self.tanaka is None:
            raise ConfigError(f'variant "{self.variant}" has no [tanaka] table')
        return self.tanaka

    @property
    def uses_removers(self) -> bool:
        return self.variant == "md-gmvae+c+r"

    @property
    def warmup_epochs(self) -> int:
        """Epochs before β and λ reach their final values; early stopping waits for them."""
        return max(self.beta.last_ramp_epoch, self.remover_weight.last_ramp_epoch if self.uses_removers else 0)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_config(path: str | Path) -> TrainConfig:
    """The config at `path`, or the packaged one of that name (`md-gmvae-c-r`, `tiny`)."""
    return load_config(TrainConfig, config_file(path, "train"))


def read_run_config(path: str | Path) -> TrainConfig:
    """The config a run wrote into its folder (`config.toml`), including runs made before a
    field was retired."""
    try:
        return config_from_dict(read_toml(Path(path)))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


# Fields retired once their experiments were decided (docs/results.md keeps the results and the
# commits that measured them). A config stored by an earlier run, checkpoint or bundle still loads
# when it holds the value that stayed; any other value is refused by name.
RETIRED: dict[tuple[str, str], object] = {
    ("model", "summary_level"): sounding_level(),
    ("model", "dropout"): 0.0,
    ("augment", "pitch_shift_probability"): 0.5,
}


def config_from_dict(data: dict) -> TrainConfig:
    """A config stored by a run, checkpoint or bundle (every field written out)."""
    tables = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for (table, key), kept in RETIRED.items():
        section = tables.get(table)
        if isinstance(section, dict) and key in section and section.pop(key) != kept:
            raise ConfigError(f"{table}.{key} was retired; runs with a value other than {kept!r} load no more")
    model = tables.get("model")
    if isinstance(model, dict):
        model.setdefault("decoder_output", "mel")  # stored before the harmonic output existed
    return from_dict(TrainConfig, tables)


def dump_toml(config: TrainConfig) -> str:
    """TOML text that `read_config` reads back into an equal config."""
    top, tables = [], []
    for key, value in config.to_dict().items():
        if value is None:
            continue
        if isinstance(value, dict):
            body = "\n".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
            tables.append(f"[{key}]\n{body}\n")
        else:
            top.append(f"{key} = {_toml_value(value)}")
    return "\n".join(top) + "\n\n" + "\n".join(tables)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
