"""Pitch-shift augmentation of training mels: more notes per instrument, labels kept right.

A random 80/10/10 split can leave a test note without a training note of the same instrument
at its pitch (on the shelf render all three trombone notes at MIDI 67 fell in the test split).
Shifting a training note by a few semitones fills such holes: the mel is resampled along its
bands so that every frequency f reads what the note had at f / 2^(k/12) (interpolating
between bands), which puts the partials where a transposition would (and moves the spectral
envelope with them, a small error for a shift of one or two semitones). The pitch label moves by k; timbre, dynamics
and duration stay. Notes whose shifted pitch is outside the vocabulary are left as they are.
"""

from __future__ import annotations

import numpy as np
import torch

from rtsynth.dsp.mel import mel_band_edges
from rtsynth.settings import MelSettings
from train.data import Batch


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


class PitchShifter:
    """Shifts a random share of each batch by ±1..`max_semitones` semitones.

    Draws come from a generator seeded by (seed, epoch, rank), so a resumed run augments
    exactly as an uninterrupted one would.
    """

    def __init__(self, settings: MelSettings, pitches: tuple[int, ...], max_semitones: int, probability: float):
        self.shifts = [k for k in range(-max_semitones, max_semitones + 1) if k]
        self.tables = {k: shift_table(settings, k) for k in self.shifts}
        self.probability = probability
        # index of the pitch k semitones away, or -1 where it is not in the vocabulary
        position = {p: i for i, p in enumerate(pitches)}
        self.moved = {k: torch.tensor([position.get(p + k, -1) for p in pitches]) for k in self.shifts}

    @staticmethod
    def generator(seed: int, epoch: int, rank: int) -> torch.Generator:
        return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_009 + rank)

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
