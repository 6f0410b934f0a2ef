"""Trainer: a tiny run end to end through the CLI, exact resume (in process and after a
SIGKILL), divergence naming the term, epoch-mean validation, weights-only checkpoints."""

from __future__ import annotations

import csv
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from train_factory import make_cache, tiny_config

from rtsynth.bundle import read_spec
from rtsynth.cli import main as rtsynth_main
from rtsynth.config import ConfigError
from rtsynth.labels import DESCRIPTORS
from rtsynth.resources import configs_dir, default_bundle
from rtsynth.train.config import Ramp, TrainConfig, config_from_dict, dump_toml, read_config
from rtsynth.train.losses import Weights, model_terms, model_total
from rtsynth.train.runs import RunError, load_checkpoint, load_run
from rtsynth.train.trainer import DivergenceError, EarlyStopping, Trainer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return make_cache(tmp_path_factory.mktemp("cache") / "tiny")


def _write(config: TrainConfig, path: Path) -> Path:
    path.write_text(dump_toml(config))
    return path


def _rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    payload = load_checkpoint(path)
    return {
        **{f"model.{k}": v for k, v in payload["model"].items()},
        **{f"trained.{k}": v for k, v in payload.get("trained_model", {}).items()},
        **{f"removers.{k}": v for k, v in (payload["removers"] or {}).items()},
    }


def test_cli_trains_two_epochs_and_loss_falls(cache, tmp_path):
    config = _write(tiny_config(cache), tmp_path / "tiny.toml")
    run = tmp_path / "run"
    assert rtsynth_main(["train", "--config", str(config), "--out", str(run)]) == 0
    rows = _rows(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["train_total"]) < float(rows[0]["train_total"])
    assert float(rows[1]["val_monitor"]) < float(rows[0]["val_monitor"])
    for key in [
        "lr",
        "beta",
        "lambda",
        "seconds",
        "train_recon_edge_mse",
        "val_recon_huber",
        *(f"val_acc_{d}" for d in DESCRIPTORS),
        *(f"train_rem_{d}" for d in DESCRIPTORS),
        *(f"val_kl_{d}" for d in DESCRIPTORS),
        *(f"train_adv_{d}" for d in DESCRIPTORS),
    ]:
        assert key in rows[0], key
    assert all(0.0 <= float(rows[1][f"val_acc_{d}"]) <= 1.0 for d in DESCRIPTORS)
    assert read_config(run / "config.toml") == tiny_config(cache)
    assert (run / "train.log").read_text().count("epoch 2:") == 1


def test_cli_seed_overrides_the_config(cache, tmp_path):
    config = _write(tiny_config(cache, max_epochs=1), tmp_path / "tiny.toml")
    runs = {seed: tmp_path / f"seed{seed}" for seed in (0, 7)}
    for seed, run in runs.items():
        assert rtsynth_main(["train", "--config", str(config), "--out", str(run), "--seed", str(seed)]) == 0
    assert read_config(runs[7] / "config.toml") == tiny_config(cache, max_epochs=1, seed=7)
    first, other = (_weights(run / "checkpoints" / "last.pt") for run in runs.values())
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_checkpoints_load_weights_only_with_their_classifiers(cache, tmp_path):
    Trainer(tiny_config(cache), tmp_path / "run").fit()
    for which in ("best", "last"):
        payload = load_checkpoint(tmp_path / "run" / "checkpoints" / f"{which}.pt")
        assert payload["epoch"] in (1, 2)
    loaded = load_run(tmp_path / "run", "best")
    assert not loaded.model.training and loaded.removers is not None
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert loaded.epoch == best["epoch"]
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, best["model"][name]), name  # classifiers included
    assert any(k.startswith("classifiers.") for k in best["model"])
    mel = torch.from_numpy(loaded.cache.mels[:2].astype("float32"))
    assert loaded.model(mel).recon.shape == mel.shape


def test_checkpoints_keep_the_weight_average_for_evaluation_and_the_weights_for_resume(cache, tmp_path):
    config = tiny_config(cache)
    assert config.weight_average > 0  # tiny.toml turns it on
    trainer = Trainer(config, tmp_path / "run")
    trainer.fit()
    payload = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert payload["average_updates"] == trainer.average.updates > 0
    own = trainer.net.state_dict()
    assert all(torch.equal(own[k], payload["trained_model"][k]) for k in own)
    assert any(not torch.equal(own[k], payload["model"][k]) for k in own)  # "model" is the average
    off = tmp_path / "off"
    Trainer(config.replace(weight_average=0.0), off).fit()
    assert "trained_model" not in load_checkpoint(off / "checkpoints" / "last.pt")


def test_a_checkpoint_from_before_the_decoder_heads_still_loads_and_resumes(cache, tmp_path):
    """Runs written when the mel output layer was `decoder.output` evaluate and resume as they did."""
    config = tiny_config(cache)
    Trainer(config, tmp_path / "run").fit()
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    payload = load_checkpoint(path)
    new = payload["model"]
    payload["model"] = {k.replace("decoder.head.output.", "decoder.output."): v for k, v in new.items()}
    assert "decoder.output.weight" in payload["model"]
    payload.pop("mel_settings")
    torch.save(payload, path)
    loaded = load_run(tmp_path / "run", "last")
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, new[name]), name
    Trainer(config.replace(max_epochs=config.max_epochs + 1), tmp_path / "run", resume=True).fit()
    assert len(_rows(tmp_path / "run")) == config.max_epochs + 1


def test_resume_continues_exactly(cache, tmp_path):
    Trainer(tiny_config(cache, max_epochs=3), tmp_path / "straight").fit()
    Trainer(tiny_config(cache, max_epochs=1), tmp_path / "split").fit()
    with pytest.raises(RunError, match="already holds a run"):
        Trainer(tiny_config(cache, max_epochs=3), tmp_path / "split")
    Trainer(tiny_config(cache, max_epochs=3), tmp_path / "split", resume=True).fit()
    straight, split = _rows(tmp_path / "straight"), _rows(tmp_path / "split")
    for a, b in zip(straight, split):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    a, b = _weights(tmp_path / "straight/checkpoints/last.pt"), _weights(tmp_path / "split/checkpoints/last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_at_a_new_learning_rate(cache, tmp_path):
    config = _write(tiny_config(cache, max_epochs=1), tmp_path / "tiny.toml")
    run = tmp_path / "run"
    assert rtsynth_main(["train", "--config", str(config), "--out", str(run)]) == 0
    assert rtsynth_main(["train", "--config", str(config), "--out", str(run), "--lr", "1e-4"]) == 2  # needs --resume
    assert rtsynth_main(["train", "--out", str(run), "--resume", "--lr", "2.5e-4", "--max-epochs", "2"]) == 0
    rows = _rows(run)
    assert float(rows[0]["lr"]) == tiny_config(cache).lr and float(rows[1]["lr"]) == 2.5e-4
    assert "learning rate set to 0.00025 after epoch 1" in (run / "train.log").read_text()


def _wait_for_first_epoch(proc: subprocess.Popen, run: Path, output: Path) -> None:
    """Until the run's first epoch is on disk: metrics.csv is written, atomically, after its checkpoints."""
    deadline = time.monotonic() + 600
    while not (run / "metrics.csv").exists():
        assert proc.poll() is None, f"training ended before its first epoch:\n{output.read_text()}"
        assert time.monotonic() < deadline, "no epoch finished within 10 minutes"
        time.sleep(0.02)


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    # a run far longer than the test waits for, killed once its first epoch is on disk: however
    # slow or fast the machine, the kill lands mid-run, after a checkpoint (no race with either)
    config = tiny_config(make_cache(tmp_path / "cache", repeats=1), max_epochs=10_000, patience=10_000)
    path = _write(config, tmp_path / "tiny.toml")
    run, output = tmp_path / "killed", tmp_path / "killed.out"
    cmd = [sys.executable, "-m", "rtsynth", "-q", "train", "--config", str(path), "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with output.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_first_epoch(proc, run, output)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = len(_rows(run))
    assert done >= 1 and proc.returncode == -signal.SIGKILL
    target = done + 2
    resumed = subprocess.run(
        [*cmd, "--resume", "--max-epochs", str(target)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    Trainer(config.replace(max_epochs=target), tmp_path / "straight").fit()
    a, b = _weights(tmp_path / "straight/checkpoints/last.pt"), _weights(run / "checkpoints/last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_divergence_names_the_term_and_keeps_last_good_checkpoint(cache, tmp_path, monkeypatch, caplog):
    import rtsynth.train.step as step_module

    calls = {"n": 0}
    real = step_module.model_terms

    def poisoned(*args, **kwargs):
        terms = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 20:  # training step 10 of epoch 2 (11 steps per epoch)
            terms["kl_pitch"] = terms["kl_pitch"] * float("nan")
        return terms

    monkeypatch.setattr(step_module, "model_terms", poisoned)
    config = _write(tiny_config(cache, max_epochs=3), tmp_path / "tiny.toml")
    run = tmp_path / "run"
    assert rtsynth_main(["train", "--config", str(config), "--out", str(run)]) == 1
    assert "'kl_pitch'" in caplog.text and "epoch 2" in caplog.text
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 1
    assert len(_rows(run)) == 1
    with pytest.raises(DivergenceError, match="kl_pitch"):
        Trainer(tiny_config(cache, max_epochs=3), run, resume=True).fit()


def test_validation_is_the_mean_over_all_notes(cache, tmp_path):
    trainer = Trainer(tiny_config(cache, batch_size=16), tmp_path / "run")
    weights = Weights(beta=0.5, remover=0.5)
    batched = trainer.validate(weights)
    assert len(trainer.val_data) % 16  # the last batch is smaller: a plain mean of batch means would differ
    whole = trainer.val_data.batch(list(range(len(trainer.val_data))))
    trainer.net.eval()
    with torch.no_grad():
        out = trainer.net(whole.mel)
        terms = model_terms(trainer.net, out, whole.mel, whole.labels, trainer.removers, trainer.config.loss)
    assert batched["recon_edge_mse"] == pytest.approx(float(terms["recon_edge_mse"]), rel=2e-3)
    assert batched["kl_timbre"] == pytest.approx(float(terms["kl_timbre"]), rel=1e-4)
    assert batched["total"] == pytest.approx(float(model_total(terms, trainer.config.loss, weights)), rel=2e-3)


def test_non_finite_cache_is_a_clear_error(tmp_path):
    import numpy as np

    from rtsynth.train.prep.cache import NoteCache, write_cache

    good = NoteCache.load(make_cache(tmp_path / "good", repeats=1))
    mels = np.array(good.mels, dtype=np.float32)
    mels[np.flatnonzero(good.split == 0)[0], 3, 3] = np.nan
    write_cache(
        tmp_path / "bad",
        mels,
        good.labels,
        good.split,
        good.peak_db,
        good.duration_s,
        [f"n{i}" for i in range(len(mels))],
        good.vocab,
        good.mel_settings,
        {},
    )
    with pytest.raises(ValueError, match="non-finite"):
        Trainer(tiny_config(tmp_path / "bad"), tmp_path / "run")


def test_early_stopping_counts_only_after_warmup():
    stop = EarlyStopping(patience=2)
    assert stop.update(5.0, 1, counting=False)
    assert not stop.update(6.0, 2, counting=False) and stop.bad_epochs == 0
    assert not stop.update(6.0, 3, counting=True) and not stop.stop
    assert stop.update(4.0, 4, counting=True) and stop.best_epoch == 4
    stop.update(4.5, 5, counting=True)
    stop.update(4.5, 6, counting=True)
    assert stop.stop


def test_ramps_are_bounded():
    ramp = Ramp(start=0.0, end=2.0, delay=3, epochs=4)
    values = [ramp.value(e) for e in range(20)]
    assert values[:4] == [0.0] * 4 and values[5] == 1.0 and max(values) == 2.0 and values[-1] == 2.0
    assert ramp.last_ramp_epoch == 7 and ramp.value(7) == 2.0


def test_shipped_configs_load(tmp_path):
    paths = sorted((configs_dir() / "train").glob("*.toml"))
    assert {p.stem for p in paths} >= {"vae-c", "md-vae-c", "md-gmvae-c", "md-gmvae-c-r", "md-gmvae-c-r-full", "tiny"}
    for path in paths:
        config = read_config(path)
        assert read_config(_write(config, tmp_path / path.name)) == config


def test_the_defaults_are_the_full_range_harmonic_recipe():
    assert read_config("md-gmvae-c-r-full") == TrainConfig()


def test_the_shipped_bundle_was_trained_from_its_named_config():
    """The default bundle states its recipe: md-gmvae-c-r-full-shorten, its sound tuned at 48 kHz."""
    model = read_spec(default_bundle()).model
    named = read_config("md-gmvae-c-r-full-shorten")
    stored = config_from_dict(model["config"])  # trained with --threads 2 --max-epochs 150
    assert stored.replace(num_threads=named.num_threads, max_epochs=named.max_epochs) == named
    assert model["audio_tuned"]["sample_rate"] == 48000


def test_retired_fields_are_refused_unless_a_stored_run_holds_the_value_that_stayed(tmp_path):
    stored = TrainConfig().to_dict()
    stored["model"] = {**stored["model"], "dropout": 0.0}
    assert config_from_dict(stored) == TrainConfig()
    stored["model"]["dropout"] = 0.3
    with pytest.raises(ConfigError, match=r"model\.dropout was retired"):
        config_from_dict(stored)
    path = tmp_path / "mine.toml"
    path.write_text("[model]\ndropout = 0.0\n")
    with pytest.raises(ConfigError, match=re.escape("unknown keys ['dropout']")):
        read_config(path)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_keys(path: Path) -> None:
    payload = load_checkpoint(path)
    del payload["optimizer"], payload["history"]
    from rtsynth.train.runs import save_checkpoint

    save_checkpoint(path, payload)


@pytest.mark.parametrize(
    "damage, named",
    [
        (_flip_a_byte, "sha256 does not match"),
        (_drop_keys, "lacks optimizer, history"),
        (lambda path: path.write_bytes(b""), "is empty (0 bytes)"),
    ],
)
def test_a_damaged_last_checkpoint_is_refused_and_training_resumes_from_the_one_before(
    cache, tmp_path, caplog, damage, named
):
    config = tiny_config(cache)
    Trainer(config.replace(max_epochs=2), tmp_path / "run").fit()
    checkpoints = tmp_path / "run" / "checkpoints"
    assert load_checkpoint(checkpoints / "previous.pt")["epoch"] == 1
    damage(checkpoints / "last.pt")
    with pytest.raises(RunError, match=re.escape(named)):
        load_checkpoint(checkpoints / "last.pt")
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(config.replace(max_epochs=3), tmp_path / "run", resume=True)
    assert trainer.epoch == 1 and named in caplog.text and "resuming from previous.pt (epoch 1)" in caplog.text
    trainer.fit()
    assert load_checkpoint(checkpoints / "last.pt")["epoch"] == 3
