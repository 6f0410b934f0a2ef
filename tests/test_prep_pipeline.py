"""`rtsynth data prep` end to end on small folder corpora written here (real WAV files)."""

import csv
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtsynth.cli import main
from rtsynth.labels import duration_class
from rtsynth.settings import MelSettings
from rtsynth.train.prep.cache import NoteCache
from rtsynth.train.prep.options import PrepOptions
from rtsynth.train.prep.pipeline import PrepError, prepare_corpus

SR = 44100
# (instrument, pitch, dynamics, sounding seconds): each just under a class centre, as the trim
# measures up to ~60 ms more (half a frame each side)
NOTES = [
    (inst, pitch, dyn, seconds - 0.02)
    for inst, offset in (("violin", 0.0), ("flute", 0.25), ("tuba", 0.5))
    for pitch, dyn, seconds in (
        (48, "pp", 0.5 + offset),
        (52, "mf", 1.0 + offset),
        (55, "ff", 1.5 + offset),
        (60, "mf", 0.75 + offset),
    )
]


def note_audio(seconds: float, pitch: int, amplitude: float = 0.3, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    body = amplitude * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t) * np.minimum(1, t / 0.01)
    return np.concatenate([np.zeros(int(0.1 * sr)), body, np.zeros(int(0.2 * sr))]).astype(np.float32)


def write_corpus(root: Path, notes=NOTES) -> Path:
    """labels.csv + one WAV per note, as a folder corpus."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for inst, pitch, dyn, seconds in notes:
        name = f"{inst}/{inst}-{pitch}-{dyn}.wav"
        (root / inst).mkdir(exist_ok=True)
        sf.write(root / name, note_audio(seconds, pitch), SR, subtype="PCM_16")
        rows.append([name, inst, pitch, dyn])
    write_labels(root, rows)
    return root


def write_labels(root: Path, rows: list[list]) -> None:
    with open(root / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "instrument", "pitch", "dynamics"])
        writer.writerows(rows)


def read_labels(root: Path) -> list[list]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.reader(f))[1:]


def prep(corpus: Path, out: Path, options: PrepOptions = PrepOptions(), **kwargs):
    kwargs = {"workers": 1, "progress": False, "figures": False, **kwargs}
    return prepare_corpus(corpus, out, options, **kwargs)


def test_cache_holds_every_note_with_its_labels(tmp_path):
    outcome = prep(write_corpus(tmp_path / "corpus"), tmp_path / "cache", PrepOptions(pitch_range=(48, 59)))
    cache = NoteCache.load(outcome.cache_dir)
    kept = [n for n in NOTES if n[1] <= 59]
    assert len(cache) == len(kept) == outcome.report["counts"]["kept"]
    assert cache.mels.shape == (len(kept), 256, 256) and cache.mels.dtype == np.float16
    assert isinstance(cache.mels, np.memmap)
    assert float(np.min(cache.mels)) >= 0 and float(np.max(cache.mels)) == 1.0
    assert cache.vocab.timbre == ("tuba", "violin", "flute")  # the INSTRUMENTS order
    assert cache.vocab.pitch == tuple(range(48, 60)) and len(cache.vocab.duration) == 24
    with open(cache.root / "notes.csv", newline="") as f:
        by_source = {row["source"]: row for row in csv.DictReader(f)}
    for i, (inst, pitch, dyn, seconds) in enumerate(sorted(kept, key=lambda n: f"{n[0]}/{n[0]}-{n[1]}-{n[2]}.wav")):
        row = by_source[f"{inst}/{inst}-{pitch}-{dyn}.wav"]
        assert (row["timbre"], int(row["pitch"]), row["dynamics"]) == (inst, pitch, dyn)
        assert cache.vocab.timbre[cache.labels["timbre"][i]] == inst
        assert cache.labels["duration"][i] == duration_class(seconds)
    assert np.isfinite(cache.peak_db).all()
    filtered = outcome.report["filtered"]
    assert len(filtered) == 3 and all(f["reason"] == "pitch 60 outside 48..59" for f in filtered)
    assert set(cache.manifest["fingerprint"]) == {"files", "metadata", "settings", "options"}


def test_bad_inputs_are_reported_with_reasons_and_the_rest_is_prepared(tmp_path):
    root = write_corpus(tmp_path / "corpus")
    rows = read_labels(root)
    odd = tmp_path / "corpus" / "odd"
    odd.mkdir()
    (odd / "empty.wav").write_bytes(b"")
    (odd / "corrupt.wav").write_bytes(os.urandom(3000))
    sf.write(odd / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    sf.write(odd / "nan.wav", np.full(SR, np.nan, dtype=np.float32), SR, subtype="FLOAT")
    sf.write(odd / "u8.wav", note_audio(1.0, 50), SR, subtype="PCM_U8")
    sf.write(odd / "48k.wav", note_audio(1.0, 50, sr=48000), 48000)
    sf.write(odd / "stereo.wav", np.stack([note_audio(1.0, 50)] * 2, axis=1), SR)
    sf.write(odd / "unlisted.wav", note_audio(1.0, 50), SR)
    rows += [
        [f"odd/{name}.wav", "horn", 50, "mf"]
        for name in ("empty", "corrupt", "silent", "nan", "u8", "48k", "stereo", "missing")
    ]
    write_labels(root, rows)

    report = prep(root, tmp_path / "cache").report
    reasons = {s["source_id"]: (s["stage"], s["reason"]) for s in report["skipped"]}
    expected = {
        "odd/empty.wav": ("audio", "empty file"),
        "odd/corrupt.wav": ("audio", "unreadable audio"),
        "odd/silent.wav": ("audio", "silent"),
        "odd/nan.wav": ("audio", "non-finite"),
        "odd/missing.wav": ("corpus", "not found"),
        "odd/unlisted.wav": ("corpus", "no row"),
    }
    assert set(reasons) == set(expected)
    for source, (stage, reason) in expected.items():
        assert reasons[source][0] == stage and reason in reasons[source][1], reasons[source]
    assert report["counts"]["kept"] == len(NOTES) + 3
    handled = {d["source_id"]: d["handled"] for d in report["format_differences"]}
    assert set(handled) == {"odd/u8.wav", "odd/48k.wav", "odd/stereo.wav"}
    assert "resampled" in handled["odd/48k.wav"] and "mono" in handled["odd/stereo.wav"]
    markdown = (tmp_path / "cache" / "report.md").read_text()
    assert all(source in markdown for source in [*expected, *handled])
    cache = NoteCache.load(tmp_path / "cache")
    horn = cache.vocab.timbre.index("horn")
    assert list(cache.labels["duration"][cache.labels["timbre"] == horn]) == [duration_class(1.0)] * 3


def test_cache_is_rebuilt_only_when_inputs_or_settings_change(tmp_path):
    corpus, out = write_corpus(tmp_path / "corpus"), tmp_path / "cache"
    assert prep(corpus, out).rebuilt
    written = (out / "mels.npy").stat().st_mtime_ns
    again = prep(corpus, out)
    assert not again.rebuilt and (out / "mels.npy").stat().st_mtime_ns == written
    assert again.report["counts"]["kept"] == len(NOTES)

    note = corpus / "flute" / "flute-52-mf.wav"
    stat = note.stat()
    os.utime(note, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched
    assert prep(corpus, out).rebuilt and not prep(corpus, out).rebuilt

    rows = read_labels(corpus)
    write_labels(corpus, rows)  # the same table written again
    assert not prep(corpus, out).rebuilt
    rows[0][3] = "ff" if rows[0][3] != "ff" else "pp"  # a label changed in the metadata
    write_labels(corpus, rows)
    assert prep(corpus, out).rebuilt and not prep(corpus, out).rebuilt

    assert prep(corpus, out, PrepOptions(seed=1)).rebuilt  # an option
    assert not prep(corpus, out, PrepOptions(seed=1)).rebuilt
    assert prep(corpus, out, PrepOptions(seed=1), mel=MelSettings(db_range=60.0)).rebuilt  # a setting
    assert NoteCache.load(out).mel_settings.db_range == 60.0
    assert prep(corpus, out, PrepOptions(seed=1), mel=MelSettings(db_range=60.0), force=True).rebuilt

    (out / "report.json").unlink()  # an interrupted build
    assert prep(corpus, out, PrepOptions(seed=1), mel=MelSettings(db_range=60.0)).rebuilt


def test_two_workers_give_the_same_cache_as_one(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    one = NoteCache.load(prep(corpus, tmp_path / "one").cache_dir)
    two = NoteCache.load(prep(corpus, tmp_path / "two", workers=2).cache_dir)
    assert np.array_equal(one.mels, two.mels) and np.array_equal(one.split, two.split)
    assert np.array_equal(one.label_matrix(), two.label_matrix()) and np.array_equal(one.peak_db, two.peak_db)


def test_no_usable_note_is_a_clear_error(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.wav").write_bytes(b"")
    write_labels(root, [["a.wav", "violin", 60, "mf"]])
    with pytest.raises(PrepError, match=r"no usable notes.*empty file"):
        prep(root, tmp_path / "cache")


def test_cli_end_to_end(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    corpus, out = write_corpus(tmp_path / "corpus"), tmp_path / "cache"
    command = [
        "data",
        "prep",
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--pitch-range",
        "48",
        "71",
        "--workers",
        "1",
    ]  # two workers: test_two_workers_give_the_same_cache_as_one
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "timbre (3 classes, 12 notes)" in printed and "duration (24 classes, 12 notes)" in printed
    assert "C3 (48)" in printed and "12 notes, 0 skipped, 0 filtered (rebuilt)" in printed
    for name in ("report.md", "report.json", "manifest.json", "mels.npy", "labels.npz", "notes.csv"):
        assert (out / name).is_file(), name
    for figure in ("class_counts.png", "example_mels.png"):
        assert (out / "figures" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    assert report["timing"]["workers"] == 1 and report["splits"] == {"train": 6, "val": 3, "test": 3}
    assert NoteCache.load(out).vocab.pitch == tuple(range(48, 72))

    caplog.clear()
    assert main(command) == 0
    assert "cache up to date" in caplog.text and "(up to date)" in capsys.readouterr().out


def test_cli_names_a_folder_that_is_not_a_corpus(tmp_path, caplog):
    assert main(["data", "prep", "--corpus", str(tmp_path), "--out", str(tmp_path / "cache")]) == 2
    assert "is not a corpus" in caplog.text
    assert (
        main(["data", "prep", "--corpus", str(tmp_path), "--out", str(tmp_path / "c"), "--pitch-range", "80", "40"])
        == 2
    )
    assert "pitch range" in caplog.text
