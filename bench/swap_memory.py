"""Render-worker memory across model swaps: a live engine (worker process and its standby)
playing into a JACK dummy server swaps between two copies of a bundle --swaps times, playing a
few notes after each, and the resident memory (RSS) of the live worker, the standby and the
engine process is read after every swap. JSON to bench/results/swap_memory.json.

    python bench/swap_memory.py [--swaps 50] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # jack_support: shared with the tests
from host import host_facts, rss_mb
from jack_support import jack_server

from rtsynth.engine.backends import SoundDeviceBackend
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.engine import Engine
from rtsynth.engine.events import NoteOn
from rtsynth.resources import default_bundle

OUT = Path(__file__).resolve().parent / "results" / "swap_memory.json"


def wait_until(condition, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the engine did not get there in time")
        time.sleep(0.02)


def standby_pid(engine: Engine) -> int | None:
    standby = getattr(engine.worker_link, "_standby", None)
    return None if standby is None else standby.pid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--swaps", type=int, default=50)
    p.add_argument("--settle", type=float, default=4.0, help="seconds of notes after each swap before measuring")
    p.add_argument("--bundle", type=Path, default=default_bundle())
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    samples = []
    with tempfile.TemporaryDirectory() as folder, jack_server(period=256):
        bundles = [Path(folder) / name for name in ("a", "b")]
        for bundle in bundles:
            shutil.copytree(args.bundle, bundle)
        engine = Engine(bundles[0], EngineConfig()).start()
        backend = SoundDeviceBackend(engine).start()
        try:
            wait_until(lambda: engine.status()["worker_standby"])
            start = time.monotonic()
            for i in range(args.swaps + 1):
                if i:
                    target = bundles[i % 2]
                    engine.load_model(target)
                    wait_until(lambda: not engine.status()["model_loading"])
                    wait_until(lambda: engine.status()["worker_standby"])
                for k in range(4):
                    engine.submit(NoteOn(60 + 4 * k, 0.7, 0.3, one_shot=True))
                time.sleep(args.settle)
                status = engine.status()
                samples.append(
                    {
                        "swap": i,
                        "t": round(time.monotonic() - start, 2),
                        "worker_mb": rss_mb(status["worker_pid"]),
                        "standby_mb": rss_mb(standby_pid(engine)),
                        "engine_mb": rss_mb(os.getpid()),
                        "model_error": status["model_error"],
                    }
                )
                print(json.dumps(samples[-1]), flush=True)
        finally:
            backend.stop()
            engine.stop()
    report = {"meta": {"host": host_facts(), "swaps": args.swaps, "bundle": str(args.bundle)}}
    report["summary"] = summarize(samples)
    report["samples"] = samples
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"], indent=1))
    return 0


def summarize(samples: list[dict]) -> dict:
    """Baseline: after the first swap (both workers have loaded twice); spread: max - min after it."""
    out = {}
    for key in ("worker_mb", "standby_mb", "engine_mb"):
        values = [s[key] for s in samples[1:] if s[key] == s[key]]
        out[key] = {
            "first": round(samples[0][key], 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
            "last": round(values[-1], 1),
            "spread": round(max(values) - min(values), 1),
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
