"""Training speed: our CPU-sized network vs a paper-sized one, same batch, same run.

Each network runs in its own fresh process (so that peak RAM is its own) and performs
the real two-stage training step (train.step.train_step) on the same batch: a warm-up
step, then timed steps. Per-epoch time is extrapolated to the training split of the
cache (--cache, else the config's cache if present, else --train-notes).

The paper-sized network is our architecture scaled up to the reference model's size
(the MD-GMVAE paper's reference code: ~15.6 M parameters, ~3.5 GMAC per note): no time pooling,
no strided stem, wider and deeper encoder stages, a wider and deeper decoder; it comes
to 15.7 M parameters and 3.48 GMAC per note.

    python bench/train_step.py [--config configs/train/md-gmvae-c-r.toml] [--cache DIR]
Prints a table and writes bench/results/train_step.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
from host import host_facts

from rtsynth.resources import configs_dir

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PAPER_MODEL = {  # 15.7 M parameters, 3.48 GMAC per note (printed by the bench)
    "time_pool": 1,
    "encoder_channels": (30, 60, 120, 240, 256, 480),
    "encoder_stem": (1, 1),
    "encoder_depth": 2,
    "decoder_channels": (256, 256, 256, 256),
    "decoder_depth": 2,
    "hidden": 256,
    "summary_hidden": 0,
    "decoder_output": "mel",
}
GM_SOL_SIZES = {"timbre": 14, "pitch": 24, "dynamics": 3, "duration": 24}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(configs_dir() / "train" / "md-gmvae-c-r.toml"))
    p.add_argument("--cache", help="dataset cache: batch and epoch size come from its train split")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="timed steps for our network")
    p.add_argument("--paper-steps", type=int, default=2, help="timed steps for the paper-sized network")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    p.add_argument("--train-notes", type=int, default=968, help="epoch size when no cache is found")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "train_step.json"))
    p.add_argument("--worker", nargs=2, metavar=("NET", "BATCH_FILE"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


# -- worker: one network in its own process -----------------------------------------------


def count_macs(model, mel) -> int:
    """Multiply-accumulates of one forward pass (convolutions and linear layers)."""
    import torch
    from torch import nn

    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):  # per output position
            positions = output.numel() // module.out_channels
            total += positions * module.out_channels * module.in_channels * math.prod(module.kernel_size)
        elif isinstance(module, nn.ConvTranspose1d):  # per input position
            positions = inputs[0].numel() // module.in_channels
            total += positions * module.out_channels * module.in_channels * module.kernel_size[0]
        elif isinstance(module, nn.Linear):
            total += output.shape[:-1].numel() * module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()(mel)
    for h in handles:
        h.remove()
    return total // len(mel)


def run_worker(args: argparse.Namespace) -> dict:
    import torch

    from rtsynth.settings import PAPER_MEL
    from rtsynth.train.config import read_config
    from rtsynth.train.data import Batch
    from rtsynth.train.distributed import DistContext
    from rtsynth.train.losses import Weights
    from rtsynth.train.models.harmonic import HarmonicSetup
    from rtsynth.train.step import build_networks, train_step

    torch.set_num_threads(args.threads)
    name, batch_file = args.worker
    saved = torch.load(batch_file, weights_only=True)
    config = read_config(args.config)
    if name == "paper":
        config = config.replace(model=dataclasses.replace(config.model, **PAPER_MODEL))
    torch.manual_seed(0)
    batch = Batch(saved["mel"], saved["labels"])
    harmonic = HarmonicSetup(PAPER_MEL, tuple(saved["pitch_midi"]))  # both sources have the paper's mel settings
    nets = build_networks(config, saved["sizes"], tuple(batch.mel.shape[1:]), DistContext(), batch.mel, harmonic)
    weights = Weights(beta=config.beta.end, remover=config.remover_weight.end)
    steps = args.paper_steps if name == "paper" else args.steps
    wall, cpu = [], []
    for i in range(steps + 1):  # the first is a warm-up
        nets.model.train()
        t0, c0 = time.perf_counter(), time.process_time()
        train_step(nets, batch, weights, config.loss, DistContext(), "bench")
        if i:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {
        "params": sum(p.numel() for p in nets.net.parameters()),
        "gmac_per_note": count_macs(nets.net, batch.mel[:2]) / 1e9,
        "step_seconds": wall,
        "step_cpu_seconds": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "model": dataclasses.asdict(config.model),
    }


# -- parent: the batch, both workers, the report ------------------------------------------


def make_batch(args: argparse.Namespace, path: Path) -> tuple[int, str]:
    """Save the batch both workers use; returns (training notes per epoch, data source)."""
    import numpy as np
    import torch

    from rtsynth.labels import DESCRIPTORS
    from rtsynth.train.config import read_config
    from rtsynth.train.prep.cache import NoteCache

    cache_dir = args.cache or read_config(args.config).cache
    if Path(cache_dir, "manifest.json").is_file():
        cache = NoteCache.load(cache_dir)
        idx = cache.indices("train")[: args.batch]
        mel = torch.from_numpy(np.asarray(cache.mels[idx], dtype=np.float32))
        labels = {d: torch.from_numpy(cache.labels[d][idx]) for d in DESCRIPTORS}
        sizes, notes, source = cache.vocab.sizes(), len(cache.indices("train")), f"cache {cache_dir}"
        pitch_midi = list(cache.vocab.pitch)
    else:
        g = torch.Generator().manual_seed(0)
        mel = torch.rand(args.batch, 256, 256, generator=g)
        labels = {d: torch.randint(0, k, (args.batch,), generator=g) for d, k in GM_SOL_SIZES.items()}
        sizes, notes, source = GM_SOL_SIZES, args.train_notes, "random mels (no cache found)"
        pitch_midi = list(range(48, 48 + GM_SOL_SIZES["pitch"]))
    if len(mel) < args.batch:
        raise SystemExit(f"the cache's train split has only {len(mel)} notes, fewer than --batch {args.batch}")
    torch.save({"mel": mel, "labels": labels, "sizes": sizes, "pitch_midi": pitch_midi}, path)
    return notes, source


def summarise(result: dict, batch: int, notes: int) -> dict:
    median = statistics.median(result["step_seconds"])
    steps_per_epoch = -(-notes // batch)
    return {
        **result,
        "step_seconds_median": median,
        "ms_per_note": 1000 * median / batch,
        "cpu_ms_per_note": 1000 * statistics.median(result["step_cpu_seconds"]) / batch,
        "epoch_seconds": median * steps_per_epoch,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        batch_file = Path(tmp) / "batch.pt"
        notes, source = make_batch(args, batch_file)
        results = {}
        passthrough = sys.argv[1:] if argv is None else list(argv)
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        for name in ("ours", "paper"):
            print(f"timing the {name} network ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, __file__, *passthrough, "--worker", name, str(batch_file)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            results[name] = summarise(json.loads(out.stdout.strip().splitlines()[-1]), args.batch, notes)
    report = {
        "machine": {**host_facts(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "batch": args.batch,
        "train_notes_per_epoch": notes,
        "data": source,
        "config": args.config,
        "ours": results["ours"],
        "paper_sized": results["paper"],
        "ratio_step_time_paper_over_ours": results["paper"]["step_seconds_median"]
        / results["ours"]["step_seconds_median"],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    _print_table(report)
    return 0


def _print_table(report: dict) -> None:
    print(
        f"{report['machine']['cpu']}, {report['ours']['threads']} threads, batch {report['batch']}, "
        f"{report['train_notes_per_epoch']} notes/epoch ({report['data']}); "
        f"load average before/after {report['machine']['loadavg_before'][0]:.1f}/"
        f"{report['machine']['loadavg_after'][0]:.1f}"
    )
    print(f"{'network':<12}{'params':>10}{'GMAC/note':>11}{'s/step':>9}{'ms/note':>9}{'s/epoch':>9}{'peak MB':>9}")
    for key in ("ours", "paper_sized"):
        r = report[key]
        print(
            f"{key:<12}{r['params'] / 1e6:>9.2f}M{r['gmac_per_note']:>11.3f}{r['step_seconds_median']:>9.2f}"
            f"{r['ms_per_note']:>9.1f}{r['epoch_seconds']:>9.1f}{r['peak_rss_mb']:>9.0f}"
        )
    print(f"paper-sized / ours step time: {report['ratio_step_time_paper_over_ours']:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
