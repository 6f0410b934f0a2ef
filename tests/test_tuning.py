"""rtsynth.tuning: the export's check of how in tune a bundle plays, on the harmonic test
bundle (whose decoder draws exactly the pitch its z_P says) and on a detuned copy of it."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from harmonic_bundle import make_harmonic_bundle

from rtsynth.bundle import BundleShapeError, read_spec, write_spec
from rtsynth.model import load_model
from rtsynth.tuning import correction_table, measure_tuning, notes_to_measure

RANGES = {"flute": (60, 66), "violin": (48, 52)}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_harmonic_bundle(tmp_path_factory.mktemp("tuning") / "harmonic")


def detuned(bundle: Path, folder: Path, semitones: float) -> Path:
    """A copy whose pitch class means sit `semitones` higher (z_P[0] is semitones / 12)."""
    copy = shutil.copytree(bundle, folder / "detuned")
    spec = read_spec(copy)
    pitch = spec.descriptors["pitch"]
    means = np.asarray(pitch.means)
    means[:, 0] += semitones / 12
    spec.descriptors["pitch"] = dataclasses.replace(pitch, means=means.tolist())
    write_spec(copy, spec)
    return copy


def test_notes_cover_each_range_with_both_ends():
    assert notes_to_measure(RANGES, 3) == [
        ("flute", 60),
        ("flute", 63),
        ("flute", 66),
        ("violin", 48),
        ("violin", 51),
        ("violin", 52),
    ]


def test_an_in_tune_bundle_measures_in_tune(bundle):
    summary = measure_tuning(bundle, RANGES, step=3).summary()
    assert summary["notes"] == 6 and summary["silent"] == 0
    assert summary["in_tune"] == 1.0 and summary["median_abs_cents"] < 20
    assert summary["per_timbre"] == {"flute": 1.0, "violin": 1.0}


def test_a_detuned_bundle_measures_its_offset(bundle, tmp_path):
    summary = measure_tuning(detuned(bundle, tmp_path, 3.0), RANGES, step=3).summary()
    assert summary["in_tune"] == 0.0
    assert summary["median_abs_cents"] == pytest.approx(300, abs=30)
    json.dumps(summary)  # what bundle.json stores


def test_the_tuning_table_puts_a_slightly_detuned_bundle_in_tune(bundle, tmp_path):
    off = detuned(bundle, tmp_path, 0.7)  # 70 cents sharp: a tuning error, not a wrong note
    raw = measure_tuning(off, RANGES, step=1)
    assert raw.in_tune() == 0.0
    spec = read_spec(off)
    table = correction_table(raw, spec.vocab.pitch)
    assert set(table) == {"flute", "violin"}
    flute = table["flute"]
    assert all(abs(flute[spec.vocab.pitch.index(k)] - 70) < 20 for k in range(60, 67))
    assert flute[spec.vocab.pitch.index(48)] is None  # outside flute's range: not measured
    write_spec(off, dataclasses.replace(spec, tuning_cents=table))
    played = measure_tuning(off, RANGES, step=1).summary()
    assert played["in_tune"] == 1.0 and played["median_abs_cents"] < 20


def test_classes_three_semitones_sharp_play_each_key_from_the_class_that_sounds_there(bundle, tmp_path):
    # like a model whose pitch classes decode a few semitones off: a retuning that large would
    # be a wrong timbre, but the class three below sounds right at each key
    off = detuned(bundle, tmp_path, 3.0)
    raw = measure_tuning(off, RANGES, step=1)
    spec = read_spec(off)
    table = correction_table(raw, spec.vocab.pitch)
    assert abs(table["flute"][spec.vocab.pitch.index(60)] - 300) < 30
    assert table["flute"][spec.vocab.pitch.index(48)] is None  # outside flute's range: not measured
    write_spec(off, dataclasses.replace(spec, tuning_cents=table))
    # keys whose class three below was measured for that timbre (the rest play their nearest measured class)
    played = measure_tuning(off, {"flute": (63, 66), "violin": (51, 52)}, step=1).summary()
    assert played["in_tune"] == 1.0 and played["median_abs_cents"] < 20


def test_a_bad_tuning_table_is_refused(bundle, tmp_path):
    spec = read_spec(bundle)
    n = len(spec.vocab.pitch)
    for table in ({"flute": [0.0, 1.0]}, {"flute": [1300.0] * n}, {"flute": ["sharp"] * n}, {"tuba": [0.0] * n}):
        bad = shutil.copytree(bundle, tmp_path / "bad", dirs_exist_ok=True)
        write_spec(bad, dataclasses.replace(spec, tuning_cents=table))
        with pytest.raises(BundleShapeError, match="tuning_cents"):
            load_model(bad)
