"""Augmentation: a shifted mel reads like the transposed note and a shortened one like the
shorter note, labels move with them, and a run that augments still resumes exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_factory import VOCAB, make_cache, tiny_config

from rtsynth.config import ConfigError
from rtsynth.dsp.mel import mel_power, power_to_unit
from rtsynth.labels import DESCRIPTORS, duration_class, duration_class_seconds
from rtsynth.settings import MelSettings
from rtsynth.train.augment import (
    Augmenter,
    NoteShortener,
    PitchShifter,
    pitch_shift,
    release_starts,
    shift_table,
    shorten,
)
from rtsynth.train.config import AugmentConfig
from rtsynth.train.data import Batch
from rtsynth.train.runs import load_checkpoint
from rtsynth.train.trainer import Trainer

SETTINGS = MelSettings()


FRAMES_PER_SECOND = SETTINGS.sample_rate / SETTINGS.hop_length
DURATIONS = tuple(duration_class_seconds(k) for k in range(24))


def _as_mel(audio: np.ndarray) -> np.ndarray:
    audio = np.pad(audio[: SETTINGS.n_samples], (0, max(0, SETTINGS.n_samples - len(audio))))
    return power_to_unit(mel_power(audio, SETTINGS), SETTINGS.db_range)[0]


def _harmonic(midi: int, seconds: float) -> np.ndarray:
    """1/h partials up to 8 kHz."""
    t = np.arange(int(seconds * SETTINGS.sample_rate)) / SETTINGS.sample_rate
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    partials = np.arange(1, int(8000 // f0) + 1)
    return (np.sin(2 * np.pi * f0 * partials[:, None] * t) / partials[:, None]).sum(0)


def _tone_mel(midi: int) -> np.ndarray:
    """A decaying note, as a [0, 1] mel."""
    audio = _harmonic(midi, 1.0)
    return _as_mel(audio * np.exp(-2 * np.arange(len(audio)) / SETTINGS.sample_rate))


def _held_mel(sounding_s: float, release_s: float = 0.15) -> np.ndarray:
    """A note as a sample player plays it: a 20 ms attack, a steady sustain until note-off and
    an exponential release, ending `sounding_s` after the onset (then silence, as prep trims)."""
    audio = _harmonic(57, sounding_s)
    t = np.arange(len(audio)) / SETTINGS.sample_rate
    off = sounding_s - release_s
    envelope = np.minimum(t / 0.02, 1.0) * np.where(t < off, 1.0, np.exp(-(t - off) * 6.9 / release_s))
    return _as_mel(audio * envelope)


@pytest.mark.parametrize("midi, semitones", [(60, 1), (67, -2), (50, 2)])
def test_a_shifted_mel_reads_like_the_transposed_note(midi, semitones):
    source, target = _tone_mel(midi), _tone_mel(midi + semitones)
    shifted = pitch_shift(torch.from_numpy(source)[None], shift_table(SETTINGS, semitones))[0].numpy()
    sounding = slice(0, 40)  # the frames where the note is loud
    before = np.abs(source[:, sounding] - target[:, sounding]).mean()
    after = np.abs(shifted[:, sounding] - target[:, sounding]).mean()
    assert after < 0.35 * before, (before, after)


@pytest.mark.parametrize("long_s, short_s", [(2.0, 0.5), (1.0, 0.25), (4.5, 1.75)])
def test_a_shortened_mel_reads_like_the_shorter_note(long_s, short_s):
    source, target = torch.from_numpy(_held_mel(long_s))[None], torch.from_numpy(_held_mel(short_s))[None]
    end = release_starts(source)
    assert abs(end.item() - (long_s - 0.15) * FRAMES_PER_SECOND) <= 3  # found the note-off
    shortened = shorten(source, end, torch.tensor([round((long_s - short_s) * FRAMES_PER_SECOND)]))
    before = (source - target).abs().mean()
    after = (shortened - target).abs().mean()
    assert after < 0.05 * before, (before, after)  # measured 0.012-0.035; cutting the release instead: 0.06-0.2


def test_a_note_still_sounding_at_the_end_of_the_window_has_no_release_to_keep():
    assert release_starts(torch.from_numpy(_held_mel(SETTINGS.note_seconds + 0.5))[None]).item() == -1


def test_shortener_moves_the_duration_label_to_a_shorter_class_and_keeps_the_others():
    sounding = [0.25, 0.5, 1.0, 2.0, 4.0, SETTINGS.note_seconds + 0.5] * 3
    mel = torch.from_numpy(np.stack([_held_mel(s) for s in sounding]))
    labels = {d: torch.arange(len(sounding)) for d in DESCRIPTORS}
    labels["duration"] = torch.tensor([duration_class(s) for s in sounding])
    batch = Batch(mel, labels)
    shortener = NoteShortener(SETTINGS, DURATIONS, probability=1.0)
    out = shortener(batch, torch.Generator().manual_seed(0))
    for row, (was, now) in enumerate(zip(batch.labels["duration"].tolist(), out.labels["duration"].tolist())):
        if now == was:  # the shortest class, and the note whose release is outside the window
            assert sounding[row] in (0.25, SETTINGS.note_seconds + 0.5) and torch.equal(out.mel[row], mel[row])
        else:
            assert now < was
            cut = round((DURATIONS[was] - DURATIONS[now]) * FRAMES_PER_SECOND)
            expected = shorten(mel[row : row + 1], release_starts(mel[row : row + 1]), torch.tensor([cut]))[0]
            assert torch.equal(out.mel[row], expected)
    assert all(torch.equal(out.labels[d], batch.labels[d]) for d in DESCRIPTORS if d != "duration")
    assert len(set(out.labels["duration"][2::6].tolist())) > 1  # the class is drawn, not fixed
    again = shortener(batch, torch.Generator().manual_seed(0))
    assert torch.equal(again.mel, out.mel) and torch.equal(again.labels["duration"], out.labels["duration"])


def test_with_every_augmentation_off_there_is_no_augmenter():
    assert Augmenter.from_config(AugmentConfig(), SETTINGS, VOCAB) is None
    both = Augmenter.from_config(AugmentConfig(pitch_shift=1, shorten_probability=0.3), SETTINGS, VOCAB)
    assert [type(step) for step in both.steps] == [PitchShifter, NoteShortener]


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
            assert torch.allclose(out.mel[row], pitch_shift(batch.mel[row : row + 1], shifter.tables[k])[0])
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


@pytest.mark.parametrize(
    "bad, named",
    [
        (AugmentConfig(pitch_shift=-1), "augment.pitch_shift"),
        (AugmentConfig(shorten_probability=-0.1), "augment.shorten_probability"),
    ],
)
def test_bad_augment_settings_are_refused(tmp_path, bad, named):
    with pytest.raises(ConfigError, match=named):
        tiny_config(tmp_path, augment=bad)


@pytest.mark.parametrize("augment", [AugmentConfig(pitch_shift=2), AugmentConfig(shorten_probability=0.5)])
def test_an_augmented_run_resumes_exactly(tmp_path, augment):
    cache = make_cache(tmp_path / "cache")
    Trainer(tiny_config(cache, max_epochs=2, augment=augment), tmp_path / "straight").fit()
    Trainer(tiny_config(cache, max_epochs=2), tmp_path / "plain").fit()
    Trainer(tiny_config(cache, max_epochs=1, augment=augment), tmp_path / "split").fit()
    Trainer(tiny_config(cache, max_epochs=2, augment=augment), tmp_path / "split", resume=True).fit()

    def last(run: str) -> dict[str, torch.Tensor]:
        return load_checkpoint(tmp_path / run / "checkpoints/last.pt")["trained_model"]

    straight, split, plain = last("straight"), last("split"), last("plain")
    assert all(torch.equal(straight[k], split[k]) for k in straight)
    assert not all(torch.equal(straight[k], plain[k]) for k in straight)  # the augmentation did something
