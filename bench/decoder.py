"""Decoder speed: ms per note at batch 1 and 16, onnxruntime vs torch eager, 1 thread and all.

Batch 1 is the live engine's worst case: a note nobody has rendered yet must be decoded
between the event and its first sample (target <= 10 ms in all). Decode time depends on
the architecture, not on the weights, so a bundle without its run is timed against an
untrained torch model built from the bundle's recorded config.

    python bench/decoder.py                       # bundles/default, else an untrained model
    python bench/decoder.py --bundle bundles/NAME  |  --run runs/NAME  |  --config configs/train/X.toml
Prints a table and writes bench/results/decoder.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
import numpy as np
from host import host_facts

from rtsynth.resources import configs_dir, default_bundle

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = default_bundle()
DEFAULT_CONFIG_DIR = configs_dir() / "train"
DEFAULT_JSON = ROOT / "bench" / "results" / "decoder.json"
BATCHES = (1, 16)

log = logging.getLogger("bench.decoder")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bundle", type=Path, help="bundle directory (decoder.onnx + bundle.json)")
    source.add_argument("--run", type=Path, help="run directory; its decoder is exported to a temporary ONNX")
    source.add_argument("--config", type=Path, help="training config; an untrained model of that shape")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per measurement (50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (5)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="'all threads' means this many")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"result file ({DEFAULT_JSON.relative_to(ROOT)})"
    )
    return parser.parse_args(argv)


def default_config() -> Path:
    configs = sorted(DEFAULT_CONFIG_DIR.glob("*.toml"))
    if not configs:
        raise SystemExit(f"no bundle at {DEFAULT_BUNDLE} and no config in {DEFAULT_CONFIG_DIR}; pass --config")
    preferred = [c for c in configs if c.stem in ("default", "md-gmvae+c+r", "md-gmvae-c-r")]
    return (preferred or configs)[0]


def shown(path: Path) -> str:
    """A path as the JSON records it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def untrained_model(config, vocab_sizes: dict[str, int], mel, pitch_midi: tuple[int, ...]):
    from rtsynth.train.models import build_model
    from rtsynth.train.models.harmonic import HarmonicSetup

    return build_model(config, vocab_sizes, mel.n_mels, mel.n_frames, HarmonicSetup(mel, pitch_midi)).eval()


def from_bundle(bundle: Path):
    """(torch model of the bundle's architecture, decoder.onnx path, description)."""
    from rtsynth.bundle import DECODER_FILE, BundleError, read_spec
    from rtsynth.train.config import config_from_dict

    try:
        spec = read_spec(bundle)
    except BundleError as err:
        raise SystemExit(f"cannot benchmark {bundle}: {err}") from None
    if "config" not in spec.model:
        raise SystemExit(f"{bundle}/bundle.json records no training config; pass --run or --config instead")
    config = config_from_dict(spec.model["config"])
    model = untrained_model(config, spec.vocab.sizes(), spec.mel, spec.vocab.pitch)
    return model, bundle / DECODER_FILE, {"bundle": shown(bundle), "variant": config.variant}


def from_model(model, workdir: Path, description: dict):
    from rtsynth.export.onnx_decoder import decoder_metadata, export_decoder
    from rtsynth.settings import PAPER_MEL

    path = export_decoder(model, workdir / "decoder.onnx", decoder_metadata(PAPER_MEL, {}))
    return model, path, description


def resolve(args: argparse.Namespace, workdir: Path):
    if args.bundle or (not args.run and not args.config and DEFAULT_BUNDLE.is_dir()):
        return from_bundle(args.bundle or DEFAULT_BUNDLE)
    if args.run:
        from rtsynth.train.runs import RunError, load_run

        try:
            run = load_run(args.run)
        except RunError as err:
            raise SystemExit(f"cannot benchmark {args.run}: {err}") from None
        return from_model(run.model, workdir, {"run": shown(args.run), "variant": run.config.variant})
    from rtsynth.settings import PAPER_MEL
    from rtsynth.train.config import read_config

    path = args.config or default_config()
    config = read_config(path)
    pitches = tuple(range(28, 109))  # GM-SOL's full range; the class count only sizes heads decode does not use
    sizes = {"timbre": 14, "pitch": len(pitches), "dynamics": 3, "duration": 24}
    model = untrained_model(config, sizes, PAPER_MEL, pitches)
    return from_model(model, workdir, {"config": shown(path), "variant": config.variant, "weights": "untrained"})


def time_calls(call, batch: int, warmup: int, repeats: int) -> dict:
    z = np.random.default_rng(0).standard_normal((batch, 20)).astype(np.float32)
    start = time.perf_counter()
    call(z)  # the first call at a new batch size allocates buffers: what an unwarmed engine pays
    first = (time.perf_counter() - start) * 1e3
    for _ in range(warmup):
        call(z)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(z)
        times.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(times)
    return {
        "batch": batch,
        "ms_per_call_median": round(median, 3),
        "ms_per_call_p95": round(float(np.percentile(times, 95)), 3),
        "ms_per_call_min": round(min(times), 3),
        "ms_first_call": round(first, 3),
        "ms_per_note": round(median / batch, 3),
    }


def onnx_decoder(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    return lambda z: session.run(None, {"z": z})[0]


def torch_decoder(model, threads: int):
    import torch

    def call(z):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return model.decode(torch.from_numpy(z)).numpy()

    return call


def measure(model, onnx_path: Path, args: argparse.Namespace) -> list[dict]:
    rows = []
    for threads in sorted({1, args.threads}):
        engines = {"onnxruntime": onnx_decoder(onnx_path, threads), "torch eager": torch_decoder(model, threads)}
        for engine, call in engines.items():
            for batch in BATCHES:
                repeats = args.repeats if batch == 1 else max(args.repeats // 4, 5)
                row = {"engine": engine, "threads": threads, **time_calls(call, batch, args.warmup, repeats)}
                rows.append(row)
                log.info("%s", row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        f"{'engine':<12} {'threads':>7} {'batch':>5} {'ms/call (median)':>17} {'p95':>8} {'first':>8} {'ms/note':>8}"
    ]
    for r in rows:
        lines.append(
            f"{r['engine']:<12} {r['threads']:>7} {r['batch']:>5} {r['ms_per_call_median']:>17.2f} "
            f"{r['ms_per_call_p95']:>8.2f} {r['ms_first_call']:>8.2f} {r['ms_per_note']:>8.2f}"
        )
    return "\n".join(lines)


def speedups(rows: list[dict]) -> dict:
    """torch eager ms / onnxruntime ms for each thread count and batch (> 1: ONNX faster)."""
    by = {(r["engine"], r["threads"], r["batch"]): r["ms_per_call_median"] for r in rows}
    return {
        f"threads={t} batch={b}": round(by[("torch eager", t, b)] / by[("onnxruntime", t, b)], 2)
        for (e, t, b) in by
        if e == "onnxruntime"
    }


def machine() -> dict:
    import onnxruntime
    import torch

    return {
        **host_facts(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    host = machine()  # before the measurement: the load other processes put on the machine
    with tempfile.TemporaryDirectory() as workdir:
        model, onnx_path, source = resolve(args, Path(workdir))
        rows = measure(model, onnx_path, args)
    result = {
        "benchmark": "decoder",
        "source": source,
        "machine": host,
        "repeats": args.repeats,
        "results": rows,
        "speedup_onnx_over_torch": speedups(rows),
    }
    print(
        f"decoder benchmark on {host['cpu']} ({host['cores']} cores, load average {host['load_average_1min']} "
        f"before the run), {source}"
    )
    print(table(rows))
    print("torch eager / onnxruntime:", result["speedup_onnx_over_torch"])
    best = min((r for r in rows if r["batch"] == 1), key=lambda r: r["ms_per_call_median"])
    print(
        f"fastest batch-1 decode: {best['engine']} with {best['threads']} thread(s), "
        f"{best['ms_per_call_median']:.2f} ms median, {best['ms_per_call_p95']:.2f} ms p95 "
        "(live target: <= 10 ms event to first sample, decode + first vocoder chunk)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
