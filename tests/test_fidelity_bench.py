"""`rtsynth bench fidelity` end to end: the shipped bundle through the offline engine against
FluidSynth, on the keys asked for (the measures themselves: test_fidelity_measures.py)."""

import json

import pytest

from rtsynth.cli import main


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
    assert 0.0 < off_grid["reference_sounds_them"] < 1.0  # it cannot sound 0.13 s; it does sound 0.82 s
    assert off_grid["lengths_where_reference_sounds_them"] >= 0.95
    assert all((out / name).is_file() for name in ("fidelity.md", "keyboard.png", "spectrograms.png"))
