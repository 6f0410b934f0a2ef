"""What idle time costs the next piece of work on this machine: a fixed bit of numpy work (a
never-rendered note's first-frames decode is about this size), timed right after sleeping for
a gap, then again at once, against the same work back to back.

Why: a note arrives after the worker has slept. Where the CPU wakes slowly (a VM's vCPU that
halted, a laptop's power states), every ms of a new note's work costs two or three, which the
engine latency bench then shows as a never-rendered note's late start, not as our code.

    python bench/wake.py [--gaps 0.12 0.02 0.005 0] [--repeats 200]
Prints a table and writes bench/results/wake.json.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before numpy loads: one core, as the note-start thread has

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
from host import host_facts

OUT = Path(__file__).resolve().parent / "results" / "wake.json"
rng = np.random.default_rng(0)
A, B = rng.random((128, 128), np.float32), rng.random((128, 64), np.float32)


def work() -> float:
    """Twenty 128×128 by 128×64 products (about 0.3 ms warm): seconds taken."""
    began = time.perf_counter()
    for _ in range(20):
        A @ B
    return time.perf_counter() - began


def after_gap(gap: float, repeats: int) -> dict[str, list[float]]:
    """ms p50 / p99 of the work right after sleeping `gap` s, and of the same work once more."""
    first, second = [], []
    for _ in range(repeats):
        if gap:
            time.sleep(gap)
        first.append(work())
        second.append(work())
    return {
        name: (np.percentile(t, [50, 99]) * 1e3).round(3).tolist()
        for name, t in {"first": first, "next": second}.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaps", type=float, nargs="+", default=[0.12, 0.02, 0.005, 0.0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for _ in range(50):
        work()
    rows = {str(gap): after_gap(gap, args.repeats) for gap in args.gaps}
    print("idle gap s | work right after, ms p50 / p99 | the same work next, ms p50 / p99")
    for gap, row in rows.items():
        (a, b), (c, d) = row["first"], row["next"]
        print(f"{gap:>10} | {a:.3f} / {b:.3f} | {c:.3f} / {d:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"host": host_facts(), "repeats": args.repeats, "gaps": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
