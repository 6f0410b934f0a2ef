"""Soak: a scripted performance against `rtsynth serve` on a JACK dummy server (48 kHz).

For --seconds (default 600): a note every 0.25 s, a four-note chord every 2 s, a morph sweep
and a timbre change every 5 s, a model swap every 30 s (two a minute, between two copies of the
bundle), and one kill -9 of the live render worker half-way. Every second it reads `/status` and
the memory of the server, its live worker and the standby worker. Reports notes lost (sent and
neither started nor refused with a reason), our xruns (late or missing audio of our own), memory
over time, latency percentiles, worker restarts and how long the takeover took; JSON to
bench/results/soak.json and a plot beside it.

    python bench/soak.py [--seconds 600] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # jack_support: shared with the tests
from host import host_facts, rss_mb
from jack_support import free_udp_port, jack_server, serve_banner, stop_serve
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from rtsynth.resources import default_bundle

OUT = Path(__file__).resolve().parent / "results" / "soak.json"


class Performer:
    """Sends the script's OSC and reads the replies (errors are counted, never fatal)."""

    def __init__(self, port: int):
        self.address = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.0)
        self.sent_notes = self.errors = 0
        self.notices: list[str] = []  # /error replies about no message of ours (a worker crash)
        self.replies: list[OscMessage] = []

    def send(self, address: str, *args: object) -> None:
        message = OscMessageBuilder(address)
        for arg in args:
            message.add_arg(arg)
        self.sock.sendto(message.build().dgram, self.address)
        self.sent_notes += address == "/note"

    def drain(self) -> None:
        while True:
            try:
                data, _ = self.sock.recvfrom(65536)
            except (BlockingIOError, TimeoutError):
                return
            message = OscMessage(data)
            if message.address == "/error":
                about, reason = message.params[0], message.params[1]
                self.errors += about == "/note"
                if not about:
                    self.notices.append(reason)
            self.replies.append(message)

    def status(self, timeout: float = 2.0) -> dict | None:
        self.replies.clear()
        self.send("/status")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()
            for reply in self.replies:
                if reply.address == "/status/reply":
                    params = reply.params
                    return dict(zip(params[::2], params[1::2], strict=False))
            time.sleep(0.01)
        return None


def worker_pids(server: int) -> list[int]:
    """The server's render worker processes: the live one and its standby."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            ours = entry.name.isdigit() and "rtsynth.engine.process" in (entry / "cmdline").read_text()
            if ours and int((entry / "stat").read_text().split()[3]) == server:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def perform(performer: Performer, server: subprocess.Popen, seconds: float, timbres: list[str]) -> list[dict]:
    """The script; one sample of status and memory per second."""
    rng, samples, start, killed = random.Random(0), [], time.monotonic(), False
    step, t, live = 0, 0.0, None
    while t < seconds:
        t = time.monotonic() - start
        note = rng.randint(48, 84)
        performer.send("/note", note, rng.randint(40, 120), 0.4)
        if step % 8 == 0:
            for offset in (0, 4, 7, 12):
                performer.send("/note", note + offset, 90, 1.5)
        if step % 20 == 0:
            performer.send("/morph/a", rng.choice(timbres))
            performer.send("/morph/b", rng.choice(timbres))
            for x in range(11):
                performer.send("/morph/x", x / 10)
            performer.send("/timbre", rng.choice(timbres))
        if step % 120 == 60:
            performer.send("/model/load", "b" if step % 240 == 60 else "a")
        if not killed and t > seconds / 2 and live:
            os.kill(live, signal.SIGKILL)
            killed = True
        if step % 4 == 0:
            status = performer.status() or {}
            live = status.get("worker_pid") or None
            standby = [pid for pid in worker_pids(server.pid) if pid != live]
            samples.append(
                {
                    "t": round(t, 2),
                    "server_mb": rss_mb(server.pid),
                    "worker_mb": rss_mb(live or None),
                    "standby_mb": rss_mb(standby[0] if standby else None),
                    **{k: status.get(k) for k in ("notes", "dropped_notes", "underruns", "late_starts", "xruns")},
                    "cache_notes": status.get("cache_notes"),
                    "restarts": status.get("worker_restarts"),
                }
            )
        performer.drain()
        step += 1
        time.sleep(max(0.0, start + step * 0.25 - time.monotonic()))
    return samples


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--bundle", type=Path, default=default_bundle())
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, jack_server(period=256):
        bundles = Path(folder) / "bundles"
        for name in ("a", "b"):
            shutil.copytree(args.bundle, bundles / name)
        config = Path(folder) / "serve.toml"
        config.write_text(f'[serve]\nbundles_dir = "{bundles}"\nweb_port = 0\n')
        port = free_udp_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rtsynth",
                "serve",
                "--config",
                str(config),
                "--bundle",
                str(bundles / "a"),
                "--osc-port",
                str(port),
                "--blocksize",
                "256",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            serve_banner(server)
            performer = Performer(port)
            timbres = [
                t for t in json.loads((args.bundle / "bundle.json").read_text())["descriptors"]["timbre"]["classes"]
            ]
            samples = perform(performer, server, args.seconds, timbres)
            time.sleep(3.0)
            final = performer.status() or {}
            performer.send("/latency")
            time.sleep(0.5)
            performer.drain()
            latency = next((list(r.params) for r in performer.replies if r.address == "/latency/reply"), [])
        finally:
            stop_serve(server, signal.SIGINT)
    report = summarize(samples, final, performer, latency, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    plot(samples, args.out.with_suffix(".png"))
    print(json.dumps(report["summary"], indent=1))
    return 0


def summarize(samples: list[dict], final: dict, performer: Performer, latency: list, args) -> dict:
    memory = [s for s in samples if s["server_mb"] == s["server_mb"]]
    first, last = memory[len(memory) // 10], memory[-1]  # after the warm-up tenth
    settled = memory[len(memory) // 10 :]
    notes = int(final.get("notes", 0)) + int(final.get("dropped_notes", 0))
    return {
        "meta": {"host": host_facts(), "seconds": args.seconds, "bundle": str(args.bundle)},
        "summary": {
            "notes_sent": performer.sent_notes,
            "notes_started_or_dropped_with_a_count": notes,
            "refused_with_an_error_reply": performer.errors,
            "notes_lost": max(0, performer.sent_notes - notes - performer.errors),
            "underruns": final.get("underruns"),
            "late_starts": final.get("late_starts"),
            "jack_xruns": final.get("xruns"),
            "worker_restarts": final.get("worker_restarts"),
            "worker_takeover_ms": final.get("worker_restart_ms"),
            "resumed_notes": final.get("resumed_notes"),
            "restart_notices": performer.notices,
            "server_mb_start_end": [first["server_mb"], last["server_mb"]],
            "worker_mb_start_end": [first["worker_mb"], last["worker_mb"]],
            **{f"{key}_min_max": span(settled, key) for key in ("server_mb", "worker_mb", "standby_mb")},
            "latency_p50_p99_ms": latency,
        },
        "samples": samples,
    }


def span(samples: list[dict], key: str) -> list[float]:
    values = [s[key] for s in samples if s[key] == s[key]]
    return [round(min(values), 1), round(max(values), 1)] if values else []


def plot(samples: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t"] for s in samples]
    fig, (memory, counts) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    memory.plot(t, [s["server_mb"] for s in samples], label="server")
    memory.plot(t, [s["worker_mb"] for s in samples], label="render worker")
    memory.plot(t, [s["standby_mb"] for s in samples], label="standby worker")
    memory.set_ylabel("RSS (MB)")
    memory.legend(loc="upper left")
    for key in ("underruns", "late_starts", "dropped_notes"):
        counts.plot(t, [s[key] or 0 for s in samples], label=key)
    counts.set_ylabel("count (cumulative)")
    counts.set_xlabel("seconds")
    counts.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
