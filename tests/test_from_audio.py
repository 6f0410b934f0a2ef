"""Presets from a user's recording: the exported ONNX encoder, prep's note pipeline and the
preset the engine then plays, on a tiny trained bundle; and every way a recording can be bad."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from train_factory import encoder_bundle

from rtsynth.bundle import read_spec
from rtsynth.cli import main
from rtsynth.engine.engine import Engine
from rtsynth.from_audio import encode_recording
from rtsynth.labels import LATENT_SIZE
from rtsynth.resources import default_bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return encoder_bundle(tmp_path_factory.mktemp("from-audio"))


def tone(seconds: float, rate: int, channels: int = 1, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = sum(level / k * np.sin(2 * np.pi * 330 * k * t) for k in range(1, 5))
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


def from_audio(bundle: Path, recording: Path, presets: Path, name: str = "mine") -> int:
    args = ["preset", "from-audio", str(recording), "--name", name, "--bundle", str(bundle)]
    return main([*args, "--presets-dir", str(presets)])


def test_export_writes_the_encoder_and_a_map_of_the_training_notes(bundle):
    spec = read_spec(bundle)  # checks every listed file's sha256, the encoder's too
    assert spec.encoder == {"file": "encoder.onnx"} and "encoder.onnx" in spec.files
    notes = np.asarray(spec.timbre_map["notes"])
    assert notes.shape[1] == 3 and len(notes) > 20 and set(notes[:, 2]) == {0.0, 1.0, 2.0}
    assert spec.timbre_map["fitted_on"] == "training notes"


def test_a_recording_becomes_a_preset_the_engine_plays_at_its_timbre(bundle, tmp_path):
    recording = tmp_path / "stereo.flac"
    sf.write(recording, tone(1.0, 96000, channels=2), 96000)  # any format, rate and channel count
    assert from_audio(bundle, recording, tmp_path / "presets") == 0
    z = encode_recording(bundle, recording)
    assert z.shape == (LATENT_SIZE,) and np.isfinite(z).all()
    with Engine(bundle, realtime=False) as engine:
        engine.load_preset(tmp_path / "presets" / "mine.json")
        played = engine.status()["timbre_z"]
    assert np.abs(np.subtract(played, z[:8])).max() < 1e-3


def test_a_louder_copy_and_another_rate_land_on_the_same_timbre(bundle, tmp_path):
    """prep's pipeline normalises level and resamples: the latent is the sound's, not the file's."""
    sf.write(tmp_path / "a.wav", tone(1.0, 44100), 44100)
    sf.write(tmp_path / "b.wav", tone(1.0, 22050, level=0.6), 22050)
    za, zb = encode_recording(bundle, tmp_path / "a.wav"), encode_recording(bundle, tmp_path / "b.wav")
    assert np.abs(za[:8] - zb[:8]).max() < 0.05 * (np.abs(za[:8]).max() + 1)


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda p: sf.write(p, tone(0.03, 44100), 44100), "too short"),
        (lambda p: sf.write(p, np.zeros(44100, np.float32), 44100), "silent"),
        (lambda p: p.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot audio at all"), "unreadable"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: None, "not found"),
    ],
)
def test_bad_recordings_get_one_clear_line_and_no_preset(bundle, tmp_path, caplog, make, says):
    recording = tmp_path / "take.wav"
    make(recording)
    with caplog.at_level(logging.ERROR):
        assert from_audio(bundle, recording, tmp_path / "presets") == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and says in errors[0] and "take.wav" in errors[0], errors
    assert not (tmp_path / "presets").exists()


def test_a_bundle_without_an_encoder_says_so(tmp_path, caplog):
    from harmonic_bundle import make_harmonic_bundle

    sf.write(tmp_path / "a.wav", tone(1.0, 44100), 44100)
    with caplog.at_level(logging.ERROR):
        assert from_audio(make_harmonic_bundle(tmp_path / "plain"), tmp_path / "a.wav", tmp_path / "presets") == 2
    assert "has no encoder" in caplog.text


def test_a_preset_name_cannot_leave_the_presets_folder(bundle, tmp_path, caplog):
    sf.write(tmp_path / "a.wav", tone(1.0, 44100), 44100)
    with caplog.at_level(logging.ERROR):
        assert from_audio(bundle, tmp_path / "a.wav", tmp_path / "presets", name="../escape") == 2
    assert (not (tmp_path / "escape.json").exists() and "no paths" in caplog.text) or "'.'" in caplog.text


def test_presets_appear_on_the_map_where_their_timbre_is(bundle, tmp_path):
    from rtsynth.control.commands import CommandLayer
    from rtsynth.control.pageview import map_view

    sf.write(tmp_path / "a.wav", tone(1.0, 44100), 44100)
    assert from_audio(bundle, tmp_path / "a.wav", tmp_path / "presets", name="a") == 0
    with Engine(bundle, realtime=False) as engine:
        view = map_view(engine, CommandLayer(engine, tmp_path / "presets"))
    (preset,) = [p for p in view["points"] if p["kind"] == "preset"]
    assert preset["name"] == "a" and view["presets"] == ["a"] and len(view["cloud"]) > 20
    z = encode_recording(bundle, tmp_path / "a.wav")[:8]
    mean, axes = np.asarray(view["projection"]["mean"]), np.asarray(view["projection"]["axes"])
    assert np.allclose(preset["xy"], axes @ (z - mean), atol=1e-3)
    assert json.loads(json.dumps(view)) == view  # what the page is sent is plain JSON


def test_the_shipped_model_makes_a_preset_from_a_recording(tmp_path):
    sf.write(tmp_path / "a.wav", tone(1.0, 44100), 44100)
    assert from_audio(default_bundle(), tmp_path / "a.wav", tmp_path / "presets", name="mine") == 0
    assert (tmp_path / "presets" / "mine.json").is_file()
