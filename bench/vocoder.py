"""Vocoder benchmark: copy-synthesis quality, real-time factor per voice, first-chunk time.

Every candidate in rtsynth.vocoder and the baseline, librosa's `mel_to_audio` (32 Griffin-
Lim iterations), resynthesise held-out (test-split) GM-SOL notes from their ground-truth
cached mels, in one run on one core (BLAS, FFT and OpenMP held to one thread). Each result is
compared with the note's preprocessed 22 050 Hz audio, re-derived from the corpus file the
way prep derives it and checked against the cached mel:
  - multi-resolution STFT distance (spectral convergence + log-magnitude L1, FFT 512/1024/2048)
  - mel dB distance (mean |dB| over the 80 dB the mel keeps)
  - level error (dB), which checks the loudness restore from the cached peak dB
  - real-time factor per voice: note seconds / CPU seconds of this thread, the note pushed
    as the engine does (the first chunk, then --chunk-frames at a time)
  - first chunk: CPU ms from reset to the first audio (the vocoder's share of note-on latency)
Targets: both distances below the baseline, >= 50x real time, first chunk <= 5 ms.
The default vocoder is the best mel dB distance among the candidates that meet every target.

    python bench/vocoder.py [--cache cache/gm-sol-full] [--notes 100] [--chunk-frames 32]
Prints a table and writes bench/results/vocoder.json.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: one core per voice is what is measured

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
import numpy as np  # noqa: E402
from host import host_facts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rtsynth.dsp.mel import mel_power, power_to_unit, unit_to_power  # noqa: E402
from rtsynth.settings import MelSettings  # noqa: E402
from rtsynth.vocoder import CANDIDATES, DEFAULT_VOCODER, create_vocoder  # noqa: E402
from rtsynth.vocoder.quality import mel_db_distance, multi_resolution_stft_distance  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "vocoder.json"
BASELINE = "librosa-gl32"
REFERENCE_ONLY = {"zero-phase"}  # a floor for the tests, not a contender
TARGET_RTF = 50.0
TARGET_FIRST_CHUNK_MS = 5.0
CACHE_HINT = (
    "build one with `rtsynth data gm --out data/gm-sol` then "
    "`rtsynth data prep --corpus data/gm-sol --out cache/gm-sol-full`, or pass --cache"
)


@dataclass
class Note:
    source: str
    mel: np.ndarray  # [n_mels, n_frames] unit mel as cached
    peak_db: float
    audio: np.ndarray  # the preprocessed 22 050 Hz waveform the mel was made from


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="dataset cache (default: cache/gm-sol-full, else any under cache/)")
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: the one the cache names)")
    parser.add_argument("--notes", type=int, default=100, help="test-split notes, evenly spread (100)")
    parser.add_argument("--chunk-frames", type=int, default=32, help="frames per push after the first chunk (32)")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--no-baseline", action="store_true", help="skip librosa (a few s per note)")
    parser.add_argument("--seed", type=int, default=0, help="librosa's random phase initialisation")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"result file ({DEFAULT_JSON.relative_to(ROOT)})"
    )
    args = parser.parse_args(argv)
    if args.notes < 1 or args.chunk_frames < 1:
        parser.error("--notes and --chunk-frames must be >= 1")
    return args


def find_cache(given: Path | None) -> Path:
    if given is not None:
        if not (given / "manifest.json").is_file():
            raise SystemExit(f"{given} is not a complete dataset cache (no manifest.json); {CACHE_HINT}")
        return given
    preferred = ROOT / "cache" / "gm-sol-full"
    found = (
        [preferred]
        if (preferred / "manifest.json").is_file()
        else sorted(p.parent for p in (ROOT / "cache").glob("*/manifest.json"))
    )
    if not found:
        raise SystemExit(f"no complete dataset cache under {ROOT / 'cache'}; {CACHE_HINT}")
    return found[0]


def load_notes(cache_dir: Path, corpus: Path | None, count: int) -> tuple[list[Note], MelSettings]:
    """Evenly spread test-split notes with their preprocessed audio, checked against the cache."""
    from rtsynth.train.prep.cache import NoteCache

    cache = NoteCache.load(cache_dir)
    test = cache.indices("test")
    if len(test) == 0:
        raise SystemExit(f"{cache_dir} has no test-split notes")
    chosen = test[np.unique(np.linspace(0, len(test) - 1, min(count, len(test))).round().astype(int))]
    with open(cache_dir / "notes.csv", newline="") as f:
        sources = {int(row["index"]): row["source"] for row in csv.DictReader(f)}
    root = corpus or Path(cache.manifest["corpus"]["root"])
    root = root if root.is_absolute() else ROOT / root
    notes = []
    for i in chosen:
        mel = np.asarray(cache.mels[i], dtype=np.float32)
        audio = preprocessed_audio(root / sources[i], cache.manifest, cache.mel_settings)
        check_matches_cache(audio, mel, float(cache.peak_db[i]), cache.mel_settings, sources[i])
        notes.append(Note(sources[i], mel, float(cache.peak_db[i]), audio))
    return notes, cache.mel_settings


def preprocessed_audio(path: Path, manifest: dict, mel: MelSettings) -> np.ndarray:
    """The padded 22 050 Hz note prep turned into the cached mel (prep's own steps, rtsynth.dsp.note);
    check_matches_cache guards against the corpus changing after prep."""
    from rtsynth.dsp.audio import AudioProblem
    from rtsynth.dsp.note import NotePipeline
    from rtsynth.settings import TrimSettings

    options = manifest["options"]
    trim = TrimSettings(**manifest["trim_settings"])
    pipeline = NotePipeline(mel, trim, options["silence_floor_dbfs"], options["fade_s"])
    try:
        return pipeline.model_rate_audio(path)
    except AudioProblem as problem:
        raise SystemExit(f"{path}: {problem} (is --corpus the corpus this cache was built from?)") from None


def check_matches_cache(
    audio: np.ndarray, cached: np.ndarray, cached_peak_db: float, mel: MelSettings, source: str
) -> None:
    unit, peak_db = power_to_unit(mel_power(audio, mel), mel.db_range)
    error = float(np.abs(unit - cached).max())
    if error > 2e-3 or abs(peak_db - cached_peak_db) > 0.01:  # float16 storage rounds to ~5e-4
        raise SystemExit(
            f"{source}: the re-derived audio does not give the cached mel (max error {error:.4f}, "
            f"peak {peak_db:.2f} vs {cached_peak_db:.2f} dB); was the corpus changed after prep?"
        )


def quality(note: Note, out: np.ndarray, mel: MelSettings) -> dict:
    stft = multi_resolution_stft_distance(note.audio, out, mel)
    n = len(note.audio)
    level = 20 * np.log10(np.sqrt(np.mean(out[:n] ** 2) + 1e-20) / np.sqrt(np.mean(note.audio**2) + 1e-20))
    return {
        "mr_stft": stft["spectral_convergence"] + stft["log_stft_l1"],
        **stft,
        "mel_db": mel_db_distance(note.audio, out, mel),
        "level_db": float(level),
    }


def run_candidate(name: str, notes: list[Note], mel: MelSettings, chunk: int, bar) -> list[dict]:
    vocoder = create_vocoder(name, mel)
    vocoder.vocode(notes[0].mel, notes[0].peak_db)  # warm caches and FFT plans, untimed
    rows = []
    for note in notes:
        first = vocoder.latency_frames
        wall, cpu = time.perf_counter(), time.thread_time()
        vocoder.reset(note.peak_db)
        pieces = [vocoder.push(note.mel[:, :first])]
        first_cpu = time.thread_time() - cpu
        for start in range(first, note.mel.shape[1], chunk):
            pieces.append(vocoder.push(note.mel[:, start : start + chunk]))
        pieces.append(vocoder.flush())
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        if not len(pieces[0]):
            raise RuntimeError(f"{name}: no audio after its announced {first} frames")
        rows.append(
            {
                "source": note.source,
                "cpu_s": cpu,
                "wall_s": wall,
                "first_chunk_ms": 1000 * first_cpu,
                **quality(note, np.concatenate(pieces), mel),
            }
        )
        bar.update()
    return rows


def run_librosa(notes: list[Note], mel: MelSettings, seed: int, bar) -> list[dict]:
    import librosa
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(1):
        for i, note in enumerate(notes):
            power = unit_to_power(note.mel, note.peak_db, mel.db_range)
            np.random.seed(seed + i)  # griffinlim's random initial phase
            wall, cpu = time.perf_counter(), time.thread_time()
            out = librosa.feature.inverse.mel_to_audio(
                power,
                sr=mel.sample_rate,
                n_fft=mel.n_fft,
                hop_length=mel.hop_length,
                n_iter=32,
                fmin=mel.fmin,
                fmax=mel.fmax,
                power=2.0,
                length=mel.n_samples,
            )
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            # offline: nothing comes out before the whole note is done
            rows.append(
                {
                    "source": note.source,
                    "cpu_s": cpu,
                    "wall_s": wall,
                    "first_chunk_ms": 1000 * cpu,
                    **quality(note, out, mel),
                }
            )
            bar.update()
    return rows


def summarise(rows: list[dict], note_seconds: float) -> dict:
    def stat(key, fn=np.mean):
        return round(float(fn([r[key] for r in rows])), 4)

    cpu = sum(r["cpu_s"] for r in rows)
    return {
        "notes": len(rows),
        "mr_stft": stat("mr_stft"),
        "spectral_convergence": stat("spectral_convergence"),
        "log_stft_l1": stat("log_stft_l1"),
        "mel_db": stat("mel_db"),
        "level_error_db_mean_abs": round(float(np.mean([abs(r["level_db"]) for r in rows])), 3),
        "rtf_per_voice": round(note_seconds * len(rows) / cpu, 1),
        "rtf_per_voice_worst_note": round(note_seconds / max(r["cpu_s"] for r in rows), 1),
        "rtf_per_voice_wall": round(note_seconds * len(rows) / sum(r["wall_s"] for r in rows), 1),
        "first_chunk_ms_median": stat("first_chunk_ms", np.median),
        "first_chunk_ms_p95": stat("first_chunk_ms", lambda v: np.percentile(v, 95)),
    }


def columns(rows: list[dict]) -> dict[str, list[float]]:
    """Per-note values as one rounded list per measure (note order as in per_note.source)."""
    return {key: [round(float(r[key]), 5) for r in rows] for key in rows[0] if key != "source"}


def judge(summary: dict, baseline: dict | None) -> dict:
    checks = {
        "rtf": summary["rtf_per_voice"] >= TARGET_RTF,
        "first_chunk": summary["first_chunk_ms_median"] <= TARGET_FIRST_CHUNK_MS,
    }
    if baseline is not None:
        checks["mr_stft_beats_baseline"] = summary["mr_stft"] < baseline["mr_stft"]
        checks["mel_db_beats_baseline"] = summary["mel_db"] < baseline["mel_db"]
    return checks


def choose_default(results: dict) -> str | None:
    contenders = [
        n for n, r in results.items() if n != BASELINE and n not in REFERENCE_ONLY and all(r["targets"].values())
    ]
    return min(contenders, key=lambda n: (results[n]["mel_db"], results[n]["mr_stft"]), default=None)


def table(results: dict) -> str:
    head = (
        f"{'vocoder':14s} {'MR-STFT':>8s} {'SC':>6s} {'logL1':>6s} {'mel dB':>7s} {'lvl dB':>7s} "
        f"{'RTF/voice':>10s} {'worst':>7s} {'1st chunk ms':>13s}  targets"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        missed = [k for k, v in r["targets"].items() if not v]
        ok = "missed: " + ", ".join(missed) if missed else "all met"
        lines.append(
            f"{name:14s} {r['mr_stft']:8.3f} {r['spectral_convergence']:6.3f} {r['log_stft_l1']:6.3f} "
            f"{r['mel_db']:7.2f} {r['level_error_db_mean_abs']:7.2f} {r['rtf_per_voice']:9.1f}x "
            f"{r['rtf_per_voice_worst_note']:6.1f}x {r['first_chunk_ms_median']:6.2f} "
            f"(p95 {r['first_chunk_ms_p95']:5.2f})  {ok}"
        )
    return "\n".join(lines)


def machine() -> dict:
    import scipy

    return {
        **host_facts(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    args = parse_args(argv)
    cache_dir = find_cache(args.cache)
    host = machine()
    notes, mel = load_notes(cache_dir, args.corpus, args.notes)
    names = list(args.candidates) + ([] if args.no_baseline else [BASELINE])
    per_note = {}
    with threadpool_limits(1), tqdm(total=len(names) * len(notes), unit="note", desc="vocoder bench") as bar:
        for name in names:
            bar.set_postfix_str(name)
            per_note[name] = (
                run_librosa(notes, mel, args.seed, bar)
                if name == BASELINE
                else run_candidate(name, notes, mel, args.chunk_frames, bar)
            )
    summaries = {name: summarise(rows, mel.note_seconds) for name, rows in per_note.items()}
    baseline = summaries.get(BASELINE)
    for name, summary in summaries.items():
        summary["targets"] = judge(summary, None if name == BASELINE else baseline)
    chosen = choose_default(summaries)
    host["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "benchmark": "vocoder",
        "machine": host,
        "cache": str(cache_dir),
        "notes": len(notes),
        "split": "test",
        "mel_settings": mel.to_dict(),
        "push": {"first": "latency_frames of the vocoder", "then_frames": args.chunk_frames},
        "timing": "CPU seconds of the vocoding thread (time.thread_time), 1 BLAS/FFT/OpenMP thread",
        "targets": {
            "rtf_per_voice_min": TARGET_RTF,
            "first_chunk_ms_max": TARGET_FIRST_CHUNK_MS,
            "distances": f"below {BASELINE}",
        },
        "candidates": {n: asdict(CANDIDATES[n]) for n in args.candidates},
        "results": summaries,
        "chosen_default": chosen,
        "library_default": DEFAULT_VOCODER,
        "per_note": {"source": [n.source for n in notes], **{name: columns(rows) for name, rows in per_note.items()}},
    }
    print(
        f"vocoder benchmark on {host['cpu']} ({host['cores']} cores, load {host['load_average_at_start']}), "
        f"{len(notes)} test notes from {cache_dir}"
    )
    print(table(summaries))
    if baseline is None:
        print("no baseline run: distances were not judged, only speed")
    print(
        f"chosen default (best mel dB among those meeting every target): {chosen}; "
        f"rtsynth.vocoder.DEFAULT_VOCODER = {DEFAULT_VOCODER}"
        + ("" if chosen == DEFAULT_VOCODER else "  <- DIFFERENT: update DEFAULT_VOCODER or the candidates")
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
