"""The linear probe of a dataset cache: reads labels that are in the mels, not ones that are not."""

import json

import numpy as np
from train_factory import make_cache

from rtsynth.cli import main
from rtsynth.train.prep.cache import NoteCache
from rtsynth.train.prep.probe import probe_cache, probe_text, summary_features


def test_probe_reads_the_labels_the_mels_carry(tmp_path):
    cache = NoteCache.load(make_cache(tmp_path / "cache", repeats=3))
    result = probe_cache(cache)
    assert set(result["accuracy"]) == {"timbre", "pitch", "dynamics", "duration"}
    # the synthetic mels carry every label (tilt, spacing, level, length)
    assert min(result["accuracy"].values()) >= 0.9, result["accuracy"]
    assert set(result["by_dynamics"]["timbre"]) == {"pp", "mf", "ff"}
    assert "timbre" in probe_text(result) and "confusions" in probe_text(result)


def test_probe_does_not_read_labels_shuffled_off_their_mels(tmp_path):
    cache = NoteCache.load(make_cache(tmp_path / "cache", repeats=3))
    cache.labels["timbre"] = np.random.default_rng(0).permutation(cache.labels["timbre"])
    result = probe_cache(cache)
    assert result["accuracy"]["timbre"] < 0.6  # chance is 1/3
    assert result["accuracy"]["pitch"] >= 0.9  # the other labels are untouched
    assert result["timbre_confusions"]


def test_probe_lists_a_label_with_one_class_instead_of_failing(tmp_path):
    cache = NoteCache.load(make_cache(tmp_path / "cache"))
    cache.labels["duration"] = np.zeros_like(cache.labels["duration"])  # a corpus of one duration
    result = probe_cache(cache)
    assert result["single_class"] == ["duration"] and "duration" not in result["accuracy"]
    assert result["accuracy"]["pitch"] >= 0.9
    assert "not probed: duration" in probe_text(result)


def test_summary_features_ignore_silence_after_the_note():
    mel = np.zeros((1, 8, 20), dtype=np.float32)
    mel[0, 3, :5] = 1.0  # one bin sounds for 5 frames, then silence
    features = summary_features(mel)
    mean = features[0, :8]
    assert mean[3] == 1.0 and mean.sum() == 1.0  # averaged over the sounding frames only
    assert features.shape == (1, 3 * 8 + 20)


def test_probe_command_prints_and_saves(tmp_path, capsys):
    cache = make_cache(tmp_path / "cache")
    out = tmp_path / "probe.json"
    assert main(["-q", "data", "probe", str(cache), "--json", str(out)]) == 0
    assert "linear probe" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert all(0.0 <= a <= 1.0 for a in saved["accuracy"].values())
    assert main(["-q", "data", "probe", str(tmp_path / "missing")]) == 2
