"""GM-SOL from TiMidity++ and the freepats patches (other recordings than the SoundFonts'): the real
`timidity` command, a few notes, the report naming what the patch set lacks."""

from __future__ import annotations

import csv
import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtsynth.cli import main
from rtsynth.dsp.fidelity import centroid_hz, f0_error_cents, partial_cents
from rtsynth.dsp.pitch import midi_hz
from rtsynth.train.corpus import gm

FREEPATS = Path("/etc/timidity/freepats.cfg")
if shutil.which("timidity") is None or not FREEPATS.is_file():
    pytest.skip("needs timidity and freepats (scripts/setup)", allow_module_level=True)

TINY = dataclasses.replace(
    gm.GmRenderConfig(), soundfont=str(FREEPATS), takes=1, dynamics=("mf",), aim_classes=(4, 4), workers=1
)


def rows(root: Path) -> list[dict[str, str]]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_freepats_notes_sound_in_tune_for_their_aimed_length_and_missing_patches_are_named(tmp_path, caplog):
    cfg = dataclasses.replace(TINY, instruments=("flute", "viola", "trumpet"), pitch_range=(60, 60))
    with caplog.at_level(logging.WARNING):
        summary = gm.render_corpus(cfg, tmp_path, progress=False)
    assert [r["instrument"] for r in rows(tmp_path)] == ["flute", "trumpet"]
    assert summary["renderer"].startswith("TiMidity++ 2.") and summary["notes_without_preset"] == 1
    assert summary["coverage"]["viola"]["preset"] is None
    assert summary["coverage"]["flute"]["preset"].endswith("Flute.pat")
    assert "viola: the SoundFont has no preset for GM program 41: not rendered" in caplog.text
    for row in rows(tmp_path):
        audio, rate = sf.read(tmp_path / row["path"], dtype="float32")
        assert rate == 44100 and audio.ndim == 1
        held = audio[int(0.2 * rate) : int(0.6 * rate)]
        assert np.sqrt(np.mean(held**2)) > 1e-3, row["path"]
        assert abs(f0_error_cents(partial_cents(held, rate, midi_hz(60)))) < 25.0, row["path"]
        # the held time was searched as for FluidSynth: the note sounds the 1 s it aimed at
        assert float(row["held_s"]) < float(row["aim_s"]) and not summary["missed_aim"]
    again = gm.render_corpus(cfg, tmp_path, progress=False)  # the same command: the same files, kept
    assert again["kept_from_earlier_run"] == 2 and again["rendered_now"] == 0


def test_the_dynamics_colour_of_the_config_is_applied(tmp_path):
    """mf gets the 20 dB shelf above 1 kHz: brighter than the same note without it."""
    centroids = []
    for shelf in (0.0, 20.0):
        cfg = dataclasses.replace(TINY, instruments=("trumpet",), pitch_range=(55, 55), shelf_db=(0.0, shelf, 0.0))
        gm.render_corpus(cfg, tmp_path / f"{shelf:g}", progress=False)
        (row,) = rows(tmp_path / f"{shelf:g}")
        audio, rate = sf.read(tmp_path / f"{shelf:g}" / row["path"], dtype="float32")
        centroids.append(centroid_hz(audio, rate))
    assert centroids[1] > 1.3 * centroids[0]


def test_a_config_without_the_instruments_and_the_kit_from_a_config_are_one_line_and_exit_2(tmp_path, caplog):
    config = tmp_path / "empty.cfg"
    config.write_text("dir /usr/share/midi/freepats\nbank 0\n")
    with caplog.at_level(logging.ERROR):
        rc = main(["data", "gm", "--out", str(tmp_path / "out"), "--soundfont", str(config), "--instruments", "flute"])
    assert rc == 2 and f"{config} has no General MIDI preset for any of ['flute']" in caplog.text
    assert not (tmp_path / "out" / "labels.csv").exists()
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        rc = main(["data", "gm-kit", "--out", str(tmp_path / "kit"), "--soundfont", str(FREEPATS)])
    assert rc == 2 and "the percussion kit is rendered with FluidSynth, from an SF2 SoundFont" in caplog.text
