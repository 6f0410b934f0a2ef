"""Integration: render a tiny GM-SOL corpus with the real FluidSynth, then prepare it."""

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from rtsynth.cli import main
from rtsynth.train.corpus import gm
from rtsynth.train.prep.cache import NoteCache

if not Path(gm.DEFAULT_SOUNDFONT).is_file():
    pytest.skip(f"needs {gm.DEFAULT_SOUNDFONT} (apt-get install fluid-soundfont-gm)", allow_module_level=True)


def test_rendered_corpus_prepares_with_measured_durations_and_kept_loudness(tmp_path):
    corpus, out = tmp_path / "gm", tmp_path / "cache"
    assert (
        main(
            [
                "-q",
                "data",
                "gm",
                "--out",
                str(corpus),
                "--instruments",
                "cello,TpC",
                "--pitch-range",
                "57",
                "58",
                "--seed",
                "5",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert (
        main(["-q", "data", "prep", "--corpus", str(corpus), "--out", str(out), "--workers", "1", "--no-figures"]) == 0
    )
    with open(corpus / "labels.csv", newline="") as f:
        labels = {row["path"]: row for row in csv.DictReader(f)}
    held = {path: float(row["held_s"]) for path, row in labels.items()}
    cache = NoteCache.load(out)
    assert len(cache) == len(held) >= 12 and cache.manifest["corpus"]["kind"] == "gm-sol"
    assert cache.vocab.timbre == ("trumpet", "cello") and cache.vocab.pitch == (57, 58)
    with open(out / "notes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    peaks = defaultdict(dict)
    for row in rows:
        # the sounding span is the held time plus the instrument's release, never less
        assert 0 <= float(row["duration_s"]) - held[row["source"]] < 0.6, row
        # ... and lands where the render aimed it, unless the release alone is longer
        aim = float(labels[row["source"]]["aim_s"])
        tolerance = gm.AIM_MISS_S  # the render measured the file's own samples
        assert float(row["duration_s"]) >= aim - tolerance, row
        if held[row["source"]] > 0.01:
            assert abs(float(row["duration_s"]) - aim) <= tolerance, row
        peaks[row["timbre"], row["pitch"]][row["dynamics"]] = float(row["peak_db"])
    for levels in peaks.values():
        assert levels["pp"] < levels["mf"] < levels["ff"]  # loudness is kept outside the [0, 1] mel
