"""Pitch-shift augmentation: a shifted mel reads like the transposed note, labels move with it,
and a run that augments still resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtsynth.config import ConfigError
from rtsynth.dsp.mel import mel_power, power_to_unit
from rtsynth.labels import DESCRIPTORS
from rtsynth.settings import MelSettings
from train.augment import PitchShifter, pitch_shift, shift_table
from train.config import AugmentConfig
from train.data import Batch
from train.trainer import Trainer
from train_factory import make_cache, tiny_config

SETTINGS = MelSettings()


def _tone_mel(midi: int) -> np.ndarray:
    """A decaying note with 1/h partials up to 8 kHz, as a [0, 1] mel."""
    sr = SETTINGS.sample_rate
    t = np.arange(sr) / sr
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    partials = np.arange(1, int(8000 // f0) + 1)
    audio = (np.sin(2 * np.pi * f0 * partials[:, None] * t) / partials[:, None]).sum(0) * np.exp(-2 * t)
    audio = np.pad(audio, (0, SETTINGS.n_samples - len(audio)))
    return power_to_unit(mel_power(audio, SETTINGS), SETTINGS.db_range)[0]


@pytest.mark.parametrize("midi, semitones", [(60, 1), (67, -2), (50, 2)])
def test_a_shifted_mel_reads_like_the_transposed_note(midi, semitones):
    source, target = _tone_mel(midi), _tone_mel(midi + semitones)
    shifted = pitch_shift(torch.from_numpy(source)[None], shift_table(SETTINGS, semitones))[0].numpy()
    sounding = slice(0, 40)  # the frames where the note is loud
    before = np.abs(source[:, sounding] - target[:, sounding]).mean()
    after = np.abs(shifted[:, sounding] - target[:, sounding]).mean()
    assert after < 0.35 * before, (before, after)


def _batch(pitch_indices: list[int]) -> Batch:
    n = len(pitch_indices)
    mel = torch.rand(n, SETTINGS.n_mels, 8, generator=torch.Generator().manual_seed(1))
    labels = {d: torch.arange(n) for d in DESCRIPTORS}
    labels["pitch"] = torch.tensor(pitch_indices)
    return Batch(mel, labels)


def test_shifter_moves_the_pitch_label_and_keeps_the_other_labels():
    pitches = (60, 61, 62, 63)
    shifter = PitchShifter(SETTINGS, pitches, max_semitones=1, probability=1.0)
    batch = _batch([0, 1, 2, 3] * 8)
    out = shifter(batch, torch.Generator().manual_seed(0))
    moved = out.labels["pitch"] - batch.labels["pitch"]
    assert set(moved.tolist()) == {-1, 0, 1}
    for row, k in enumerate(moved.tolist()):
        if k:  # shifted by exactly the semitones its label moved
            assert torch.allclose(out.mel[row], pitch_shift(batch.mel[row:row + 1], shifter.tables[k])[0])
        else:  # only notes whose shift would leave the vocabulary stay as they are
            assert batch.labels["pitch"][row] in (0, 3) and torch.equal(out.mel[row], batch.mel[row])
    assert all(torch.equal(out.labels[d], batch.labels[d]) for d in DESCRIPTORS if d != "pitch")
    again = shifter(batch, torch.Generator().manual_seed(0))
    assert torch.equal(again.mel, out.mel) and torch.equal(again.labels["pitch"], out.labels["pitch"])


def test_shifter_with_probability_zero_changes_nothing():
    shifter = PitchShifter(SETTINGS, (60, 61, 62), max_semitones=2, probability=0.0)
    batch = _batch([0, 1, 2, 1])
    out = shifter(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out.mel, batch.mel) and torch.equal(out.labels["pitch"], batch.labels["pitch"])


def test_bad_augment_settings_are_refused(tmp_path):
    for bad in (AugmentConfig(pitch_shift=-1), AugmentConfig(pitch_shift=2, pitch_shift_probability=1.5)):
        with pytest.raises(ConfigError, match="augment.pitch_shift"):
            tiny_config(tmp_path, augment=bad)


def test_an_augmented_run_resumes_exactly(tmp_path):
    cache = make_cache(tmp_path / "cache")
    augment = AugmentConfig(pitch_shift=2, pitch_shift_probability=0.5)
    Trainer(tiny_config(cache, max_epochs=2, augment=augment), tmp_path / "straight").fit()
    Trainer(tiny_config(cache, max_epochs=2), tmp_path / "plain").fit()
    Trainer(tiny_config(cache, max_epochs=1, augment=augment), tmp_path / "split").fit()
    Trainer(tiny_config(cache, max_epochs=2, augment=augment), tmp_path / "split", resume=True).fit()

    def last(run: str) -> dict[str, torch.Tensor]:
        return torch.load(tmp_path / run / "checkpoints/last.pt", weights_only=True)["trained_model"]

    straight, split, plain = last("straight"), last("split"), last("plain")
    assert all(torch.equal(straight[k], split[k]) for k in straight)
    assert not all(torch.equal(straight[k], plain[k]) for k in straight)  # the augmentation did something
