"""The shared settings, vocabularies, config loader, mel features and CLI wiring."""

import ast
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import rtsynth
from rtsynth.config import ConfigError, from_dict, load_config
from rtsynth.dsp.mel import mel_filterbank, mel_power, power_to_unit, unit_to_power
from rtsynth.labels import (
    DESCRIPTORS,
    INSTRUMENTS,
    LATENT_SIZE,
    Vocabulary,
    duration_class,
    latent_slices,
    note_name,
    parse_note_name,
)
from rtsynth.settings import PAPER_MEL


def test_paper_mel_is_256_by_256():
    assert PAPER_MEL.n_frames == 256
    tone = np.sin(2 * np.pi * 440 * np.arange(PAPER_MEL.n_samples) / PAPER_MEL.sample_rate)
    assert mel_power(tone, PAPER_MEL).shape == (256, 256)


def test_mel_matches_librosa():
    librosa = pytest.importorskip("librosa")
    audio = np.random.default_rng(0).standard_normal(PAPER_MEL.n_samples).astype(np.float32)
    ours = mel_power(audio, PAPER_MEL)
    ref = librosa.feature.melspectrogram(
        y=audio,
        sr=PAPER_MEL.sample_rate,
        n_fft=PAPER_MEL.n_fft,
        hop_length=PAPER_MEL.hop_length,
        n_mels=PAPER_MEL.n_mels,
    )
    assert np.abs(ours - ref).max() <= 1e-5 * ref.max()
    fb = librosa.filters.mel(sr=PAPER_MEL.sample_rate, n_fft=PAPER_MEL.n_fft, n_mels=PAPER_MEL.n_mels)
    np.testing.assert_allclose(mel_filterbank(PAPER_MEL), fb, atol=1e-7)


def test_unit_mel_round_trip_restores_level():
    mel = np.abs(np.random.default_rng(1).standard_normal((256, 256))) ** 2 * 1e-3
    unit, peak_db = power_to_unit(mel, 80.0)
    assert unit.min() >= 0 and unit.max() == pytest.approx(1.0)
    back = unit_to_power(unit, peak_db, 80.0)
    loud = mel > mel.max() * 1e-8  # above the 80 dB floor the mapping is exact
    np.testing.assert_allclose(back[loud], mel[loud], rtol=1e-4)


@pytest.mark.parametrize(
    "seconds, expected",
    [(0.0, 0), (0.1, 0), (0.25, 0), (0.374, 0), (0.376, 1), (1.0, 3), (5.94, 23), (9.0, 23)],
)
def test_duration_classes_are_250ms_steps(seconds, expected):
    assert duration_class(seconds) == expected


def test_duration_class_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        duration_class(float("nan"))


@pytest.mark.parametrize("name, midi", [("C4", 60), ("A0", 21), ("F#1", 30), ("Db4", 61), ("Cb4", 59)])
def test_note_names(name, midi):
    assert parse_note_name(name) == midi


def test_note_name_round_trip_and_errors():
    assert all(parse_note_name(note_name(m)) == m for m in range(12, 120))
    with pytest.raises(ValueError, match="not a note name"):
        parse_note_name("H2")


def test_vocabulary_round_trip_and_latent_layout():
    vocab = Vocabulary(
        tuple(i.name for i in INSTRUMENTS),
        tuple(range(48, 72)),
        ("pp", "mf", "ff"),
        tuple(0.25 * (k + 1) for k in range(24)),
    )
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab
    assert vocab.sizes() == {"timbre": 14, "pitch": 24, "dynamics": 3, "duration": 24}
    with pytest.raises(KeyError, match="pitch 30"):
        vocab.index("pitch", 30)
    slices = latent_slices()
    assert [slices[d].stop - slices[d].start for d in DESCRIPTORS] == [8, 4, 4, 4]
    assert slices["duration"].stop == LATENT_SIZE == 20


@dataclass
class _Inner:
    rate: float = 1.0
    names: tuple[str, ...] = ()


@dataclass
class _Outer:
    name: str = "x"
    size: int | None = None
    inner: _Inner = field(default_factory=_Inner)


def test_config_builds_nested_dataclasses(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('name = "a"\nsize = 3\n[inner]\nrate = 2\nnames = ["p", "q"]\n')
    cfg = load_config(_Outer, path)
    assert cfg == _Outer("a", 3, _Inner(2.0, ("p", "q")))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"nmae": "a"}, "unknown keys \\['nmae'\\]"),
        ({"size": "3"}, "size: expected int"),
        ({"inner": {"rate": "fast"}}, "inner.rate: expected float"),
    ],
)
def test_config_errors_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(_Outer, data)


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(_Outer, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_Outer, bad)


def test_cli_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "rtsynth", "--help"], capture_output=True, text=True, check=True)
    for command in ("data", "train", "eval", "compare", "export", "render", "serve", "bench"):
        assert f"    {command} " in out.stdout, command


def test_runtime_never_imports_torch():
    code = (
        "import sys, importlib, pkgutil, rtsynth\n"
        "for m in pkgutil.walk_packages(rtsynth.__path__, 'rtsynth.'):\n"
        "    m.name.endswith('__main__') or importlib.import_module(m.name)\n"
        "from rtsynth.cli import build_parser; build_parser()\n"
        "bad = [m for m in ('torch', 'librosa', 'sklearn', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _imported_modules(path: Path, package: str) -> set[str]:
    """Every module an import statement in `path` names, at any depth (imports inside functions too)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            modules.add(".".join(part for part in (base, node.module) if part))
    return modules


def test_runtime_source_imports_nothing_from_torch_train_or_export():
    """The runtime installs without torch and without the training code: no import of either,
    not even a lazy one inside a function (the CLI reaches train and export commands by name)."""
    root = Path(rtsynth.__file__).parent
    forbidden = ("torch", "rtsynth.train", "rtsynth.export")
    found = []
    for path in sorted(root.rglob("*.py")):
        package = ".".join(("rtsynth", *path.parent.relative_to(root).parts))
        for module in _imported_modules(path, package):
            if any(module == name or module.startswith(name + ".") for name in forbidden):
                found.append(f"{path.relative_to(root.parent)}: {module}")
    assert not found, found
