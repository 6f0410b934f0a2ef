"""Paper 001's three-factor model (variant "tanaka-3f") and paper 002's re-entry option, end to end
from a folder of unlabelled sounds (pitched and unpitched, several formats and rates) through
`rtsynth data folder`, `data prep`, `data perturb`, `train`, `eval`, `export` with presets, and
`render`. Tiny networks; the perturbation is real (pedalboard)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from train_factory import small_cache, tiny_config

from rtsynth.bundle import read_spec
from rtsynth.cli import main
from rtsynth.config import ConfigError
from rtsynth.settings import PAPER_MEL
from rtsynth.train.config import ModelConfig, TanakaConfig, dump_toml, read_config
from rtsynth.train.models.tanaka import Lifter, ThreeFactorVAE, TimbreEncoder, cyclical_beta
from rtsynth.train.perturb import PerturbationBank, PerturbSettings, build_bank, lifter, lifter_cut

TINY = TanakaConfig(timbre_dim=4, variation_dim=2, pitch_dim=2, gru_hidden=8, gru_layers=2, time_pool=8)


def tone(midi: int, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    return (sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8)) * np.exp(-2 * t) * 0.3).astype(np.float32)


def hit(seconds: float, rate: int, bright: bool, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(int(seconds * rate))
    if not bright:
        noise = np.convolve(noise, np.ones(32) / 32, mode="same")  # a dull drum
    return (noise * np.exp(-np.arange(len(noise)) / (0.08 * rate)) * 0.5).astype(np.float32)


def sound_folder(root: Path) -> Path:
    """Pitched tones and unpitched hits at several rates, channel counts, formats and lengths, plus
    one corrupt and one silent file."""
    root.mkdir(parents=True)
    for i, midi in enumerate((48, 55, 60, 64, 67, 72)):
        rate = (44100, 22050, 48000)[i % 3]
        audio = tone(midi, 0.6 + 0.5 * i, rate)
        if i % 2:
            audio = np.stack([audio, 0.5 * audio], axis=1)  # stereo
        soundfile.write(root / f"tone{midi}.{('wav', 'flac', 'aiff')[i % 3]}", audio, rate)
    (root / "kit").mkdir()
    for i in range(8):
        path = root / "kit" / f"hit{i}.wav" if i < 2 else root / f"hit{i}.wav"
        soundfile.write(path, hit(0.3 + 0.05 * i, 44100, i % 2 == 0, i), 44100)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    soundfile.write(root / "silence.wav", np.zeros(22050, np.float32), 22050)
    return root


def test_liftering_splits_the_log_spectrum_at_the_papers_quefrency():
    assert lifter_cut(44100) == 100 and lifter_cut(22050) == 50
    spectrum = np.log(np.abs(np.fft.rfft(tone(57, 0.2, 22050)[:2048] * np.hanning(2048))) + 1e-6)[:, None]
    envelope, fine = lifter(spectrum, 50)
    assert np.allclose(envelope + fine, spectrum, atol=1e-4)
    assert np.abs(np.diff(envelope[:, 0])).mean() < 0.2 * np.abs(np.diff(spectrum[:, 0])).mean()


def test_the_torch_lifter_keeps_the_harmonics_out_of_the_envelope():
    from rtsynth.dsp.mel import mel_power, power_to_unit

    unit, _ = power_to_unit(mel_power(tone(45, 6.0, 22050)[: 255 * 512], PAPER_MEL), PAPER_MEL.db_range)
    envelope, fine = Lifter(PAPER_MEL)(torch.from_numpy(unit)[None])
    low = slice(10, 60)  # mel bins where the 110 Hz harmonics are resolved
    ripple = lambda x: float(torch.diff(x[0, low, 20]).abs().mean())  # noqa: E731
    assert ripple(envelope) < 0.5 * ripple(torch.from_numpy(unit)[None]) < ripple(fine) * 2
    assert envelope.shape == fine.shape == (1, 256, 256)


def test_the_perturbation_bank_shifts_pitch_and_distorts_timbre(tmp_path):
    cache = small_cache(tmp_path / "cache")
    folder = build_bank(cache, PerturbSettings(variants=2, seed=1), progress=False)
    bank = PerturbationBank.load(cache)
    clean = np.load(cache / "mels.npy").astype(np.float32)
    assert bank.envelope.shape == bank.fine.shape == (24, 2, *clean.shape[1:])
    assert json.loads((folder / "bank.json").read_text())["lifter_cut"] == 50
    changed = np.abs(bank.envelope.astype(np.float32) - clean[:, None]).mean()
    assert changed > 0.01 and np.abs(bank.fine.astype(np.float32) - clean[:, None]).mean() > 0.01


def test_a_config_without_its_table_or_a_cache_without_a_bank_is_one_clear_error(tmp_path, caplog):
    path = tmp_path / "bad.toml"
    path.write_text('variant = "tanaka-3f"\n')
    with pytest.raises(ConfigError, match=r"\[tanaka\]"):
        read_config(path)
    config = tiny_config(small_cache(tmp_path / "cache"), variant="tanaka-3f", tanaka=TINY)
    good = tmp_path / "good.toml"
    good.write_text(dump_toml(config))
    assert main(["train", "--config", str(good), "--out", str(tmp_path / "run")]) != 0
    assert "no perturbation bank" in caplog.text and "rtsynth data perturb" in caplog.text


def test_cyclical_annealing_restarts_every_cycle():
    assert [cyclical_beta(e, 10, 1.0) for e in (0, 2, 5, 9, 10, 12)] == [0.0, 0.4, 1.0, 1.0, 0.0, 0.4]


@pytest.mark.parametrize("attack_frames", [0, 4])
def test_the_timbre_encoder_hears_the_attack_unpooled_only_with_attack_frames(attack_frames):
    torch.manual_seed(0)
    encoder = TimbreEncoder(16, replace(TINY, attack_frames=attack_frames), ModelConfig()).eval()
    frames = torch.randn(1, 32, 16)
    swapped = frames.clone()
    swapped[:, :4] = frames[:, [3, 2, 1, 0]]  # the first pooled frame's mean is unchanged
    pooled = torch.nn.functional.avg_pool1d(frames.transpose(1, 2), 8).transpose(1, 2)
    same = torch.allclose(encoder(pooled, frames)[0], encoder(pooled, swapped)[0], atol=1e-6)
    assert same == (attack_frames == 0)


@pytest.mark.parametrize("name", ["tanaka-3f", "tanaka-3f-reentry"])
def test_the_shipped_configs_read_the_attack_unpooled(name):
    tanaka = read_config(name).tanaka
    assert tanaka is not None and tanaka.attack_frames == 24 and tanaka.time_pool == 8


def test_the_timbre_encoders_attack_cannot_be_longer_than_a_note():
    tanaka = replace(TINY, attack_frames=40)
    with pytest.raises(ValueError, match="attack_frames"):
        ThreeFactorVAE(ModelConfig(), tanaka, PAPER_MEL, PAPER_MEL.n_mels, n_frames=32)


@pytest.mark.parametrize(
    "options",
    [dict(reentry=True), dict(perturbation_dropout=0.25), dict(input_noise=0.05), dict(pitch_encoder="conditional")],
    ids=["reentry", "perturbation-dropout", "random-noise", "conditional-pitch"],
)
def test_each_option_trains(tmp_path, options):
    from rtsynth.train.trainer import Trainer

    cache = small_cache(tmp_path / "cache")
    build_bank(cache, PerturbSettings(variants=1), progress=False)
    tanaka = replace(TINY, **options)
    trainer = Trainer(
        tiny_config(cache, variant="tanaka-3f", tanaka=tanaka, max_epochs=1, batch_size=8), tmp_path / "r"
    )
    trainer.fit()
    row = trainer.history[-1]
    assert np.isfinite(row["train_total"]) and row["val_kl_pitch"] > 0
    assert ("train_re_recon_edge_mse" in row) == options.get("reentry", False)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sounds")
    sounds = sound_folder(root / "sounds")
    assert (
        main(["data", "prep", "--corpus", str(sounds), "--out", str(root / "cache"), "--workers", "1", "--no-figures"])
        == 0
    )
    assert main(["data", "perturb", str(root / "cache"), "--variants", "1"]) == 0
    tanaka = replace(TINY, reentry=True, attack_frames=4)
    config = tiny_config(root / "cache", variant="tanaka-3f", tanaka=tanaka, max_epochs=15, batch_size=4, lr=0.01)
    (root / "3f.toml").write_text(dump_toml(config))
    assert main(["train", "--config", str(root / "3f.toml"), "--out", str(root / "run")]) == 0
    return root / "run"


def test_data_folder_lists_an_unlabelled_corpus_with_the_reasons(tmp_path, caplog):
    sounds = sound_folder(tmp_path / "sounds")
    caplog.set_level(logging.INFO)
    assert main(["data", "folder", "--root", str(sounds)]) == 0
    assert "14 notes, 2 skipped" in caplog.text
    assert "broken.wav: unreadable audio" in caplog.text and "silence.wav: silent" in caplog.text


def test_a_folder_without_usable_audio_is_one_error_and_loses_nothing(tmp_path, caplog, folder_run):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.wav").write_bytes(b"not audio")
    soundfile.write(bad / "silence.wav", np.zeros(1000, np.float32), 22050)
    assert main(["data", "folder", "--root", str(bad)]) == 2
    assert "no usable audio" in caplog.text
    cache = folder_run.parent / "cache"
    before = {p.name: p.read_bytes() for p in cache.iterdir() if p.is_file()}
    assert main(["data", "prep", "--corpus", str(bad), "--out", str(cache), "--workers", "1", "--no-figures"]) == 2
    assert "no usable notes" in caplog.text
    assert {p.name: p.read_bytes() for p in cache.iterdir() if p.is_file()} == before


def test_eval_reports_global_and_frame_wise_knn_for_both_encoders(folder_run):
    assert main(["eval", str(folder_run), "--classifier-epochs", "1"]) == 0
    metrics = json.loads((folder_run / "metrics.json").read_text())
    knn = metrics["paper_001"]["knn"]
    assert set(knn) == {"small", "large"}  # re-entry: paper 002's two encoders
    assert set(knn["small"]) == {"timbre", "variation", "pitch"}
    assert all(v is None for row in knn["small"].values() for v in row.values())  # placeholder labels: one class
    assert metrics["table_one"]["accuracy"]["duration"] is None and "k-NN" in metrics["headline"]["name"]
    assert "k-NN (k=5)" in (folder_run / "report.md").read_text()


def test_eval_on_a_labelled_cache_scores_every_latent(tmp_path):
    from rtsynth.train.trainer import Trainer

    cache = small_cache(tmp_path / "cache")
    build_bank(cache, PerturbSettings(variants=1), progress=False)
    Trainer(tiny_config(cache, variant="tanaka-3f", tanaka=TINY, max_epochs=1, batch_size=8), tmp_path / "run").fit()
    assert main(["eval", str(tmp_path / "run"), "--classifier-epochs", "1"]) == 0
    knn = json.loads((tmp_path / "run" / "metrics.json").read_text())["paper_001"]["knn"]
    assert set(knn) == {"small"}
    scores = [knn["small"][latent][label] for latent in ("timbre", "pitch") for label in ("timbre", "pitch")]
    assert all(0.0 <= v <= 1.0 for v in scores)  # dynamics has one class in this cache: None


def test_export_makes_presets_and_render_plays_them_across_the_keyboard(folder_run, tmp_path):
    if not (folder_run / "metrics.json").is_file():
        assert main(["eval", str(folder_run), "--classifier-epochs", "1"]) == 0
    bundle = tmp_path / "bundle"
    args = ["export", str(folder_run), "--out", str(bundle), "--presets", "3", "--mark", "kit/hit0.wav"]
    assert main([*args, "--tuning-step", "0"]) == 0
    spec = read_spec(bundle)
    assert list(spec.vocab.timbre) == ["cluster-1", "cluster-2", "cluster-3", "hit0"]
    assert spec.layout.names == ("timbre", "pitch", "dynamics") and not spec.layout.has("duration")
    examples = spec.model["preset_examples"]
    assert examples["hit0"] == ["kit/hit0.wav"] and all(len(examples[f"cluster-{i}"]) >= 1 for i in (1, 2, 3))
    peaks = {}
    for timbre, note in (("hit0", 60), ("cluster-1", 36), ("cluster-2", 84)):
        out = tmp_path / f"{timbre}.wav"
        assert main(["render", "--bundle", str(bundle), "--timbre", timbre, "--note", str(note), "-o", str(out)]) == 0
        audio, _ = soundfile.read(out)
        peaks[timbre] = 20 * np.log10(np.abs(audio).max())
    source, _ = soundfile.read(folder_run.parent / "sounds" / "kit" / "hit0.wav")
    # a marked file's preset sounds near that file's level, however faint the tiny decoder's mel (the
    # mel path's own level mapping leaves it 10-23 dB under, as on every uncalibrated bundle; the
    # tiny model differs from one CPU to another)
    assert abs(peaks["hit0"] - 20 * np.log10(np.abs(source).max())) < 25
    assert min(peaks.values()) > -40


def test_the_gm_kit_renders_unpitched_sounds_for_an_unlabelled_corpus(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    assert main(["data", "gm-kit", "--out", str(tmp_path / "kit"), "--keys", "36", "38"]) == 0
    files = sorted(p.name for p in (tmp_path / "kit").iterdir())
    assert files == ["36-bass-drum-1.wav", "37-side-stick.wav", "38-acoustic-snare.wav"]
    for name in files:
        audio, rate = soundfile.read(tmp_path / "kit" / name)
        assert rate == 44100 and np.abs(audio).max() > 0.01
    assert main(["data", "folder", "--root", str(tmp_path / "kit")]) == 0
    assert "unlabelled corpus" in caplog.text and "3 notes, 0 skipped" in caplog.text
