"""`rtsynth tune-audio`: a tiny harmonic run trained on real GM-SOL notes, its decoder tuned
against the same notes rendered by FluidSynth at 48 kHz, exported and played from its partials."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from train_factory import tiny_config

from rtsynth.bundle import read_spec
from rtsynth.cli import main
from rtsynth.train.prep.options import PrepOptions
from rtsynth.train.prep.pipeline import prepare_corpus
from rtsynth.train.trainer import Trainer

PITCHES = (60, 63)


def _render(out: Path, sample_rate: int) -> Path:
    from rtsynth.train.corpus import gm

    cfg = gm.GmRenderConfig(
        instruments=("flute", "cello"),
        pitch_range=PITCHES,
        dynamics=("mf", "ff"),
        takes=1,
        aim_classes=(2, 3),
        workers=1,
        sample_rate=sample_rate,
    )
    gm.render_corpus(cfg, out, progress=False)
    return out


@pytest.fixture(scope="module")
def harmonic_run(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny harmonic run on a real 44.1 kHz render, and the 48 kHz render of the same notes."""
    root = tmp_path_factory.mktemp("tune")
    corpus, reference = _render(root / "gm", 44100), _render(root / "gm-48k", 48000)
    outcome = prepare_corpus(
        corpus, root / "cache", PrepOptions(pitch_range=PITCHES), workers=1, progress=False, figures=False
    )
    config = tiny_config(outcome.cache_dir, max_epochs=2, batch_size=8)
    model = dataclasses.replace(config.model, decoder_output="harmonic", partials=16, pitch_hidden=8)
    Trainer(config.replace(model=model), root / "run").fit()
    return root / "run", reference


def _windows_loss(run_dir: Path, reference: Path, offset_db: float) -> float:
    """The mel loss of every training note's first window at its loudness, the same for any run."""
    from rtsynth.train.audio import AudioLoss, reference_audio
    from rtsynth.train.runs import load_run

    run = load_run(run_dir)
    train = run.cache.indices("train")
    targets, rate = reference_audio(run.cache, reference, train)
    loss = AudioLoss(run.model.decoder, run.cache.mel_settings, rate, 24)
    gains = torch.from_numpy(10 ** ((run.cache.peak_db[train] + offset_db) / 20).astype(np.float32))
    torch.manual_seed(0)
    with torch.no_grad():
        mels = torch.from_numpy(np.asarray(run.cache.mels[train], dtype=np.float32))
        z = torch.cat([mu for mu, _ in run.model.encode(mels).values()], dim=1)
        starts, no_tail = torch.zeros(len(train), dtype=torch.long), torch.full((len(train),), 1 << 20)
        return float(loss(z, torch.from_numpy(targets), starts, gains, no_tail))


def _tail_over_peak_db(run_dir: Path) -> float:
    """The loudest frame after any training note's end (its release left out), in dB over that
    note's loudest, as the engine reads the decoder: where it sees the note stop sounding."""
    from rtsynth.train.audio import TAIL_MARGIN_FRAMES, AudioLoss, sounding_frames
    from rtsynth.train.runs import load_run

    run = load_run(run_dir)
    train = run.cache.indices("train")
    mel = run.cache.mel_settings
    loss = AudioLoss(run.model.decoder, mel, 48000, 24)
    with torch.no_grad():
        mels = torch.from_numpy(np.asarray(run.cache.mels[train], dtype=np.float32))
        z = torch.cat([mu for mu, _ in run.model.encode(mels).values()], dim=1)
        db = loss.frame_levels_db(loss.parameters_of(z)).numpy()
    ends = sounding_frames(run.cache, train) + TAIL_MARGIN_FRAMES
    return max(float(row[end:].max() - row.max()) for row, end in zip(db, ends, strict=True) if end < len(row))


def test_tuning_brings_the_synthesis_closer_to_the_audio_and_the_bundle_plays_it(harmonic_run, tmp_path):
    run, reference = harmonic_run
    tuned = tmp_path / "tuned"
    argv = ["tune-audio", str(run), "--reference", str(reference), "--out", str(tuned), "--threads", "1"]
    assert main([*argv, "--epochs", "16", "--batch-size", "4", "--lr", "3e-3"]) == 0
    facts = json.loads((tuned / "audio-tune.json").read_text())
    assert facts["sample_rate"] == 48000 and [row["epoch"] for row in facts["history"]] == list(range(17))
    offset = facts["level_offset_db"]
    before, after = _windows_loss(run, reference, offset), _windows_loss(tuned, reference, offset)
    assert after < 0.9 * before, (before, after)
    assert _tail_over_peak_db(tuned) < _tail_over_peak_db(run) - 15  # the silence after each note is learned too

    bundle, direct = tmp_path / "bundle", tmp_path / "direct"
    assert main(["export", str(tuned), "--out", str(bundle), "--tuning-step", "0"]) == 0
    assert read_spec(bundle).model["audio_tuned"]["sample_rate"] == 48000
    assert main(["export-synthesis", str(bundle), "--out", str(direct)]) == 0
    assert read_spec(direct).synthesis["max_partial_hz"] == 24000.0  # partials heard in training play

    from rtsynth.dsp.fidelity import f0_error_cents, partial_cents, sounding_span
    from rtsynth.dsp.pitch import midi_hz
    from rtsynth.engine.backends import OfflineRenderer
    from rtsynth.engine.config import EngineConfig
    from rtsynth.render import NoteRequest, note_events

    audio = OfflineRenderer(direct, EngineConfig(samplerate=48000)).render(
        note_events(NoteRequest(62, 100, 0.5, "flute"))
    )
    start, _ = sounding_span(audio, 48000)
    held = audio[int((start + 0.05) * 48000) : int((start + 0.4) * 48000)]
    assert abs(f0_error_cents(partial_cents(held, 48000, midi_hz(62)))) < 1.0


def test_a_missing_reference_note_gets_one_error_line_and_writes_nothing(harmonic_run, tmp_path, caplog):
    run, reference = harmonic_run
    partial = tmp_path / "ref"
    shutil.copytree(reference, partial)
    missing = partial / "wav" / "flute"
    shutil.rmtree(missing)
    with caplog.at_level(logging.ERROR):
        rc = main(["tune-audio", str(run), "--reference", str(partial), "--out", str(tmp_path / "t"), "--epochs", "1"])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert rc == 2 and len(errors) == 1 and str(missing) in errors[0]
    assert not (tmp_path / "t").exists()


def test_an_existing_run_directory_is_not_overwritten(harmonic_run, caplog):
    run, reference = harmonic_run
    before = (run / "checkpoints" / "best.pt").read_bytes()
    with caplog.at_level(logging.ERROR):
        rc = main(["tune-audio", str(run), "--reference", str(reference), "--out", str(run), "--epochs", "1"])
    assert rc == 2 and "already" in caplog.text
    assert (run / "checkpoints" / "best.pt").read_bytes() == before


def test_a_run_without_the_harmonic_decoder_gets_one_error_line(tmp_path, caplog):
    from train_factory import make_cache

    cache = make_cache(tmp_path / "cache", repeats=1)
    Trainer(tiny_config(cache, max_epochs=1), tmp_path / "mel-run").fit()
    with caplog.at_level(logging.ERROR):
        rc = main(["tune-audio", str(tmp_path / "mel-run"), "--reference", str(tmp_path), "--out", str(tmp_path / "t")])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert rc == 2 and errors == ["tune-audio needs a decoder with the harmonic output (decoder_output = 'harmonic')"]
    assert not (tmp_path / "t").exists()


def test_the_fine_spectrum_loss_tunes_too(harmonic_run, tmp_path):
    """`--loss mel-fine` (the log-mel plus the spectrum below 1 kHz) trains and its validation
    loss, measured with that loss, falls."""
    run, reference = harmonic_run
    tuned = tmp_path / "fine"
    argv = ["tune-audio", str(run), "--reference", str(reference), "--out", str(tuned), "--threads", "1"]
    assert main([*argv, "--loss", "mel-fine", "--epochs", "4", "--batch-size", "4", "--lr", "3e-3"]) == 0
    facts = json.loads((tuned / "audio-tune.json").read_text())
    assert facts["options"]["loss"] == "mel-fine"
    losses = [row["val_loss"] for row in facts["history"]]
    assert losses[-1] < losses[0], losses
