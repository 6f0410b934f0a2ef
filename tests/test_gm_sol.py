"""GM-SOL renderer: the real FluidSynth and SoundFont, tiny plans."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtsynth.cli import main
from rtsynth.labels import DYNAMICS_VELOCITY, INSTRUMENT_BY_NAME
from rtsynth.resources import configs_dir
from rtsynth.train.corpus import gm

if not Path(gm.DEFAULT_SOUNDFONT).is_file():
    pytest.skip(f"needs {gm.DEFAULT_SOUNDFONT} (apt-get install fluid-soundfont-gm)", allow_module_level=True)

# 2 instruments x 2 pitches x 3 dynamics, long enough to measure f0 and reach full level (1-1.5 s)
TINY = dataclasses.replace(
    gm.GmRenderConfig(),
    instruments=("cello", "TpC"),
    pitch_range=(57, 58),
    takes=1,
    aim_classes=(4, 6),
    workers=2,
)


def read_labels(root: Path) -> list[dict]:
    with open(root / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def hashes(root: Path) -> dict[str, str]:
    files = [*root.glob("wav/*/*.wav"), root / "labels.csv"]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gm") / "corpus"
    return out, gm.render_corpus(TINY, out, progress=False)


def test_tiny_render_writes_files_and_labels(tiny):
    out, summary = tiny
    rows = read_labels(out)
    assert list(rows[0])[:4] == ["path", "instrument", "pitch", "dynamics"]
    assert set(rows[0]) == set(gm.LABEL_COLUMNS)
    assert len(rows) == 12 and summary["notes_written"] == 12 and not summary["silent_skipped"]
    assert Counter((r["instrument"], r["dynamics"]) for r in rows) == {
        (i, d): 2 for i in ("cello", "trumpet") for d in ("pp", "mf", "ff")
    }
    assert {int(r["pitch"]) for r in rows} == {57, 58}
    for r in rows:
        info = sf.info(out / r["path"])
        assert (info.samplerate, info.channels) == (44100, 1)
        assert int(r["velocity"]) == DYNAMICS_VELOCITY[r["dynamics"]]
        assert int(r["gm_program"]) == INSTRUMENT_BY_NAME[r["instrument"]].gm_program
        aim, centre = float(r["aim_s"]), round(float(r["aim_s"]) / 0.25) * 0.25
        assert 1.0 <= centre <= 1.5 and abs(aim - centre) <= TINY.aim_jitter_s + 1e-9
        assert 0 < float(r["held_s"]) < aim < info.duration <= TINY.max_seconds
    assert summary["counts"]["cello"] == {"pp": 2, "mf": 2, "ff": 2}
    assert json.loads((out / "summary.json").read_text())["notes_written"] == 12


def f0_hz(audio: np.ndarray, sr: int) -> float:
    import librosa

    f0 = librosa.yin(audio, fmin=80, fmax=1000, sr=sr, frame_length=4096)
    return float(np.median(f0))


def sounding_seconds(audio: np.ndarray, sr: int) -> float:
    """A quick -40 dB trim (prep owns the real one)."""
    import librosa

    _, (start, end) = librosa.effects.trim(audio, top_db=40, frame_length=2048, hop_length=512)
    return (end - start) / sr


def test_audio_sounds_at_the_planned_pitch_for_the_aimed_duration(tiny):
    out, _ = tiny
    for r in read_labels(out):
        audio, sr = sf.read(out / r["path"], dtype="float32")
        assert np.abs(audio).max() > 10 ** (-40 / 20), r["path"]
        expected = 440.0 * 2 ** ((int(r["pitch"]) - 69) / 12)
        cents = 1200 * np.log2(f0_hz(audio, sr) / expected)
        assert abs(cents) < 50, (r["path"], cents)
        # note-off after the held time, then a release tail that ends where the plan aimed
        # (plus one trim hop: librosa's trim pads differently)
        assert abs(sounding_seconds(audio, sr) - float(r["aim_s"])) <= gm.AIM_MISS_S + 512 / sr, r["path"]


def test_dynamics_levels_ff_louder_than_pp_without_clipping(tiny):
    out, summary = tiny
    peaks, energy = {}, {}
    for r in read_labels(out):
        audio, _ = sf.read(out / r["path"], dtype="float32")
        key = (r["instrument"], r["pitch"], r["dynamics"])
        peaks[key] = 20 * np.log10(np.abs(audio).max())
        frames = np.lib.stride_tricks.sliding_window_view(audio, 2048)[::512]
        energy[key] = 10 * np.log10(np.max(np.mean(frames**2, axis=1)))  # the loudest 46 ms
    for (instrument, pitch, dynamics), db in energy.items():
        if dynamics == "ff":  # louder by energy (a low-pass may realign harmonics into a higher peak);
            # FluidR3's cello barely changes level from mf to ff, so only "not quieter" there
            mf, pp = energy[(instrument, pitch, "mf")], energy[(instrument, pitch, "pp")]
            assert db > mf - 1.5 and mf > pp + 3 and db > pp + 6
            assert peaks[(instrument, pitch, dynamics)] < -0.5  # headroom: no clipping
        if dynamics == "pp":
            assert peaks[(instrument, pitch, dynamics)] > -45  # far above the 16-bit floor
    assert not summary["clipped"]


def _centroid_over_f0(audio: np.ndarray, sample_rate: int, pitch: int) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / sample_rate)
    return float((power * freqs).sum() / power.sum()) / (440.0 * 2 ** ((pitch - 69) / 12))


def test_louder_dynamics_are_brighter(tiny):
    """pp < mf < ff in spectral centroid (in harmonics of f0), as with real instruments."""
    out, _ = tiny
    centroid = {}
    for r in read_labels(out):
        audio, rate = sf.read(out / r["path"], dtype="float32")
        centroid[(r["instrument"], r["pitch"], r["dynamics"])] = _centroid_over_f0(audio, rate, int(r["pitch"]))
    for (instrument, pitch, dynamics), value in centroid.items():
        if dynamics == "ff":
            assert value > centroid[(instrument, pitch, "mf")] > centroid[(instrument, pitch, "pp")], instrument


def test_dynamics_colour_is_a_pitch_tracked_lowpass():
    rate, pitch = 44100, 57
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    t = np.arange(rate) / rate
    audio = sum(np.sin(2 * np.pi * k * f0 * t) for k in (1, 16)).astype(np.float32)

    def tilt(x):  # 16th harmonic over the fundamental, dB (1 Hz bins)
        spectrum = np.abs(np.fft.rfft(x))
        return 20 * np.log10(spectrum[round(16 * f0)] / spectrum[round(f0)])

    for order, octave_db in ((2, 12), (4, 24)):
        dark = gm.dynamics_colour(audio, rate, 4 * f0, order)
        # 2 octaves above the cutoff: 6 dB per octave and order, relative to the fundamental
        assert tilt(dark) - tilt(audio) == pytest.approx(-2 * octave_db, abs=2)
        assert np.sum(dark.astype(np.float64) ** 2) == pytest.approx(np.sum(audio.astype(np.float64) ** 2), rel=1e-3)
    assert gm.dynamics_colour(audio, rate, 0.0, 4) is audio


def test_dynamics_shelf_lifts_or_lowers_the_highs_and_keeps_the_energy():
    rate = 44100
    t = np.arange(rate) / rate
    audio = (np.sin(2 * np.pi * 200 * t) + np.sin(2 * np.pi * 8000 * t)).astype(np.float32)

    def tilt(x):  # 8 kHz over 200 Hz, dB (1 Hz bins)
        spectrum = np.abs(np.fft.rfft(x))
        return 20 * np.log10(spectrum[8000] / spectrum[200])

    for gain_db in (30.0, -18.0):
        shaped = gm.dynamics_shelf(audio, rate, 1000.0, gain_db)
        # 3 octaves above the corner the shelf is flat at its gain; 2 octaves below, flat at 0 dB
        assert tilt(shaped) - tilt(audio) == pytest.approx(gain_db, abs=0.5)
        assert np.sum(shaped.astype(np.float64) ** 2) == pytest.approx(np.sum(audio.astype(np.float64) ** 2), rel=1e-3)
    assert gm.dynamics_shelf(audio, rate, 1000.0, 0.0) is audio


def test_shelf_settings_are_checked():
    with pytest.raises(gm.GmRenderError, match="shelf_db"):
        gm.GmRenderConfig(shelf_db=(0.0, 20.0)).validated()
    with pytest.raises(gm.GmRenderError, match="shelf_db"):
        gm.GmRenderConfig(shelf_db=(0.0, 20.0, 60.0)).validated()


def _rendered_share_above(config_name: str, hz: float, out: Path) -> tuple[dict[str, float], float]:
    """A trumpet's MIDI 57 rendered with a shipped render config: each dynamic's share of the
    power above `hz`, and the loudest sample."""
    cfg = gm.load_gm_config(configs_dir() / config_name)
    cfg = dataclasses.replace(cfg, instruments=("TpC",), pitch_range=(57, 57), takes=1, aim_classes=(4, 4), workers=1)
    gm.render_corpus(cfg, out, progress=False)
    share, loudest = {}, 0.0
    for r in read_labels(out):
        audio, rate = sf.read(out / r["path"], dtype="float64")
        power = np.abs(np.fft.rfft(audio)) ** 2
        share[r["dynamics"]] = power[np.fft.rfftfreq(len(audio), 1 / rate) > hz].sum() / power.sum()
        loudest = max(loudest, float(np.abs(audio).max()))
    return share, loudest


def test_the_shelf_render_brightens_loud_notes_below_full_scale(tmp_path):
    """The gm-sol-shelf config: pp as FluidR3 plays it, mf and ff ever brighter, nothing clipped."""
    above, loudest = _rendered_share_above("gm-sol-shelf.toml", 2400, tmp_path / "shelf")
    assert above["pp"] < above["mf"] < above["ff"], above
    assert above["ff"] > 10 * above["pp"], above
    assert loudest < 32767 / 32768, "the brightest note clipped"


def test_the_plain_render_keeps_the_soft_notes_highs(tmp_path):
    """The gm-sol-plain config: no dynamics colour, so a pp note keeps the upper partials that the
    default render's low-pass at 2 x f0 takes away; ff is the same in both."""
    plain, _ = _rendered_share_above("gm-sol-plain.toml", 2400, tmp_path / "plain")
    coloured, _ = _rendered_share_above("gm-sol.toml", 2400, tmp_path / "default")
    assert plain["pp"] > 100 * coloured["pp"], (plain, coloured)
    assert plain["ff"] == pytest.approx(coloured["ff"], rel=1e-6)


def test_lowpass_settings_are_checked():
    with pytest.raises(gm.GmRenderError, match="lowpass_harmonics"):
        gm.GmRenderConfig(lowpass_harmonics=(2.0, -1.0, 0.0)).validated()


def test_same_plan_gives_byte_identical_files(tiny, tmp_path):
    out, _ = tiny
    again = tmp_path / "again"
    gm.render_corpus(dataclasses.replace(TINY, workers=1), again, progress=False)
    assert hashes(again) == hashes(out)
    # a subsample renders the same notes identically (each note has its own seed)
    subset = tmp_path / "subset"
    gm.render_corpus(dataclasses.replace(TINY, count=3, workers=1), subset, progress=False)
    sub = {k: v for k, v in hashes(subset).items() if k != "labels.csv"}
    assert len(sub) == 3 and all(hashes(out)[k] == v for k, v in sub.items())


def test_rerun_keeps_identical_files(tmp_path):
    cfg = dataclasses.replace(TINY, instruments=("flute",), pitch_range=(72, 72), workers=1)
    first = gm.render_corpus(cfg, tmp_path, progress=False)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.glob("wav/*/*.wav")}
    second = gm.render_corpus(cfg, tmp_path, progress=False)
    assert (first["rendered_now"], second["rendered_now"], second["kept_from_earlier_run"]) == (3, 0, 3)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("wav/*/*.wav")} == before
    # a changed plan (other seed -> other aimed durations) is rendered again
    third = gm.render_corpus(dataclasses.replace(cfg, seed=1), tmp_path, progress=False)
    assert third["rendered_now"] == 3


def test_key_without_sample_is_skipped_and_reported(tmp_path):
    # FluidR3_GM's contrabass has no sample above A3 (57)
    cfg = dataclasses.replace(TINY, instruments=("contrabass",), pitch_range=(57, 58), dynamics=("mf",), workers=1)
    summary = gm.render_corpus(cfg, tmp_path, progress=False)
    assert [r["pitch"] for r in read_labels(tmp_path)] == ["57"]
    assert summary["silent_skipped"] == ["wav/contrabass/contrabass-058-A#3-mf-0.wav"]
    assert not (tmp_path / summary["silent_skipped"][0]).exists()


def test_default_plan_is_tinysol_sized_and_aims_at_every_duration_class_centre():
    plan = gm.plan_notes(gm.GmRenderConfig())
    assert len(plan) == 2916  # TinySOL: 2913
    assert Counter(n.instrument for n in plan)["accordion"] == 82 * 3 * 3
    centres = Counter(round(n.aim_s / 0.25) for n in plan)
    assert sorted(centres) == list(range(1, 25))
    assert min(centres.values()) >= 0.5 * len(plan) / 24, centres
    assert all(abs(n.aim_s - round(n.aim_s / 0.25) * 0.25) <= 0.05 + 1e-9 for n in plan)
    # a note's seed and aimed duration do not depend on what else is planned
    cello = gm.plan_notes(gm.GmRenderConfig(instruments=("Vc",)))
    assert cello == [n for n in plan if n.instrument == "cello"]


def test_config_file_holds_the_defaults():
    assert gm.load_gm_config() == gm.GmRenderConfig()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"instruments": ("banjo",)}, "unknown instruments ['banjo']"),
        ({"pitch_range": (80, 70)}, "pitch_range"),
        ({"instruments": ("tuba",), "pitch_range": (90, 100)}, "nothing to render"),
        ({"dynamics": ("fff",)}, "dynamics"),
    ],
)
def test_bad_options_are_named(change, message):
    with pytest.raises(gm.GmRenderError, match=message.replace("[", r"\[").replace("]", r"\]")):
        gm.plan_notes(dataclasses.replace(gm.GmRenderConfig(), **change))


def test_missing_soundfont_names_the_debian_package(tmp_path, caplog):
    cfg = dataclasses.replace(TINY, soundfont=str(tmp_path / "nope.sf2"))
    with pytest.raises(gm.GmRenderError, match="fluid-soundfont-gm"):
        gm.render_corpus(cfg, tmp_path / "out", progress=False)
    with caplog.at_level(logging.ERROR):
        rc = main(["data", "gm", "--out", str(tmp_path / "out"), "--soundfont", str(tmp_path / "nope.sf2")])
    assert rc == 2 and "fluid-soundfont-gm" in caplog.text


def test_missing_fluidsynth_library_names_the_debian_package():
    # a fresh interpreter where the dynamic loader finds no libfluidsynth
    code = (
        "import ctypes.util; ctypes.util.find_library = lambda name: None\n"
        "from train.corpus import renderers\n"
        "renderers.import_fluidsynth()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "GmRenderError" in done.stderr and "libfluidsynth3" in done.stderr


def test_cli_end_to_end(tmp_path):
    out = tmp_path / "gm"
    rc = main(
        [
            "-q",
            "data",
            "gm",
            "--out",
            str(out),
            "--instruments",
            "clarinet,Ob",
            "--pitch-range",
            "70",
            "71",
            "--count",
            "5",
            "--seed",
            "3",
            "--workers",
            "1",
        ]
    )
    assert rc == 0
    rows = read_labels(out)
    assert len(rows) == 5 and {r["instrument"] for r in rows} <= {"clarinet", "oboe"}
    assert all((out / r["path"]).is_file() and r["seed"] for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["seed"] == 3 and summary["notes_planned"] == 5
    assert len(summary["soundfont_sha256"]) == 64 and summary["renderer"].startswith("FluidSynth 2.")
