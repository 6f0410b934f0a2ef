"""`rtsynth serve` settings: the shipped TOML, typed loading with clear errors, flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtsynth.cli import build_parser
from rtsynth.config import ConfigError
from rtsynth.engine.config import EngineConfig
from rtsynth.resources import configs_dir
from rtsynth.serve import ServeConfig, apply_flags, load_serve_config

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_config_loads_with_the_documented_defaults():
    config = load_serve_config(configs_dir() / "serve.toml")
    assert config == ServeConfig()  # the file spells out the defaults, nothing else


def test_flags_override_the_file_and_absent_flags_do_not(tmp_path):
    path = tmp_path / "serve.toml"
    path.write_text('[serve]\nosc_port = 9100\nhost = "0.0.0.0"\n[engine]\nblocksize = 512\nvoices = 8\n')
    flags = ["--blocksize", "128", "--midi-in", "virtual", "--a4", "442"]
    args = build_parser().parse_args(["serve", "--config", str(path), *flags])
    config = apply_flags(load_serve_config(args.config), args)
    assert (config.osc_port, config.host, config.midi_in) == (9100, "0.0.0.0", "virtual")
    assert (config.engine.blocksize, config.engine.voices, config.engine.a4_hz) == (128, 8, 442.0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[serve]\nosc_prot = 9000\n", "unknown keys ['osc_prot']"),
        ("[engine]\nvoices = 'many'\n", "expected int"),
        ("[engine]\nvoices = 0\n", "voices=0"),
        ("[engine]\na4_hz = 1000.0\n", "a4_hz=1000.0"),
        ("[audio]\nx = 1\n", "unknown tables ['audio']"),
        ("[serve\n", "not valid TOML"),
    ],
)
def test_bad_config_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_serve_config(path)


def test_engine_settings_are_range_checked():
    with pytest.raises(ValueError, match="gain=3"):
        EngineConfig(gain=3.0)


def test_the_pyo_backend_without_pyo_says_how_to_get_it():
    import importlib.util

    from rtsynth.engine.backends import AudioBackendError, PyoBackend, open_backend

    if importlib.util.find_spec("pyo") is not None:
        pytest.skip("pyo is installed here")
    with pytest.raises(AudioBackendError, match=r"rtsynth\[pyo\]"):
        PyoBackend(engine=None).start()
    with pytest.raises(ValueError, match="unknown audio backend"):
        open_backend("alsa-direct", None, None)
