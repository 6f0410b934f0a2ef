"""`rtsynth data play`: a labelled corpus rendered by the shipped bundle, note for note, ready for
prep and `rtsynth eval RUN --on CACHE` (Table I through audio)."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest
import soundfile
from audio_checks import estimate_f0, seg
from corpus_fixtures import SAMPLE_RATE, write_wav

from rtsynth.cli import main
from rtsynth.dsp.fidelity import sounding_length_s
from rtsynth.dsp.pitch import cents, midi_hz
from rtsynth.resources import default_bundle
from rtsynth.train.corpus.folder import read_folder

HEADER = ["path", "instrument", "pitch", "dynamics", "velocity"]
ROWS = [
    ["flute/flute-72.wav", "flute", "72", "mf", ""],  # the bundle's velocity for mf
    ["violin/violin-55.wav", "violin", "G3", "ff", "112"],
    ["bells.wav", "bells", "60", "pp", ""],  # no such timbre in the bundle: left out
]
SOUNDING = {"flute/flute-72.wav": 0.6, "violin/violin-55.wav": 1.2, "bells.wav": 0.3}  # each recording's tone


def write_corpus(root) -> None:
    for path, _, _, dynamics, _ in ROWS:
        write_wav(root / path, 60, SOUNDING[path], dynamics)
    with open(root / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *ROWS])


def test_play_renders_each_note_the_bundle_has_at_its_pitch_and_length(tmp_path, caplog):
    corpus, out = tmp_path / "corpus", tmp_path / "played"
    write_corpus(corpus)
    with caplog.at_level(logging.WARNING):
        assert (
            main(["data", "play", "--corpus", str(corpus), "--bundle", str(default_bundle()), "--out", str(out)]) == 0
        )
    assert "bundle has no timbre ['bells']" in caplog.text
    played = read_folder(out)
    assert {(r.source_id, r.instrument, r.pitch, r.dynamics) for r in played.records} == {
        ("flute/flute-72.wav", "flute", 72, "mf"),
        ("violin/violin-55.wav", "violin", 55, "ff"),
    }
    with open(out / "labels.csv", newline="") as handle:
        assert next(csv.reader(handle)) == HEADER
    for record in played.records:
        audio, rate = soundfile.read(str(record.path), dtype="float32")
        source, _ = soundfile.read(str(corpus / record.source_id), dtype="float32")
        assert rate == 48000
        # asked for the recording's sounding length, it sounds that long
        assert sounding_length_s(audio, rate) == pytest.approx(sounding_length_s(source, SAMPLE_RATE), abs=0.05)
        held = SOUNDING[record.source_id]
        body = seg(audio, 0.1, held - 0.15)
        assert np.sqrt(np.mean(body**2)) > 1e-3, f"{record.source_id} is silent"
        f0 = estimate_f0(body, midi_hz(record.pitch))
        assert abs(cents(f0, midi_hz(record.pitch))) < 50, f"{record.source_id}: {f0:.1f} Hz"


def test_play_refuses_to_write_over_a_corpus_and_names_the_problem(tmp_path, caplog):
    corpus, out = tmp_path / "corpus", tmp_path / "played"
    write_corpus(corpus)
    out.mkdir()
    (out / "labels.csv").write_text("path,instrument,pitch,dynamics\n")
    with caplog.at_level(logging.ERROR):
        assert (
            main(["data", "play", "--corpus", str(corpus), "--bundle", str(default_bundle()), "--out", str(out)]) == 2
        )
    assert "already holds a corpus" in caplog.text
    assert (out / "labels.csv").read_text() == "path,instrument,pitch,dynamics\n"
    only_bells = tmp_path / "bells"
    write_wav(only_bells / "bells.wav", 60, 0.3, "pp")
    (only_bells / "labels.csv").write_text("path,instrument,pitch,dynamics\nbells.wav,bells,60,pp\n")
    with caplog.at_level(logging.ERROR):
        assert (
            main(
                [
                    "data",
                    "play",
                    "--corpus",
                    str(only_bells),
                    "--bundle",
                    str(default_bundle()),
                    "--out",
                    str(tmp_path / "o"),
                ]
            )
            == 2
        )
    assert "no note of" in caplog.text and not (tmp_path / "o").exists()


def test_play_can_keep_to_a_caches_test_split(tmp_path, caplog):
    corpus, cache, out = tmp_path / "corpus", tmp_path / "cache", tmp_path / "played"
    write_corpus(corpus)
    cache.mkdir()
    (cache / "notes.csv").write_text(
        "index,source,timbre,pitch,dynamics,duration,duration_s,peak_db,split\n"
        "0,flute/flute-72.wav,flute,72,mf,0.5,0.55,20.0,train\n"
        "1,violin/violin-55.wav,violin,55,ff,1.25,1.21,25.0,test\n"
    )
    args = ["data", "play", "--corpus", str(corpus), "--bundle", str(default_bundle()), "--out", str(out)]
    assert main([*args, "--test-of", str(cache)]) == 0
    assert [r.source_id for r in read_folder(out).records] == ["violin/violin-55.wav"]
    with caplog.at_level(logging.ERROR):
        assert main([*args[:-1], str(tmp_path / "o"), "--test-of", str(tmp_path / "nothing")]) == 2
    assert "is not a prepared cache" in caplog.text
