"""Leave-one-SoundFont-out: one cache from several corpora (real GM-SOL renders from two
SoundFonts), and `rtsynth eval RUN --on CACHE` scoring a tiny trained run on another cache."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from train_factory import make_cache, tiny_config

from rtsynth.cli import main
from rtsynth.labels import DESCRIPTORS
from rtsynth.train.prep.cache import NoteCache, write_cache
from rtsynth.train.prep.options import PrepOptions
from rtsynth.train.prep.pipeline import prepare_corpus
from rtsynth.train.trainer import Trainer

SOUNDFONTS = [Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), Path("/usr/share/sounds/sf2/sf_GMbank.sf2")]


def render(soundfont: Path, out: Path) -> Path:
    from rtsynth.train.corpus import gm

    cfg = gm.GmRenderConfig(
        soundfont=str(soundfont),
        instruments=("flute", "cello"),
        pitch_range=(60, 61),
        dynamics=("mf",),
        takes=1,
        aim_classes=(2, 2),
        workers=1,
    )
    gm.render_corpus(cfg, out, progress=False)
    return out


@pytest.mark.skipif(not all(p.is_file() for p in SOUNDFONTS), reason="needs timgm6mb-soundfont, csound-soundfont")
def test_one_cache_from_two_soundfonts_keeps_each_notes_source(tmp_path):
    corpora = [render(sf, tmp_path / sf.stem) for sf in SOUNDFONTS]
    options = PrepOptions(pitch_range=(60, 61))
    outcome = prepare_corpus(corpora, tmp_path / "cache", options, workers=1, progress=False, figures=False)
    cache = NoteCache.load(outcome.cache_dir)
    assert len(cache) == 8 and cache.vocab.timbre == ("cello", "flute")
    sources = cache.manifest["corpus"]["sources"]
    assert [(s["name"], s["soundfont"], s["notes"]) for s in sources] == [
        ("TimGM6mb", str(SOUNDFONTS[0]), 4),
        ("sf_GMbank", str(SOUNDFONTS[1]), 4),
    ]
    with open(cache.root / "notes.csv", newline="") as f:
        ids = sorted(row["source"] for row in csv.DictReader(f))
    assert ids[0] == "TimGM6mb/wav/cello/cello-060-C4-mf-0.wav" and ids[-1].startswith("sf_GMbank/wav/flute/")
    root = Path(cache.manifest["corpus"]["root"])
    assert root == tmp_path.resolve() and all((root / i).is_file() for i in ids)
    again = prepare_corpus(corpora, tmp_path / "cache", options, workers=1, progress=False, figures=False)
    assert not again.rebuilt  # the fingerprint covers both corpora's files and tables
    (corpora[1] / "labels.csv").write_text((corpora[1] / "labels.csv").read_text().replace(",cello,", ",viola,"))
    changed = prepare_corpus(corpora, tmp_path / "cache", options, workers=1, progress=False, figures=False)
    assert changed.rebuilt and NoteCache.load(changed.cache_dir).vocab.timbre == ("viola", "cello", "flute")


def test_nested_corpora_get_one_error_line(tmp_path, caplog):
    for folder in ("gm", "gm/inner"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "labels.csv").write_text("path,instrument,pitch,dynamics\n")
    with caplog.at_level(logging.ERROR):
        corpora = ["--corpus", str(tmp_path / "gm"), "--corpus", str(tmp_path / "gm/inner")]
        rc = main(["data", "prep", *corpora, "--out", str(tmp_path / "cache")])
    assert rc == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("corpus folders must differ and not contain one another")
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny run trained on one synthetic cache, and a second cache of the same notes with other noise."""
    root = tmp_path_factory.mktemp("holdout")
    cache = make_cache(root / "train-cache", repeats=1)
    run = root / "run"
    Trainer(tiny_config(cache, max_epochs=12, lr=0.005), run).fit()
    return run, make_cache(root / "held-cache", repeats=1, seed=1)


def test_eval_on_a_held_out_cache_reports_accuracy_and_timbre_confusion(trained, tmp_path):
    run, held_dir = trained
    assert main(["eval", str(run), "--on", str(held_dir), "--out", str(tmp_path / "h"), "--checkpoint", "last"]) == 0
    report = json.loads((tmp_path / "h.json").read_text())
    held = NoteCache.load(held_dir)
    timbre = held.labels["timbre"]
    confusion = np.array(report["timbre_confusion"])
    assert report["held_out_scores"]["notes"] == len(held) == confusion.sum()
    assert confusion.sum(axis=1).tolist() == np.bincount(timbre, minlength=3).tolist()
    scores = report["held_out_scores"]
    assert scores["classifier"]["timbre"] == pytest.approx(np.trace(confusion) / len(held))
    assert set(scores["classifier"]) == set(scores["knn"]) == set(DESCRIPTORS)
    # the synthetic timbres differ in spectral tilt, which a new noise draw keeps: far above chance (1/3)
    assert scores["classifier"]["timbre"] > 0.6 and scores["knn"]["timbre"] > 0.6
    markdown = (tmp_path / "h.md").read_text()
    assert "| timbre | " in markdown and "| flute | " in markdown and str(held_dir) in markdown
    assert report["trained_on"] == [str(run.parent / "train-cache")]
    # the same synthetic notes with another noise draw: every timbre counts as a recording training holds
    assert report["heard_in_training"]["timbres"] == list(held.vocab.timbre) and report["unheard_scores"] is None


def test_a_held_out_cache_with_a_class_the_run_lacks_gets_one_error_line(trained, tmp_path, caplog):
    run = trained[0]
    other = make_cache(tmp_path / "other", repeats=1)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["vocabulary"]["timbre"] = ["flute", "violin", "oboe"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.ERROR):
        assert main(["eval", str(run), "--on", str(other), "--checkpoint", "last"]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "timbre classes run" in errors[0]
    assert "was not trained on: ['oboe'] (the run's: ['flute', 'violin', 'trumpet'])" in errors[0]
    assert not list(run.glob("holdout-*"))
    with caplog.at_level(logging.ERROR):
        assert main(["eval", str(run), "--on", str(tmp_path / "missing")]) == 2
    assert "no manifest.json" in caplog.records[-1].getMessage()


def test_a_held_out_bank_lacking_an_instrument_is_scored_in_the_runs_classes(trained, tmp_path):
    """Its vocabulary lists violin before flute and has no trumpet (as freepats has no viola):
    its labels are read by name, so the timbres it has still score as on the whole bank."""
    run, held_dir = trained
    full = NoteCache.load(held_dir, mmap=False)
    keep = np.flatnonzero(full.labels["timbre"] != 2)
    labels = {d: full.labels[d][keep] for d in DESCRIPTORS}
    labels["timbre"] = 1 - labels["timbre"]  # flute 0 -> 1, violin 1 -> 0
    vocab = replace(full.vocab, timbre=("violin", "flute"))
    part = write_cache(
        tmp_path / "part",
        full.mels[keep],
        labels,
        full.split[keep],
        full.peak_db[keep],
        full.duration_s[keep],
        [f"note{i}" for i in keep],
        vocab,
        full.mel_settings,
        {"synthetic": True},
    )
    out = tmp_path / "h"
    assert main(["eval", str(run), "--on", str(part), "--out", str(out), "--checkpoint", "last"]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["timbre_classes"] == ["flute", "violin", "trumpet"] and report["timbres_missing"] == ["trumpet"]
    confusion = np.array(report["timbre_confusion"])
    assert confusion.sum() == len(keep) and confusion[2].sum() == 0 and report["timbre_recall"]["trumpet"] is None
    assert report["held_out_scores"]["classifier"]["timbre"] > 0.6  # labels read by index would score far lower
    assert "The held-out bank has no notes of: trumpet." in out.with_suffix(".md").read_text()


def test_instruments_whose_recordings_training_holds_are_scored_apart(trained, tmp_path):
    """Flute is played from the training recordings (another noise draw); violin and trumpet
    from other ones (a noise floor 0.05 higher): only those two measure a new sound."""
    run, _ = trained
    held_dir = make_cache(tmp_path / "held", repeats=1, seed=1)
    cache = NoteCache.load(held_dir, mmap=False)
    other = cache.labels["timbre"] != 0
    mels = cache.mels.copy()
    mels[other] = np.clip(mels[other].astype(np.float32) + 0.05, 0, 1)
    np.save(held_dir / "mels.npy", mels)
    assert main(["eval", str(run), "--on", str(held_dir), "--out", str(tmp_path / "h"), "--checkpoint", "last"]) == 0
    report = json.loads((tmp_path / "h.json").read_text())
    heard = report["heard_in_training"]
    assert heard["timbres"] == ["flute"]
    assert heard["distance"]["flute"] < heard["below"] < heard["distance"]["violin"]
    confusion, unheard = np.array(report["timbre_confusion"]), report["unheard_scores"]
    assert unheard["notes"] == int(other.sum()) == confusion[1:].sum()
    assert unheard["classifier"]["timbre"] == pytest.approx(np.trace(confusion[1:, 1:]) / confusion[1:].sum())
    assert "already hold (median mean |Δmel|" in (tmp_path / "h.md").read_text()
