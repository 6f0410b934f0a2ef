"""Paper 001's random perturbation and cepstral liftering, computed into a bank beside a cache.

The encoders of the three-factor model never see the clean mel (section III-C):
- f(X), read by the timbre and variation encoders: the note randomly pitch-shifted by
  L in [-7, 7] semitones, then its spectral envelope (low quefrencies);
- g(X), read by the pitch encoder: the note with two of the paper's nine pedalboard effects
  (Chorus, Distortion, Phaser, LadderFilter, HighpassFilter, LowpassFilter, Reverb,
  GSMFullRateCompressor, Bitcrush; their default settings) picked at random, then its fine
  structure (high quefrencies).
The liftering cut sits at the paper's quefrency: its 100th cepstral coefficient at 44.1 kHz,
2.27 ms, which is the 50th at the caches' 22.05 kHz.

The paper perturbs on the fly; a cache keeps mels only, so each note's audio is vocoded from
its mel once and `variants` random perturbations are drawn per note (our choice: a bank of
fixed draws, sampled anew every batch, instead of fresh draws, which would cost the CPU
more than the training step). Written as float16 arrays [N, variants, n_mels, n_frames].
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rtsynth.dsp.mel import mel_filterbank, power_to_unit
from rtsynth.settings import MelSettings

log = logging.getLogger(__name__)

BANK_DIR = "perturbation"
EFFECTS = (
    "Chorus",
    "Distortion",
    "Phaser",
    "LadderFilter",
    "HighpassFilter",
    "LowpassFilter",
    "Reverb",
    "GSMFullRateCompressor",
    "Bitcrush",
)
PAPER_QUEFRENCY_S = 100 / 44100  # the paper's cut: coefficient 100 at 44.1 kHz


@dataclass(frozen=True)
class PerturbSettings:
    variants: int = 2
    max_shift: int = 7  # semitones, either way
    effects_per_note: int = 2
    seed: int = 0

    def check(self) -> None:
        if self.variants < 1 or self.max_shift < 0 or not 1 <= self.effects_per_note <= len(EFFECTS):
            raise ValueError(f"perturbation settings out of range: {self}")


def lifter_cut(sample_rate: int) -> int:
    """Cepstral coefficients kept in the envelope: the paper's quefrency at this rate."""
    return max(1, round(PAPER_QUEFRENCY_S * sample_rate))


def lifter(log_amplitude: np.ndarray, cut: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-amplitude spectra [F, T] -> (envelope, fine structure), both [F, T], summing to the input.

    The real cepstrum of each frame (the inverse FFT of its even log spectrum) is split at `cut`:
    quefrencies below it are the envelope, the rest the fine (harmonic) structure.
    """
    n_bins = log_amplitude.shape[0]
    cepstrum = np.fft.irfft(log_amplitude, axis=0)  # [2 (F - 1), T]
    low = np.zeros_like(cepstrum)
    low[:cut] = cepstrum[:cut]
    if cut > 1:
        low[-(cut - 1) :] = cepstrum[-(cut - 1) :]  # the cepstrum of a real spectrum is even
    envelope = np.fft.rfft(low, axis=0).real[:n_bins]
    return envelope, log_amplitude - envelope


def _unit_mel(log_amplitude: np.ndarray, settings: MelSettings) -> np.ndarray:
    power = np.exp(2.0 * np.clip(log_amplitude, -30.0, 30.0))
    return power_to_unit(mel_filterbank(settings) @ power, settings.db_range)[0]


def _spectrum(audio: np.ndarray, settings: MelSettings) -> np.ndarray:
    """Log-amplitude STFT [F, T] with the cache's frames (the mel module's framing)."""
    from rtsynth.dsp.mel import stft_power

    return 0.5 * np.log(np.maximum(stft_power(audio, settings), 1e-10))


def _fit(mel: np.ndarray, frames: int) -> np.ndarray:
    out = np.zeros((mel.shape[0], frames), np.float32)
    n = min(frames, mel.shape[1])
    out[:, :n] = mel[:, :n]
    return out


def perturb_note(
    mel: np.ndarray, settings: MelSettings, perturb: PerturbSettings, rng
) -> tuple[np.ndarray, np.ndarray]:
    """One note's unit mel [M, T] -> (f variants, g variants), each [variants, M, T]."""
    import pedalboard

    from rtsynth.vocoder import vocode

    audio = vocode(mel, 0.0, settings=settings).astype(np.float32)
    sr, frames, cut = settings.sample_rate, mel.shape[1], lifter_cut(settings.sample_rate)
    sounding = mel.max(axis=0, keepdims=True) > 0.0
    f_out, g_out = [], []
    for _ in range(perturb.variants):
        shift = float(rng.integers(-perturb.max_shift, perturb.max_shift + 1))
        shifted = pedalboard.Pedalboard([pedalboard.PitchShift(semitones=shift)])(audio, sr)
        envelope, _ = lifter(_spectrum(shifted, settings), cut)
        f_out.append(_fit(_unit_mel(envelope, settings), frames) * sounding)
        names = rng.choice(EFFECTS, size=perturb.effects_per_note, replace=False)
        board = pedalboard.Pedalboard([getattr(pedalboard, name)() for name in names])
        _, fine = lifter(_spectrum(board(audio, sr), settings), cut)
        g_out.append(_fit(_unit_mel(fine, settings), frames) * sounding)
    return np.stack(f_out), np.stack(g_out)


@dataclass
class PerturbationBank:
    """f and g variants of every note of a cache, memory-mapped."""

    envelope: np.ndarray  # [N, variants, M, T] float16: f(X)
    fine: np.ndarray  # [N, variants, M, T] float16: g(X)
    settings: PerturbSettings

    @classmethod
    def load(cls, cache_root: str | Path) -> PerturbationBank:
        """The bank beside a cache; CacheError saying how to make it if there is none."""
        from rtsynth.train.prep.cache import CacheError

        folder = Path(cache_root) / BANK_DIR
        if not (folder / "bank.json").is_file():
            raise CacheError(
                f"{cache_root} has no perturbation bank; make one with `rtsynth data perturb {cache_root}`"
            )
        settings = PerturbSettings(**json.loads((folder / "bank.json").read_text())["settings"])
        return cls(
            np.load(folder / "envelope.npy", mmap_mode="r"), np.load(folder / "fine.npy", mmap_mode="r"), settings
        )


def build_bank(cache_root: str | Path, perturb: PerturbSettings = PerturbSettings(), progress: bool = True) -> Path:
    """Perturb every note of the cache at `cache_root`; bank.json is written last (complete marker)."""
    from tqdm import tqdm

    from rtsynth.train.prep.cache import NoteCache

    perturb.check()
    cache = NoteCache.load(cache_root)
    folder = Path(cache_root) / BANK_DIR
    folder.mkdir(exist_ok=True)
    (folder / "bank.json").unlink(missing_ok=True)
    shape = (len(cache), perturb.variants, *cache.mels.shape[1:])
    envelope = np.lib.format.open_memmap(folder / "envelope.npy", "w+", np.float16, shape)
    fine = np.lib.format.open_memmap(folder / "fine.npy", "w+", np.float16, shape)
    rng = np.random.default_rng(perturb.seed)
    for i in tqdm(range(len(cache)), desc="perturb", disable=not progress):
        envelope[i], fine[i] = perturb_note(np.asarray(cache.mels[i], np.float32), cache.mel_settings, perturb, rng)
    envelope.flush()
    fine.flush()
    meta = {"settings": asdict(perturb), "lifter_cut": lifter_cut(cache.mel_settings.sample_rate), "effects": EFFECTS}
    (folder / "bank.json").write_text(json.dumps(meta, indent=2))
    log.info("perturbation bank of %d notes x %d variants in %s", len(cache), perturb.variants, folder)
    return folder
