"""Prep's label side: vocabularies and stratified, seeded, deterministic splits."""

from pathlib import Path

import numpy as np
import pytest

from rtsynth.labels import INSTRUMENTS
from rtsynth.settings import PAPER_TRIM
from rtsynth.train.corpus.records import NoteRecord
from rtsynth.train.prep.note import PreparedNote
from rtsynth.train.prep.options import PrepOptions
from rtsynth.train.prep.splits import held_out_counts, stratified_split
from rtsynth.train.prep.vocab import build_vocabulary, label_indices

FRACTIONS = (0.8, 0.1, 0.1)


def groups(counts: dict[str, int]) -> list[str]:
    return [name for name, n in counts.items() for _ in range(n)]


def test_same_seed_same_split_other_seed_other_split():
    items = groups({"violin": 50, "flute": 40, "tuba": 30})
    first = stratified_split(items, FRACTIONS, seed=3)
    assert np.array_equal(first, stratified_split(items, FRACTIONS, seed=3))
    assert not np.array_equal(first, stratified_split(items, FRACTIONS, seed=4))


def test_split_is_stratified_80_10_10_with_every_instrument_in_every_split():
    counts = {"violin": 100, "flute": 37, "tuba": 3, "horn": 11}
    items = np.array(groups(counts))
    split = stratified_split(list(items), FRACTIONS, seed=0)
    for name, n in counts.items():
        sizes = np.bincount(split[items == name], minlength=3)
        assert sizes.sum() == n and (sizes >= 1).all(), name
        assert abs(sizes[1] - 0.1 * n) <= 1 and abs(sizes[2] - 0.1 * n) <= 1
    assert list(np.bincount(split[items == "violin"])) == [80, 10, 10]


def test_an_instrument_keeps_its_split_when_others_change():
    with_tuba = stratified_split(groups({"violin": 30, "tuba": 20}), FRACTIONS, seed=1)
    without = stratified_split(groups({"violin": 30}), FRACTIONS, seed=1)
    assert np.array_equal(with_tuba[:30], without)


@pytest.mark.parametrize(
    "n,expected", [(0, (0, 0)), (1, (0, 0)), (2, (0, 0)), (3, (1, 1)), (10, (1, 1)), (24, (2, 2)), (26, (3, 3))]
)
def test_held_out_counts_of_small_groups(n, expected):
    assert held_out_counts(n, FRACTIONS) == expected


def prepared(instrument: str, pitch: int, dynamics: str, duration_s: float) -> PreparedNote:
    record = NoteRecord(Path(f"{instrument}-{pitch}.wav"), f"{instrument}-{pitch}", instrument, pitch, dynamics)
    return PreparedNote(record, 30.0, duration_s, 44100, 1, "PCM_16")


def test_vocabulary_orders_known_names_first_and_spans_all_duration_classes():
    notes = [
        prepared("zither", 50, "mp", 0.3),
        prepared("flute", 62, "ff", 2.1),
        prepared("violin", 55, "pp", 6.5),
        prepared("banjo", 57, "pp", 1.0),
    ]
    vocab = build_vocabulary(notes, None, PAPER_TRIM)
    order = [i.name for i in INSTRUMENTS]
    assert vocab.timbre == ("violin", "flute", "banjo", "zither")
    assert order.index("violin") < order.index("flute")
    assert vocab.pitch == tuple(range(50, 63))
    assert vocab.dynamics == ("pp", "ff", "mp")
    assert vocab.duration == tuple(0.25 * (k + 1) for k in range(24))
    labels = label_indices(notes, vocab, PAPER_TRIM)
    assert list(labels["timbre"]) == [3, 1, 0, 2]
    assert list(labels["pitch"]) == [0, 12, 5, 7]
    assert list(labels["duration"]) == [0, 7, 23, 3]
    assert build_vocabulary(notes, (48, 71), PAPER_TRIM).pitch == tuple(range(48, 72))


@pytest.mark.parametrize(
    "bad",
    [
        dict(pitch_range=(72, 48)),
        dict(pitch_range=(-1, 5)),
        dict(seed=-1),
        dict(split_fractions=(0.5, 0.1, 0.1)),
        dict(fade_s=0.0),
    ],
)
def test_options_reject_bad_values(bad):
    with pytest.raises(ValueError):
        PrepOptions(**bad)
