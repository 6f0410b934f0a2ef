"""`rtsynth bench fidelity` end to end: the shipped bundle through the offline engine against
FluidSynth, on the keys asked for (the measures themselves: test_fidelity_measures.py)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from rtsynth.cli import main

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fidelity.py"


def _bench_module():
    loader = importlib.util.spec_from_file_location("fidelity_bench", BENCH)
    assert loader is not None and loader.loader is not None
    bench = importlib.util.module_from_spec(loader)
    sys.modules[loader.name] = bench  # its dataclasses look their module up
    loader.loader.exec_module(bench)
    return bench


def test_a_dead_key_stands_off_its_neighbours_where_the_reference_does_not():
    """Seven keys level with one another but for two: one 15 dB down where the reference is not
    (dead), one 3.05 dB up where the reference's own key is 2.95 dB up (it follows the
    reference: not dead, counted apart)."""
    bench = _bench_module()
    model = [-20.0, -20.0, -35.0, -20.0, -16.95, -20.0, -20.0]
    reference = [-20.0, -20.0, -20.0, -20.0, -17.05, -20.0, -20.0]
    rows = [
        {"timbre": "flute", "note": 60 + i, "dynamics": "mf", "duration": 0.5, "rms_db": m, "reference_rms_db": r}
        for i, (m, r) in enumerate(zip(model, reference, strict=True))
    ]
    bench.mark_dead_keys(rows)
    assert [r["note"] for r in rows if r["dead"]] == [62]
    assert [r["note"] for r in rows if r["follows_reference_step"]] == [64]


def test_keys_outside_a_timbres_range_are_read_against_its_nearest_key():
    """Past the oboe's top (93) the shipped model plays on; with no reference there the bench
    reads each key's level against 93's and its length against the asked one."""
    from rtsynth.resources import default_bundle

    bench = _bench_module()
    outside = bench.outside_ranges(bench.Players(default_bundle(), 1), {"oboe": range(58, 94)}, range(92, 97))
    assert [(r["timbre"], r["note"]) for r in outside["per_note"]] == [("oboe", k) for k in (94, 95, 96)]
    assert outside["keys"] == 3 and outside["within_3_db"] == 1.0 and outside["length_within_20ms"] == 1.0
    assert outside["worst"] in outside["per_note"]


@pytest.mark.slow
def test_the_bench_measures_the_keys_asked_for(tmp_path):
    out = tmp_path / "fidelity"
    args = ["--timbres", "flute", "oboe", "--pitch-range", "70", "72", "--dynamics", "mf"]
    assert main(["bench", "fidelity", *args, "--durations", "0.5", "--out", str(out)]) == 0
    record = json.loads((out / "fidelity.json").read_text())
    assert sorted((n["timbre"], n["note"]) for n in record["notes"]) == [
        (t, k) for t in ("flute", "oboe") for k in (70, 71, 72)
    ]
    summary = record["summary"]
    assert summary["notes"] == 6 and 0.0 <= summary["f0_within_5_cents"] <= 1.0
    assert list(summary["log_mel_median_db_by_dynamics"]) == ["mf"]
    assert list(summary["log_mel_median_db_by_register"]) == ["60-71", "72-83"]  # keys 70-71 and 72
    assert summary["partials_missing"] <= 0.2  # mid-range flute and oboe keys: their partials are there
    assert {c["note"] for c in record["velocity_curves"].values()} == {71}
    sweep = summary["length_sweep_s"]["per_timbre"]
    assert set(sweep) == {"flute", "oboe"} and all(len(t["error_s"]) == 17 for t in sweep.values())
    assert summary["length_sweep_s"]["worst"] < 0.05  # the engine fits each note to the length asked
    assert 59 <= summary["morph"]["note"] <= 93  # a key both flute (59-98) and oboe (58-93) cover
    ends = [summary["morph"][f"reference_{t}"] for t in ("flute", "oboe")]
    assert all(e["dip_db"] <= 0.0 <= e["swell_db"] for e in ends)  # measured on the reference's notes
    by_timbre = summary["length_error_s"]["within_20ms_by_timbre"]
    assert set(by_timbre) == {"flute", "oboe"} and min(by_timbre.values()) >= 2 / 3
    assert all(len(t["level_vs_reference_db"]) == 17 for t in sweep.values())
    off_grid = summary["level_within_2_db_off_grid"]
    assert off_grid["lengths"] >= 0.95  # levels hold between the calibrated lengths
    assert 0.0 < off_grid["reference_sounds_them"] < 1.0  # it cannot sound 0.105 s; it does sound 0.82 s
    assert off_grid["lengths_where_reference_sounds_them"] >= 0.95
    assert all((out / name).is_file() for name in ("fidelity.md", "keyboard.png", "spectrograms.png"))
