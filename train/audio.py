"""`rtsynth tune-audio`: a harmonic decoder's synthesis trained against the notes' own audio.

The harmonic decoder learned from 22.05 kHz mels: a mel bin cannot tell a partial from noise,
nothing above 11 kHz was ever seen, and the engine hears the decoder only through the
harmonic-plus-noise synthesizer. Here the decoder (trunk and partial/noise outputs; not the
encoder, priors, classifiers or pitch reader, so the latent spaces and Table I stay as they
were) is tuned so that what the engine synthesizes from its outputs matches the note rendered
at the output rate (48 kHz), by a multi-scale log-mel loss (or DDSP's multi-resolution STFT)
on random windows of each note, each at the level the engine gives it (its loudness), the reference's offset from the
untuned decoder kept (`_Validation`): levels between notes and frames are learned here, the
absolute level per key is `rtsynth calibrate`'s job. No window reaches far past a note's end, so
a term of its own keeps the frames after it silent (`AudioLoss.tail`): the engine reads where a
decoded note stops sounding from them.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from rtsynth.dsp.audio import AudioProblem
from rtsynth.dsp.harmonic import NOISE_LOOP
from rtsynth.dsp.note import NotePipeline, cut_note, fit_length
from rtsynth.errors import RtsynthError
from rtsynth.export.synthesis_outputs import noise_bands
from rtsynth.settings import MelSettings, TrimSettings
from rtsynth.synthesis import FrameReader, HarmonicNoiseSpec
from rtsynth.train.config import AudioLossName
from rtsynth.train.models.decoder import Decoder
from rtsynth.train.models.harmonic import HarmonicHead
from rtsynth.train.prep.cache import NoteCache
from rtsynth.train.runs import RunPaths, load_checkpoint, load_run, save_checkpoint
from rtsynth.train.synthesis import (
    DecodedFrames,
    HarmonicNoiseSynth,
    fine_spectrum_loss,
    log_mel_loss,
    multi_resolution_stft_loss,
)

log = logging.getLogger(__name__)

Parameters = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # a harmonic decoder's pitch, partial and noise powers

VALIDATION_NOTES = 128
TAIL_MARGIN_FRAMES = 4  # a note's release: the frames after its sounding end that the tail term leaves alone
TAIL_FLOOR_DB = 60.0  # after them every frame, as the engine reads it, stays this far under the note's loudest


class AudioTuneError(RtsynthError, ValueError):
    """The run or the reference corpus cannot be tuned against; the message says which file."""


@dataclass(frozen=True)
class AudioTuneOptions:
    reference: Path  # the run's corpus rendered at the output rate, with the same relative paths
    epochs: int = 2  # the shipped model's; validation still falls after it
    batch_size: int = 16
    window_frames: int = 24  # decoder frames per training window (24 × 23 ms: 0.56 s)
    lr: float = 3e-4
    seed: int = 0
    max_notes: int | None = None  # a seeded subset of the training split (tiny runs)
    # 128-band log-mel, 5 ms hop (the bench's distance); that plus a fine spectrum below 1 kHz
    # (partials against the noise between them); or DDSP's multi-resolution STFT
    loss: AudioLossName = "mel"


def _sources(cache: NoteCache) -> list[str]:
    with open(cache.root / "notes.csv", newline="") as f:
        return [row["source"] for row in csv.DictReader(f)]


def sounding_frames(cache: NoteCache, indices: np.ndarray) -> np.ndarray:
    """Each note's sounding length (prep's duration label) in decoder frames, rounded up."""
    mel = cache.mel_settings
    return np.ceil(cache.duration_s[indices] * mel.sample_rate / mel.hop_length).astype(np.int64)


def reference_audio(cache: NoteCache, reference: Path, indices: np.ndarray) -> tuple[np.ndarray, int]:
    """[n, samples] float16: each note of the cache cut from its reference render exactly where
    prep cut its corpus file (the span found there, in seconds), padded to the note length."""
    corpus = Path(cache.manifest["corpus"]["root"])
    trim = cache.manifest["trim_settings"]
    options = cache.manifest["options"]
    pipeline = NotePipeline(cache.mel_settings, TrimSettings(**trim), options["silence_floor_dbfs"], options["fade_s"])
    sources = _sources(cache)
    rate = 0
    notes = []
    for i in tqdm(indices, desc="reference notes", unit="note"):
        path = reference / sources[i]
        try:
            audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, OSError) as err:
            raise AudioTuneError(f"{path}: not a readable reference render ({err})") from None
        rate = rate or file_rate
        if file_rate != rate:
            raise AudioTuneError(f"{path}: {file_rate} Hz where the other references are {rate} Hz")
        try:
            span = pipeline.cut(corpus / sources[i])
        except AudioProblem as problem:
            raise AudioTuneError(f"{corpus / sources[i]}: {problem}") from None
        to_rate = rate / span.audio.sample_rate
        start, end = round(span.start * to_rate), round(span.end * to_rate)
        fade = max(1, round(options["fade_s"] * rate))
        note = cut_note(audio.mean(axis=1), start, end, fade)
        notes.append(fit_length(note, round(cache.mel_settings.note_seconds * rate), fade).astype(np.float16))
    return np.stack(notes), rate


def harmonic_decoder(decoder: torch.nn.Module) -> tuple[Decoder, HarmonicHead]:
    head = getattr(decoder, "head", None)
    if not isinstance(decoder, Decoder) or not isinstance(head, HarmonicHead):
        raise AudioTuneError("tune-audio needs a decoder with the harmonic output (decoder_output = 'harmonic')")
    return decoder, head


class AudioLoss(torch.nn.Module):
    """Latents -> the engine's synthesis of a window of each note -> the loss against the reference."""

    band_power: torch.Tensor  # buffer

    def __init__(
        self,
        decoder: torch.nn.Module,
        mel: MelSettings,
        rate: int,
        window_frames: int,
        loss: AudioLossName = "mel",
    ):
        super().__init__()
        self.decoder, self.head = harmonic_decoder(decoder)
        self.rate, self.window, self.loss = rate, window_frames, loss
        spec = HarmonicNoiseSpec(self.head.partials.out_channels, self.head.render.scale, noise_bands(mel), rate / 2)
        self.reader = DecodedFrames(FrameReader(spec, mel), self.head.render, rate)
        self.synth = HarmonicNoiseSynth(rate, mel.hop_length / mel.sample_rate, self.reader.band_centres)
        self.frame_samples = rate * mel.hop_length / mel.sample_rate
        self.register_buffer("band_power", self.synth.loops.double().var(dim=1))  # per unit gain, as the engine's

    def parameters_of(self, z: torch.Tensor) -> Parameters:
        h = self.decoder.deconvs(self.decoder.expand(z).view(-1, *self.decoder.shape))
        return self.head.synthesis_parameters(h, z)

    def windows(self, z: torch.Tensor, target: torch.Tensor, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the engine synthesizes at 0 dB, the reference) for `window` frames from `starts`."""
        return self._windows(self.parameters_of(z), target, starts)

    def _windows(
        self, parameters: Parameters, target: torch.Tensor, starts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pitch, partials, noise = parameters
        frames = torch.arange(self.window + 1)[None, :] + starts[:, None]  # [B, W + 1]
        rows = torch.arange(len(pitch))[:, None]
        f0, amplitudes, gains = self.reader(
            pitch, partials[rows, :, frames].transpose(1, 2), noise[rows, :, frames].transpose(1, 2)
        )
        n = int(self.window * self.frame_samples)
        pred = self.synth(f0, amplitudes, gains, n, torch.randint(0, NOISE_LOOP, (len(pitch),)))
        first = (starts.double() * self.frame_samples).round().long()
        return pred, torch.stack([target[b, first[b] : first[b] + n] for b in range(len(pitch))]).float()

    def frame_levels_db(self, parameters: Parameters) -> torch.Tensor:
        """[B, T] each frame's power in dB as the engine reads it (its partials' a²/2 and its
        noise bands' gains² × their loops' variance: `DirectRuntime.frame_power`'s twin)."""
        _, amplitudes, gains = self.reader(*parameters)
        power = 0.5 * amplitudes.square().sum(dim=2) + gains.square() @ self.band_power
        return 10 * torch.log10(power.clamp_min(1e-30))

    def tail(self, parameters: Parameters, ends: torch.Tensor) -> torch.Tensor:
        """The dB by which frames from `ends` [B] on rise over TAIL_FLOOR_DB under the note's
        loudest frame (each frame's power as the engine reads it), / 10 like the log-mel loss.
        The reference is silent there, but no window reaches far past a note's end: left to
        drift, the tail of a tuned decoder rose to 33 dB under the peak, where the engine's
        length fit took it for the note (1 s notes played in 0.35 s)."""
        db = self.frame_levels_db(parameters)
        floor = db.amax(dim=1, keepdim=True).detach() - TAIL_FLOOR_DB
        after = torch.arange(db.shape[1])[None, :] >= ends[:, None]
        return ((db - floor).clamp_min(0.0) * after).sum() / after.sum().clamp_min(1) / 10

    def forward(
        self, z: torch.Tensor, target: torch.Tensor, starts: torch.Tensor, gain: torch.Tensor, ends: torch.Tensor
    ) -> torch.Tensor:
        """`gain` [B]: each note's amplitude gain, as the engine plays it (its loudness); `ends` [B]:
        the frame from which its tail must be silent."""
        parameters = self.parameters_of(z)
        pred, truth = self._windows(parameters, target, starts)
        played = pred * gain[:, None]
        tail = self.tail(parameters, ends)
        if self.loss == "mrstft":
            return multi_resolution_stft_loss(played, truth, floor_db=80.0) + tail
        loss = log_mel_loss(played, truth, self.rate) + tail
        return loss + fine_spectrum_loss(played, truth, self.rate) if self.loss == "mel-fine" else loss


def tune_audio(run_dir: str | Path, out: str | Path, options: AudioTuneOptions) -> dict:
    """Tune the run's decoder against the reference audio; `out` becomes a run directory that
    `rtsynth eval` and `rtsynth export` read like any other."""
    if Path(out).exists():
        raise AudioTuneError(f"{out} exists already; tune-audio writes a new run directory")
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    run = load_run(run_dir)
    harmonic_decoder(run.model.decoder)  # before the references are read
    mel = run.cache.mel_settings
    train = run.cache.indices("train")
    if options.max_notes is not None and options.max_notes < len(train):
        train = np.sort(rng.choice(train, options.max_notes, replace=False))
    targets, rate = reference_audio(run.cache, options.reference, train)
    loss_fn = AudioLoss(run.model.decoder, mel, rate, options.window_frames, options.loss)
    tuned = [p for name, p in run.model.decoder.named_parameters() if not name.startswith("head.pitch.")]
    for p in run.model.parameters():
        p.requires_grad_(False)
    for p in tuned:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(tuned, lr=options.lr)
    mels = torch.from_numpy(np.asarray(run.cache.mels[train], dtype=np.float32))
    sounding = sounding_frames(run.cache, train)
    ends = torch.from_numpy(sounding + TAIL_MARGIN_FRAMES)
    last_start = np.clip(sounding - options.window_frames, 0, mel.n_frames - options.window_frames - 1)
    check = _Validation.of(run, options, loss_fn)
    gains = torch.from_numpy(10 ** ((run.cache.peak_db[train] + check.offset_db) / 20).astype(np.float32))
    history: list[dict] = [{"epoch": 0, "val_loss": check.loss(run.model)}]
    log.info(
        "before tuning: validation loss %.4f; the reference %.1f dB over the decoder",
        history[0]["val_loss"],
        check.offset_db,
    )
    facts = {"sample_rate": rate, "level_offset_db": check.offset_db, "notes": len(train)}
    writer = _RunWriter.start(Path(run_dir), Path(out), options, facts)
    began = time.monotonic()
    for epoch in range(options.epochs):
        run.model.train()
        order = rng.permutation(len(train))
        losses = []
        bar = tqdm(range(0, len(order), options.batch_size), desc=f"tune-audio epoch {epoch + 1}", unit="batch")
        for at in bar:
            rows = order[at : at + options.batch_size]
            with torch.no_grad():
                z = torch.cat([mu for mu, _ in run.model.encode(mels[rows]).values()], dim=1)
            starts = torch.from_numpy((rng.random(len(rows)) * (last_start[rows] + 1)).astype(np.int64))
            starts[torch.from_numpy(rng.random(len(rows)) < 0.3)] = 0  # the attack, often
            loss = loss_fn(z, torch.from_numpy(targets[rows]), starts, gains[rows], ends[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_loss": check.loss(run.model)}
        history.append({**row, "minutes": (time.monotonic() - began) / 60})
        writer.write(run.model, history)  # each epoch: a stopped run keeps what it learned
    return writer.facts(history)


@dataclass(frozen=True)
class _Validation:
    """The loss on validation notes at fixed windows (the attack, and the middle of the note),
    so epochs compare with each other and with the untuned decoder; and how much louder the
    reference is than the untuned decoder at each note's own loudness (the median over these
    windows), which every note's gain keeps: training then learns levels between notes and
    frames, not a drift of the whole decoder (a key's absolute level is calibration's)."""

    loss_fn: AudioLoss
    mels: torch.Tensor  # [n] notes, each once
    targets: torch.Tensor
    rows: np.ndarray  # [2n] the note of each window
    starts: torch.Tensor  # [2n] its first frame
    ends: torch.Tensor  # [n] the first frame of its silent tail
    peak_db: np.ndarray  # [n]
    offset_db: float

    @classmethod
    def of(cls, run, options: AudioTuneOptions, loss_fn: AudioLoss) -> _Validation:
        notes = run.cache.indices("val")[:VALIDATION_NOTES]
        targets, _ = reference_audio(run.cache, options.reference, notes)
        mel = run.cache.mel_settings
        sounding = sounding_frames(run.cache, notes)
        middle = np.clip((sounding + 1) // 2 - options.window_frames // 2, 0, mel.n_frames - options.window_frames - 1)
        mels = torch.from_numpy(np.asarray(run.cache.mels[notes], dtype=np.float32))
        rows = np.tile(np.arange(len(notes)), 2)
        starts = torch.from_numpy(np.concatenate([np.zeros(len(notes), dtype=np.int64), middle]))
        peak = run.cache.peak_db[notes].astype(np.float64)
        ends = torch.from_numpy(sounding + TAIL_MARGIN_FRAMES)
        check = cls(loss_fn, mels, torch.from_numpy(targets), rows, starts, ends, peak, 0.0)
        return dataclasses.replace(check, offset_db=check.level_offset_db(run.model))

    def _windows(self, model):
        """(latents, references, first frames, note rows) of up to 32 windows at a time; each
        note encoded once."""
        with torch.no_grad():
            z = torch.cat([mu for mu, _ in model.encode(self.mels).values()], dim=1)
        for at in range(0, len(self.rows), 32):
            rows = self.rows[at : at + 32]
            yield z[rows], self.targets[rows], self.starts[at : at + 32], rows

    def level_offset_db(self, model) -> float:
        model.eval()
        torch.manual_seed(0)
        offsets = []
        with torch.no_grad():
            for z, targets, starts, rows in self._windows(model):
                pred, truth = self.loss_fn.windows(z, targets, starts)
                ratio = truth.square().mean(dim=1) / pred.square().mean(dim=1).clamp_min(1e-20)
                offsets.append(10 * np.log10(ratio.clamp_min(1e-20).numpy()) - self.peak_db[rows])
        return float(np.median(np.concatenate(offsets)))

    def loss(self, model) -> float:
        model.eval()
        torch.manual_seed(0)  # the same noise loops each time
        losses, sizes = [], []
        gains = torch.from_numpy(10 ** ((self.peak_db + self.offset_db) / 20).astype(np.float32))
        with torch.no_grad():
            for z, targets, starts, rows in self._windows(model):
                losses.append(float(self.loss_fn(z, targets, starts, gains[rows], self.ends[rows])))
                sizes.append(len(z))
        return float(np.average(losses, weights=sizes))


@dataclass(frozen=True)
class _RunWriter:
    """The tuned run directory: the source run's config and checkpoint with the tuned weights
    and `audio_tuned` facts (the sample rate export-synthesis reads)."""

    source: Path
    out: Path
    payload: dict  # the source's best checkpoint, read once
    about: dict

    @classmethod
    def start(cls, source: Path, out: Path, options: AudioTuneOptions, facts: dict) -> _RunWriter:
        payload = load_checkpoint(RunPaths(source).checkpoint("best"))
        payload.pop("trained_model", None)
        options_facts = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}
        about = {**facts, "reference": str(options.reference), "from_run": str(source), "options": options_facts}
        return cls(source, out, payload, about)

    def facts(self, history: list) -> dict:
        return {**self.about, "history": history}

    def write(self, model: torch.nn.Module, history: list) -> None:
        """The directory appears with the first epoch's weights, so a failed start leaves none."""
        paths, facts = RunPaths(self.out), self.facts(history)
        paths.checkpoints.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RunPaths(self.source).config, paths.config)
        save_checkpoint(paths.checkpoint("best"), {**self.payload, "model": model.state_dict(), "audio_tuned": facts})
        (self.out / "audio-tune.json").write_text(json.dumps(facts, indent=1))
        last = history[-1]
        log.info(
            "epoch %d: loss %.4f, validation %.4f; wrote %s", last["epoch"], last["loss"], last["val_loss"], self.out
        )
