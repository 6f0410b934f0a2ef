"""What a voice costs: the shipped model played by direct harmonic-plus-noise synthesis (plain,
and under a 30-cent vibrato, whose partials take a sine per sample) and by its mel + vocoder +
resampler path, note by note on one thread, in CPU time (so the numbers hold on a busy machine
where wall time does not).

For each note (every timbre x a spread of keys, mf, 2 s held): decode one latent, render the
first chunk (what a note-on waits for), then the rest in the engine's chunk size. Reported:
first-chunk CPU ms (decode, then the synthesis alone), real-time factor per voice (note
seconds / CPU seconds) and what it means in voices per core.

    python bench/synthesis.py [--bundle DIR] [--keys 6] [--samplerate 48000] [--gap SECONDS]
Prints a table and writes bench/results/synthesis.json.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: one core per voice is what is measured

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
from host import host_facts  # noqa: E402

from rtsynth.dsp.harmonic import UNBENT, BendCurve  # noqa: E402
from rtsynth.engine.config import EngineConfig  # noqa: E402
from rtsynth.engine.direct import DirectRuntime  # noqa: E402
from rtsynth.engine.requests import Rebend  # noqa: E402
from rtsynth.engine.synth import ModelRuntime, Runtime  # noqa: E402
from rtsynth.labels import velocity_unit  # noqa: E402
from rtsynth.model import load_model  # noqa: E402
from rtsynth.resources import default_bundle  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "synthesis.json"
VIBRATO_CENTS = 30.0  # the vibrato of the third path (at its default rate)


def notes(runtime: Runtime, keys: int) -> list[tuple[str, int]]:
    """Every timbre at `keys` keys spread over its trained range."""
    ranges = runtime.spec.corpus.get("timbre_pitch_ranges", {})
    out = []
    for timbre in runtime.space.timbres:
        lo, hi = ranges.get(timbre, (48, 72))
        out += [(timbre, int(k)) for k in np.linspace(lo, hi, keys).round()]
    return out


def cost(runtime: Runtime, timbre: str, key: int, chunk_frames: int, bend: BendCurve = UNBENT) -> dict[str, float]:
    """CPU time of one note on this pitch curve: decode, first chunk, the whole note."""
    from rtsynth.engine.channels import Timeline
    from rtsynth.engine.notes import NoteSpec, plan_note

    space = runtime.space
    control = np.zeros(space.control_size, np.float32)
    control[space.timbre_index(timbre)] = 1.0
    spec = NoteSpec(0, 0, key, velocity_unit(80), 2.0, None, 0.0, None, 0)
    plan = plan_note(spec, Timeline.still(control), space, runtime.framing)
    began = time.thread_time()
    params, peak = runtime.assemble(plan, runtime.decode(plan.z))
    decoded = time.thread_time()
    stream = runtime.stream(params, peak, 0, runtime.vocoder_name, key, bend)
    first = stream.advance(runtime.first_frames)
    first_done = time.thread_time()
    while not stream.done:
        stream.advance(chunk_frames)
    ended = time.thread_time()
    assert np.isfinite(first).all(), f"{timbre} {key}: the first chunk is not finite"
    return {
        "decode_ms": (decoded - began) * 1e3,
        "first_chunk_ms": (first_done - decoded) * 1e3,
        "note_cpu_s": ended - began,
    }


def measure(
    runtime: Runtime, keys: int, chunk_frames: int, gap: float = 0.0, vibrato_cents: float = 0.0
) -> dict[str, float | str]:
    from tqdm import tqdm

    played = notes(runtime, keys)
    runtime.warm_up()  # as the engine does before it plays: every key's tables built
    bend = Rebend(0, 0.0, 0.0, vibrato_cents).from_start(runtime.out_rate)
    cost(runtime, *played[0], chunk_frames, bend)  # first runs (onnxruntime, FFT plans) are slow
    rows = []
    path = runtime.vocoder_name + (f", vibrato {vibrato_cents:g} cents" if vibrato_cents else "")
    for timbre, key in tqdm(played, desc=path):
        time.sleep(gap)  # idle between notes, as a player leaves it: the caches go cold
        rows.append(cost(runtime, timbre, key, chunk_frames, bend))
    note_s = runtime.note_samples / runtime.out_rate
    rtf = np.array([note_s / r["note_cpu_s"] for r in rows])
    return {
        "path": path,
        "notes": len(rows),
        "gap_s": gap,
        "decode_ms_p50": float(np.median([r["decode_ms"] for r in rows])),
        "first_chunk_ms_p50": float(np.median([r["first_chunk_ms"] for r in rows])),
        "first_chunk_ms_p99": float(np.percentile([r["first_chunk_ms"] for r in rows], 99)),
        "realtime_factor_p50": float(np.median(rtf)),
        "realtime_factor_min": float(rtf.min()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=default_bundle())
    parser.add_argument("--keys", type=int, default=6, help="keys per timbre, spread over its range")
    parser.add_argument("--samplerate", type=int, default=48000)
    parser.add_argument("--gap", type=float, default=0.0, help="seconds idle before each note")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    config = EngineConfig(samplerate=args.samplerate)
    model = load_model(args.bundle)
    results = []
    if model.spec.synthesis:
        from rtsynth.synthesis import parse_synthesis

        synthesis = parse_synthesis(model.spec.synthesis)
        assert synthesis is not None
        direct = DirectRuntime(model, config, synthesis)
        results += [measure(direct, args.keys, config.chunk_frames, args.gap, cents) for cents in (0.0, VIBRATO_CENTS)]
    results.append(measure(ModelRuntime(model, config), args.keys, config.chunk_frames, args.gap))
    print(f"{'path':<40}{'decode ms':>11}{'first chunk ms p50/p99':>25}{'x real time p50 (min)':>24}")
    for r in results:
        print(
            f"{r['path']:<40}{r['decode_ms_p50']:>11.2f}{r['first_chunk_ms_p50']:>14.2f} / "
            f"{r['first_chunk_ms_p99']:<8.2f}{r['realtime_factor_p50']:>14.0f} ({r['realtime_factor_min']:.0f})"
        )
    record = {"machine": host_facts(), "bundle": str(args.bundle), "samplerate": args.samplerate, "paths": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
