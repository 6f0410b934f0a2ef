"""GM-SOL from SoundFonts other than FluidR3: the real TimGM6mb and csound banks, a few notes each,
and a report that names what a SoundFont does not give an instrument."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import struct
from pathlib import Path

import pytest

from rtsynth.cli import main
from rtsynth.train.corpus import gm
from rtsynth.train.corpus.sf2 import read_presets

TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
CSOUND = Path("/usr/share/sounds/sf2/sf_GMbank.sf2")
if not (TIMGM.is_file() and CSOUND.is_file()):
    pytest.skip("needs timgm6mb-soundfont and csound-soundfont (scripts/setup)", allow_module_level=True)

TINY = dataclasses.replace(gm.GmRenderConfig(), takes=1, dynamics=("mf",), aim_classes=(2, 2), workers=1)


def rows(root: Path) -> list[dict[str, str]]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("soundfont", [TIMGM, CSOUND])
def test_each_soundfont_renders_gm_sol_notes_and_names_shared_samples(soundfont, tmp_path, caplog):
    cfg = dataclasses.replace(TINY, soundfont=str(soundfont), instruments=("viola", "flute"), pitch_range=(60, 61))
    with caplog.at_level(logging.WARNING):
        summary = gm.render_corpus(cfg, tmp_path, progress=False)
    assert [(r["instrument"], r["pitch"]) for r in rows(tmp_path)] == [
        ("viola", "60"),
        ("viola", "61"),
        ("flute", "60"),
        ("flute", "61"),
    ]
    assert summary["soundfont"] == str(soundfont)
    # both small banks give viola the violin's recordings; their flute is its own
    assert summary["coverage"]["viola"]["shares_samples_with"] == ["violin"]
    assert summary["coverage"]["flute"] == {
        "preset": read_presets(soundfont)[73].name,
        "gm_program": 73,
        "keys_without_sample": "",
        "shares_samples_with": [],
    }
    assert "viola: preset 'Viola' plays some of the same samples as violin" in caplog.text
    assert "flute:" not in caplog.text
    assert json.loads((tmp_path / "summary.json").read_text())["coverage"] == summary["coverage"]


def test_keys_without_sample_are_named_per_instrument(tmp_path, caplog):
    # TimGM6mb's accordion has no sample for C#8 (109)
    cfg = dataclasses.replace(TINY, soundfont=str(TIMGM), instruments=("accordion",), pitch_range=(108, 109))
    with caplog.at_level(logging.WARNING):
        summary = gm.render_corpus(cfg, tmp_path, progress=False)
    assert [r["pitch"] for r in rows(tmp_path)] == ["108"]
    assert summary["coverage"]["accordion"]["keys_without_sample"] == "109"
    assert summary["silent_skipped"] == ["wav/accordion/accordion-109-C#8-mf-0.wav"]
    assert "accordion: preset 'Accordion' has no sample for keys 109" in caplog.text


def without_preset(source: Path, program: int, out: Path) -> Path:
    """A copy of `source` whose bank-0 preset `program` is moved to bank 1 (its phdr record edited)."""
    data = bytearray(source.read_bytes())
    phdr = data.index(b"phdr")
    count = struct.unpack_from("<I", data, phdr + 4)[0] // 38
    for i in range(count):
        at = phdr + 8 + i * 38
        if struct.unpack_from("<HH", data, at + 20) == (program, 0):
            struct.pack_into("<H", data, at + 22, 1)
            out.write_bytes(bytes(data))
            return out
    raise AssertionError(f"{source} has no preset {program}")


def test_an_instrument_without_preset_is_reported_not_rendered(tmp_path, caplog):
    soundfont = without_preset(TIMGM, 58, tmp_path / "no-tuba.sf2")
    cfg = dataclasses.replace(TINY, soundfont=str(soundfont), instruments=("tuba", "flute"), pitch_range=(60, 60))
    with caplog.at_level(logging.WARNING):
        summary = gm.render_corpus(cfg, tmp_path / "out", progress=False)
    assert [r["instrument"] for r in rows(tmp_path / "out")] == ["flute"]
    assert summary["coverage"]["tuba"]["preset"] is None
    assert summary["notes_planned"] == 2 and summary["notes_without_preset"] == 1 and summary["notes_written"] == 1
    assert "tuba: the SoundFont has no preset for GM program 58: not rendered" in caplog.text
    only_tuba = dataclasses.replace(cfg, instruments=("tuba",))
    with pytest.raises(gm.GmRenderError, match="no General MIDI preset for any of"):
        gm.render_corpus(only_tuba, tmp_path / "none", progress=False)


def test_a_file_that_is_not_a_soundfont_gets_one_error_line(tmp_path, caplog):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    with caplog.at_level(logging.ERROR):
        rc = main(["data", "gm", "--out", str(tmp_path / "out"), "--soundfont", str(fake), "--instruments", "Fl"])
    assert rc == 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"{fake} is not an SF2 SoundFont (no RIFF sfbk header)"
    ]
    assert not (tmp_path / "out" / "labels.csv").exists()


def test_cli_names_a_missing_soundfont_and_the_packages(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        rc = main(["data", "gm", "--out", str(tmp_path / "out"), "--soundfont", str(tmp_path / "none.sf2")])
    assert rc == 2 and "timgm6mb-soundfont csound-soundfont" in caplog.text
