"""The package as a user gets it: the wheel holds every package, the default model and the
configs, nothing generic at the top level, and plays with no source tree and no torch."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"rtsynth": "rtsynth", "train": "rtsynth.train", "export": "rtsynth.export"}


def _package_folders() -> set[str]:
    names = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            names.add(".".join((package, *relative)))
    return names


def _data_folders() -> set[str]:
    """Folders under rtsynth/ that ship files but no code (bundles, configs, the web page)."""
    return {
        ".".join(folder.relative_to(ROOT).parts)
        for folder in (ROOT / "rtsynth").rglob("*")
        if folder.is_dir()
        and "__pycache__" not in folder.parts
        and not (folder / "__init__.py").exists()
        and any(f.is_file() for f in folder.iterdir())
    }


def test_pyproject_lists_every_package_and_data_folder():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert _data_folders() == {"rtsynth.bundles.default", "rtsynth.configs", "rtsynth.configs.train", "rtsynth.web"}
    assert listed == _package_folders() | _data_folders()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("rtsynth-*.whl"))


def test_the_wheel_holds_the_model_the_configs_and_the_page_under_one_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"rtsynth"}
    for needed in (
        "rtsynth/bundles/default/decoder.onnx",
        "rtsynth/bundles/default/bundle.json",
        "rtsynth/configs/serve.toml",
        "rtsynth/configs/train/md-gmvae-c-r-full.toml",
        "rtsynth/web/index.html",
        "rtsynth/train/trainer.py",
        "rtsynth/export/bundle_writer.py",
    ):
        assert needed in names, needed
    packages = {name.rsplit("/", 1)[0].replace("/", ".") for name in names if name.endswith("/__init__.py")}
    assert packages == _package_folders()


@pytest.mark.slow
def test_the_wheel_renders_a_note_with_no_source_tree_and_no_torch(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True).returncode != 0
    out = tmp_path / "x.wav"
    played = subprocess.run(
        [str(venv / "bin" / "rtsynth"), "render", "--timbre", "flute", "--note", "67", "-o", str(out)],
        cwd=tmp_path,  # no source tree in sight
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert played.returncode == 0, played.stdout + played.stderr
    audio, _ = soundfile.read(out)
    assert np.max(np.abs(audio)) > 1e-3
