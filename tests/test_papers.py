"""The other papers' systems end to end: paper 003's GMVAE (variant "luo-gmvae") from its
config through `rtsynth train`, `eval`, `export` and `render`, its bundle played by the engine
and over OSC; paper 004's pairwise loss as an option. Tiny models on the synthetic cache."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient
from test_export import build_cache
from train_factory import make_cache, tiny_config

from rtsynth.bundle import read_spec
from rtsynth.cli import main
from rtsynth.config import ConfigError
from rtsynth.control.osc import OscServer
from rtsynth.engine.engine import Engine
from rtsynth.engine.events import LatentOffset
from rtsynth.labels import DESCRIPTORS
from rtsynth.train.config import LuoConfig, MetricConfig, ModelConfig, dump_toml, read_config
from rtsynth.train.losses import pairwise_contrastive
from rtsynth.train.models.luo import UNLABELLED, TimeConvEncoder, hide_labels

TINY_LUO = LuoConfig(latent_dim=4, encoder_channels=8, encoder_hidden=16, time_pool=4)
EVAL_ARGS = ["--classifier-epochs", "1", "--control-refs", "2", "--transfer-notes", "2", "--max-train-notes", "200"]


@pytest.fixture(scope="module")
def luo_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("luo")
    build_cache(root / "cache")  # full-size mels whose levels follow instrument and dynamics
    config = tiny_config(root / "cache", variant="luo-gmvae", luo=TINY_LUO, max_epochs=2, batch_size=8)
    path = root / "luo.toml"
    path.write_text(dump_toml(config))
    assert main(["train", "--config", str(path), "--out", str(root / "run")]) == 0
    return root / "run"


@pytest.fixture(scope="module")
def luo_bundle(luo_run) -> Path:
    assert main(["eval", str(luo_run), *EVAL_ARGS]) == 0
    out = luo_run.parent / "bundle"
    assert main(["export", str(luo_run), "--out", str(out), "--tuning-step", "0"]) == 0
    return out


def test_the_shipped_config_is_paper_003s_setting():
    config = read_config("luo-gmvae")
    assert config.variant == "luo-gmvae" and config.luo is not None
    assert (config.luo.latent_dim, config.luo.pitch_log_sigma, config.luo.timbre_log_sigma) == (16, -2.0, 0.0)
    assert config.luo.label_fraction == 0.25 and config.lr == 1e-4 and config.batch_size == 128
    assert config.luo.attack_frames == 24


def test_a_luo_config_without_its_table_is_one_error_naming_it(tmp_path, caplog):
    path = tmp_path / "bad.toml"
    path.write_text('variant = "luo-gmvae"\n')
    with pytest.raises(ConfigError, match=r"\[luo\]"):
        read_config(path)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) != 0
    assert "[luo]" in caplog.text and not (tmp_path / "run").exists()


@pytest.mark.parametrize("attack_frames", [0, 4])
def test_the_encoders_hear_the_attack_unpooled_only_with_attack_frames(attack_frames):
    torch.manual_seed(0)
    encoder = TimeConvEncoder(
        replace(TINY_LUO, attack_frames=attack_frames), ModelConfig(), n_mels=16, n_frames=32
    ).eval()
    x = torch.randn(1, 16, 32)
    swapped = x.clone()
    swapped[..., :4] = x[..., [3, 2, 1, 0]]  # the first pooled frame's mean is unchanged
    same = torch.allclose(encoder(x)[0], encoder(swapped)[0], atol=1e-6)
    assert same == (attack_frames == 0)


def test_the_attack_cannot_be_longer_than_a_note():
    with pytest.raises(ValueError, match="attack_frames"):
        TimeConvEncoder(replace(TINY_LUO, attack_frames=40), ModelConfig(), n_mels=16, n_frames=32)


def test_hidden_labels_keep_the_fraction_of_each_instrument():
    timbre = torch.tensor([0] * 40 + [1] * 20 + [2] * 8)
    hidden = hide_labels(timbre, 0.25, seed=3)
    kept = hidden != UNLABELLED
    assert (hidden[kept] == timbre[kept]).all()
    assert [int((hidden == k).sum()) for k in range(3)] == [10, 5, 2]
    assert torch.equal(hidden, hide_labels(timbre, 0.25, seed=3))


def test_training_sees_only_the_labelled_share(luo_run):
    from rtsynth.train.trainer import Trainer

    trainer = Trainer(read_config(luo_run / "config.toml"), luo_run, resume=True)
    timbre = trainer.train_data.labels[:, DESCRIPTORS.index("timbre")]
    share = float((timbre != UNLABELLED).float().mean())
    assert 0.15 < share < 0.35  # 25 % of each instrument's few notes, rounded
    assert (trainer.val_data.labels[:, 0] != UNLABELLED).all()


def test_eval_reports_paper_003s_measures_and_compare_has_the_columns(luo_bundle, luo_run, capsys):
    metrics = json.loads((luo_run / "metrics.json").read_text())
    probe = metrics["paper_003"]["table_1_f_scores"]
    assert set(probe) == {"z_timbre->timbre", "z_timbre->pitch", "z_pitch->timbre", "z_pitch->pitch"}
    assert all(0.0 <= v <= 1.0 for v in probe.values())
    assert set(metrics["paper_003"]["synthesis_f_scores"]) == {"0", "0.5", "1"}
    assert metrics["table_one"]["accuracy"]["dynamics"] is None
    assert metrics["leakage"]["latents"] == ["timbre", "pitch"]
    assert set(metrics["clusters"]) == {"timbre", "pitch"}
    assert main(["compare", str(luo_run)]) == 0
    table = capsys.readouterr().out
    assert "luo-gmvae" in table and "k-NN" in table and "z_t instrument F-score" in table


def test_the_bundle_declares_only_timbre_and_pitch(luo_bundle):
    spec = read_spec(luo_bundle)
    text = json.loads((luo_bundle / "bundle.json").read_text())
    assert [e["descriptor"] for e in text["latent"]["layout"]] == ["timbre", "pitch"]
    assert spec.layout.size == 2 * TINY_LUO.latent_dim
    assert spec.descriptors["timbre"].sigma == pytest.approx(1.0)
    assert spec.descriptors["pitch"].sigma == pytest.approx(np.exp(-2.0))


def test_render_sounds_a_note_from_the_bundle(luo_bundle, tmp_path):
    out = tmp_path / "note.wav"
    assert main(["render", "--bundle", str(luo_bundle), "--note", "62", "--velocity", "100", "-o", str(out)]) == 0
    audio, _ = soundfile.read(out)
    assert np.sqrt(np.mean(audio**2)) > 1e-4


def test_velocity_sets_the_level_without_a_dynamics_latent(luo_bundle, tmp_path):
    levels = []
    for velocity in (30, 120):
        out = tmp_path / f"v{velocity}.wav"
        assert (
            main(["render", "--bundle", str(luo_bundle), "--note", "62", "--velocity", str(velocity), "-o", str(out)])
            == 0
        )
        audio, _ = soundfile.read(out)
        levels.append(np.sqrt(np.mean(audio**2)))
    assert levels[1] > levels[0]


def test_a_missing_latent_is_one_clear_error_and_notes_still_play(luo_bundle):
    engine = Engine(luo_bundle, realtime=False).start()
    try:
        with pytest.raises(ValueError, match="no duration latent"):
            engine.submit(LatentOffset("duration", (0.1, 0.1, 0.1, 0.1)))
        with OscServer(engine, port=0) as server, SimpleUDPClient("127.0.0.1", server.port) as client:
            client.send_message("/latent/duration", [0.1, 0.1, 0.1, 0.1])
            reply = _receive(client, "/error")
            assert reply.params[0] == "/latent/duration"
            assert "no duration latent" in reply.params[1] and "timbre, pitch" in reply.params[1]
            client.send_message("/latent/timbre/3", [0.5])  # a latent it has: accepted
            client.send_message("/note/on", [62, 100])  # a note plays, velocity to level only
            client.send_message("/status", [])
            assert _receive(client, None).address == "/status/reply"  # no /error before it
    finally:
        engine.stop()


def _receive(client: SimpleUDPClient, address: str | None, wait_s: float = 20.0) -> OscMessage:
    """The next reply to `address` (None: the next reply of any address)."""
    import time

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        data = client.receive(timeout=max(0.01, deadline - time.monotonic()))
        if data and address in (None, OscMessage(data).address):
            return OscMessage(data)
    raise AssertionError(f"no {address} within {wait_s} s")


def test_pairwise_contrastive_pulls_same_labels_and_pushes_others():
    labels = torch.tensor([0, 0, 1, 1])
    together = torch.tensor([[0.0], [0.0], [5.0], [5.0]])
    mixed = torch.tensor([[0.0], [5.0], [0.0], [5.0]])
    assert pairwise_contrastive(together, labels, margin=1.0) == 0
    assert pairwise_contrastive(mixed, labels, margin=1.0) > 1
    assert pairwise_contrastive(mixed, torch.tensor([0, -1, -1, -1]), margin=1.0) == 0  # one known note: no pair


def test_the_metric_option_trains_and_logs_its_terms(tmp_path):
    from rtsynth.train.trainer import Trainer

    config = tiny_config(make_cache(tmp_path / "cache"), max_epochs=1, metric=MetricConfig(weight=1.0))
    trainer = Trainer(config, tmp_path / "run")
    trainer.fit()
    row = trainer.history[-1]
    assert row["train_metric_timbre"] > 0 and row["train_metric_pitch"] > 0
    with pytest.raises(ConfigError, match="kazoo"):
        MetricConfig(latents=("kazoo",)).check()
