"""Augmentation of training mels: more notes per instrument, labels kept right.

Pitch shift. A random 80/10/10 split can leave a test note without a training note of the
same instrument at its pitch (on the shelf render all three trombone notes at MIDI 67 fell in
the test split). Shifting a training note by a few semitones fills such holes: the mel is
resampled along its bands so that every frequency f reads what the note had at f / 2^(k/12)
(interpolating between bands), which puts the partials where a transposition would (and moves
the spectral envelope with them, a small error for a shift of one or two semitones). The pitch
label moves by k; timbre, dynamics and duration stay. Notes whose shifted pitch is outside the
vocabulary are left as they are.

Shortening. Most instruments have only a few notes of the shortest classes, and a short note
is mostly its attack, so its timbre is the easiest to miss (the 0.25 s mf tuba at MIDI 65 of
the shelf render was named a bassoon by every run without this). A sample player holds a
steady sustain until note-off and then plays its release, so cutting frames out of the sustain
just before the release gives what a shorter held note would have sounded like. The duration
label moves to the shorter class; timbre, pitch and dynamics stay."""

from __future__ import annotations

import numpy as np
import torch

from rtsynth.dsp.mel import mel_band_edges
from rtsynth.labels import Vocabulary
from rtsynth.settings import MelSettings
from rtsynth.train.config import AugmentConfig
from rtsynth.train.data import Batch


def shift_table(settings: MelSettings, semitones: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each output band: the lower source band and the weight of the one above it.

    Frequencies beyond the outer band centres read the outer band.
    """
    centres = mel_band_edges(settings)[1:-1]
    source = np.interp(centres / 2.0 ** (semitones / 12), centres, np.arange(len(centres)))
    lower = np.minimum(np.floor(source).astype(np.int64), len(centres) - 2)
    return torch.from_numpy(lower), torch.from_numpy((source - lower).astype(np.float32))


def pitch_shift(mel: torch.Tensor, table: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mels [B, M, T] transposed by the table's shift (linear interpolation between bands)."""
    lower, weight = table
    weight = weight.to(mel.device)[:, None]
    return mel[:, lower] * (1 - weight) + mel[:, lower + 1] * weight


SHIFT_PROBABILITY = 0.5  # share of each batch that `[augment] pitch_shift` transposes


class PitchShifter:
    """Shifts a random share of each batch by ±1..`max_semitones` semitones."""

    def __init__(self, settings: MelSettings, pitches: tuple[int, ...], max_semitones: int, probability: float):
        self.shifts = [k for k in range(-max_semitones, max_semitones + 1) if k]
        self.tables = {k: shift_table(settings, k) for k in self.shifts}
        self.probability = probability
        # index of the pitch k semitones away, or -1 where it is not in the vocabulary
        position = {p: i for i, p in enumerate(pitches)}
        self.moved = {k: torch.tensor([position.get(p + k, -1) for p in pitches]) for k in self.shifts}

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        n = len(batch)
        chosen = torch.rand(n, generator=generator) < self.probability
        shift = torch.tensor(self.shifts)[torch.randint(len(self.shifts), (n,), generator=generator)]
        mel, pitch = batch.mel.clone(), batch.labels["pitch"].clone()
        for k in self.shifts:
            target = self.moved[k][pitch]
            rows = torch.nonzero(chosen & (shift == k) & (target >= 0)).flatten()
            if len(rows):
                mel[rows] = pitch_shift(batch.mel[rows], self.tables[k])
                pitch[rows] = target[rows]
        return Batch(mel, {**batch.labels, "pitch": pitch})


SILENT = 0.05  # a frame whose loudest band is below this (on the [0, 1] mel) is silence
SUSTAIN = 0.9  # frames at least this share of the median loud frame's level are the sustain
MIN_HEAD = 3  # frames of onset kept before the cut (70 ms at the paper's hop)


def release_starts(mel: torch.Tensor) -> torch.Tensor:
    """For notes [B, M, T]: the frame after each one's last sustained frame, or -1 where the
    note is still sounding at the end of the window (its release is not there to keep)."""
    level = mel.amax(dim=1)
    loud = torch.where(level >= 0.5 * level.amax(dim=1, keepdim=True), level, torch.nan)
    sustained = level >= SUSTAIN * loud.nanmedian(dim=1, keepdim=True).values
    last = (sustained * torch.arange(1, level.shape[1] + 1)).amax(dim=1)
    return torch.where(level[:, -1] < SILENT, last, -1)


def shorten(mel: torch.Tensor, cut_end: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Notes [B, M, T] without the `frames` [B] frames before `cut_end` [B]; each note's last
    (silent) frame fills its end."""
    t = torch.arange(mel.shape[-1])
    index = torch.where(t >= (cut_end - frames)[:, None], t + frames[:, None], t).clamp(max=mel.shape[-1] - 1)
    return mel.gather(2, index[:, None, :].expand_as(mel))


class NoteShortener:
    """Cuts a random share of each batch to a shorter duration class, drawn uniformly among
    those its sustain is long enough for (the onset's first frames always stay)."""

    def __init__(self, settings: MelSettings, durations: tuple[float, ...], probability: float):
        frames_per_second = settings.sample_rate / settings.hop_length
        seconds = torch.tensor(durations, dtype=torch.float64)
        # frames to cut to go from class i to class j
        self.cut = torch.round((seconds[:, None] - seconds[None, :]) * frames_per_second).long()
        self.probability = probability

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        n = len(batch)
        chosen = torch.rand(n, generator=generator) < self.probability
        pick = torch.rand(n, generator=generator)
        duration = batch.labels["duration"]
        end = release_starts(batch.mel)
        cut = self.cut[duration]  # [B, classes]
        shorter = chosen[:, None] & (end[:, None] >= 0) & (cut > 0) & (cut <= end[:, None] - MIN_HEAD)
        count = shorter.sum(dim=1)
        nth = (pick * count).long()  # which of the row's shorter classes
        target = torch.argmax((shorter & (shorter.cumsum(dim=1) == nth[:, None] + 1)).long(), dim=1)
        cutting = count > 0
        frames = torch.where(cutting, cut.gather(1, target[:, None])[:, 0], 0)
        return Batch(
            shorten(batch.mel, end, frames), {**batch.labels, "duration": torch.where(cutting, target, duration)}
        )


class Augmenter:
    """The configured augmentations, applied in turn to every training batch.

    Draws come from a generator seeded by (seed, epoch, rank), so a resumed run augments
    exactly as an uninterrupted one would.
    """

    def __init__(self, steps: list[PitchShifter | NoteShortener]):
        self.steps = steps

    @classmethod
    def from_config(cls, config: AugmentConfig, settings: MelSettings, vocab: Vocabulary) -> Augmenter | None:
        """None where every augmentation is off."""
        steps: list[PitchShifter | NoteShortener] = []
        if config.pitch_shift > 0:
            steps.append(PitchShifter(settings, vocab.pitch, config.pitch_shift, SHIFT_PROBABILITY))
        if config.shorten_probability > 0:
            steps.append(NoteShortener(settings, vocab.duration, config.shorten_probability))
        return cls(steps) if steps else None

    @staticmethod
    def generator(seed: int, epoch: int, rank: int) -> torch.Generator:
        return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_009 + rank)

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        for step in self.steps:
            batch = step(batch, generator)
        return batch
