"""scripts/render_freepats.py: a corpus's notes rendered from the freepats patches by TiMidity++."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from rtsynth.dsp.fidelity import centroid_hz, f0_error_cents, partial_cents
from rtsynth.dsp.pitch import midi_hz
from rtsynth.train.corpus.gm import LABEL_COLUMNS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "render_freepats.py"
NOTES = [  # instrument, key, GM program (0-based), velocity; freepats has no viola
    ("flute", 72, 73, 80),
    ("viola", 60, 41, 80),
    ("trumpet", 55, 56, 112),
]
TRUMPET = "wav/trumpet/trumpet-055-mf-0.wav"


def run(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(source), str(out)], capture_output=True, text=True, timeout=120
    )


def source_corpus(root: Path, shelf_db: tuple[float, float, float] = (0.0, 20.0, 40.0)) -> Path:
    """labels.csv and summary.json as `rtsynth data gm` writes them (the gm-sol-shelf colour by
    default); the script reads the rate from the first file."""
    rows = []
    for name, key, program, velocity in NOTES:
        values = [f"wav/{name}/{name}-{key:03d}-mf-0.wav", name, key, "mf", program, velocity, 0, 1.0, 0.9, 1]
        rows.append(dict(zip(LABEL_COLUMNS, values)))
    (root / "wav" / "flute").mkdir(parents=True)
    sf.write(root / rows[0]["path"], np.zeros(4410, np.float32), 44100, subtype="PCM_16")
    colour = {"lowpass_harmonics": [0.0, 0.0, 0.0], "shelf_db": list(shelf_db)}
    (root / "summary.json").write_text(json.dumps({"config": colour}))
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_the_notes_the_patch_set_has_are_rendered_in_tune_and_the_others_named(tmp_path: Path) -> None:
    result = run(source_corpus(tmp_path / "src"), tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "2 notes rendered; not in the patch set: viola" in result.stdout
    with open(tmp_path / "out" / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["instrument"] for r in rows] == ["flute", "trumpet"]
    for row in rows:
        audio, rate = sf.read(tmp_path / "out" / row["path"], dtype="float32")
        assert rate == 44100 and audio.ndim == 1
        held = audio[int(0.2 * rate) : int(0.8 * rate)]
        assert np.sqrt(np.mean(held**2)) > 1e-3, row["path"]
        assert abs(f0_error_cents(partial_cents(held, rate, midi_hz(int(row["pitch"]))))) < 25.0, row["path"]


def test_the_source_corpus_dynamics_colour_is_applied(tmp_path: Path) -> None:
    """mf gets the source's 20 dB shelf above 1 kHz: brighter than the same note without it."""
    centroids = []
    for shelf in (0.0, 20.0):
        out = tmp_path / f"out{shelf:g}"
        assert run(source_corpus(tmp_path / f"src{shelf:g}", (0.0, shelf, 0.0)), out).returncode == 0
        audio, rate = sf.read(out / TRUMPET, dtype="float32")
        centroids.append(centroid_hz(audio, rate))
    assert centroids[1] > 1.3 * centroids[0]


def test_a_source_without_labels_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    result = run(tmp_path / "src", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"render_freepats: {tmp_path / 'src' / 'labels.csv'} not found"]
    assert not (tmp_path / "out").exists()
