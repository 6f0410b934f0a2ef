"""Engine benchmark on a real JACK server (dummy driver, 48 kHz); JSON to bench/results/engine.json.

For each period (JACK -p, also the engine's block size):
1. event-to-first-sample latency p50/p99 (arrival timestamp -> DAC time of the note's first
   sample, from the audio callback's timing info), for never-rendered notes (a fresh latent
   each: nothing cached) and for cached ones (pre-rendered), sent by direct Engine.submit,
   over OSC (UDP) and over JACK MIDI (python-rtmidi);
2. voice capacity: the most voices held with zero xruns and no late audio, every voice
   re-struck with a never-rendered note every few seconds (the worst case: all vocoding
   live); a short search, then a confirmation over --hold seconds;
3. an OSC flood: --flood-rate messages/s for --flood-seconds, a tenth malformed.

Run: .venv/bin/python bench/engine.py [--bundle DIR | --synthetic] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import struct
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, however the script is started
import numpy as np
from host import host_facts

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # jack_support, harmonic_bundle: shared with the tests

from jack_support import jack_server  # noqa: E402

from rtsynth.engine.backends import SoundDeviceBackend  # noqa: E402
from rtsynth.engine.config import EngineConfig  # noqa: E402
from rtsynth.engine.engine import Engine  # noqa: E402
from rtsynth.engine.events import NoteOff, NoteOn  # noqa: E402
from rtsynth.labels import velocity_unit  # noqa: E402
from rtsynth.resources import default_bundle  # noqa: E402

HOLD_S = 0.1  # each latency-test note is held this long
CAPACITY_STEPS = (4, 8, 12, 16, 24, 32, 40, 48, 64)
RESTRIKE_S = 4.0  # capacity test: each voice gets a new, never-rendered note this often
STATUS_WAIT_S = 20.0  # flood test: how long /status may take to answer once the flood is over


class Rig:
    """Engine + sounddevice backend + OSC server + JACK MIDI input + an xrun counter."""

    def __init__(
        self,
        bundle: Path,
        period: int,
        voices: int,
        vocoder: str = "",
        attack_vocoder: str | None = None,
        worker_nice: int = 0,
        lookahead_blocks: float = 1.0,
    ):
        import jack
        import rtmidi

        from rtsynth.control.midi import MidiInput
        from rtsynth.control.osc import OscServer

        attack = {} if attack_vocoder is None else {"attack_vocoder": attack_vocoder}
        self.engine = Engine(
            bundle,
            EngineConfig(
                blocksize=period,
                lookahead_blocks=lookahead_blocks,
                voices=voices,
                cache_mb=512,
                vocoder=vocoder,
                worker_nice=worker_nice,
                **attack,
            ),
        ).start()
        self.backend = SoundDeviceBackend(self.engine).start()
        self.osc = OscServer(self.engine, port=0)
        self.osc.start()
        self.midi = MidiInput(self.engine, "virtual", api=rtmidi.API_UNIX_JACK)
        self.midi.start()
        self.jack = jack.Client("rtsynth-bench", no_start_server=True)
        self.xruns = 0
        self.jack.set_xrun_callback(self._xrun)
        self._midi_out = self.jack.midi_outports.register("out")
        self._midi_queue: deque[bytes] = deque()
        self.jack.set_process_callback(self._process)
        self.jack.activate()
        targets = self.jack.get_ports("rtsynth", is_midi=True, is_input=True)
        self.jack.connect(self._midi_out, targets[0])
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.settimeout(5)

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        self._midi_out.clear_buffer()
        while self._midi_queue:
            self._midi_out.write_midi_event(0, self._midi_queue.popleft())

    def send(self, transport: str, note: int, velocity: float, on: bool) -> None:
        """velocity 0-1; OSC sends it as a float, MIDI as the nearest whole MIDI velocity."""
        if transport == "direct":
            self.engine.submit(NoteOn(note, velocity) if on else NoteOff(note))
        elif transport == "osc":
            args = (note, float(velocity)) if on else (note,)
            self.udp.sendto(osc_message("/note/on" if on else "/note/off", *args), ("127.0.0.1", self.osc.port))
        else:
            self._midi_queue.append(bytes([0x90 if on else 0x80, note, round(velocity * 127) if on else 0]))

    def trouble(self) -> dict:
        status = self.engine.status()
        return {
            "jack_xruns": self.xruns,
            "engine_xruns": status["xruns"],
            "late_audio_blocks": status["underruns"],
            "dropped_notes": status["dropped_notes"],
        }

    def close(self) -> None:
        self.jack.deactivate()
        self.jack.close()
        self.midi.stop()
        self.osc.stop()
        self.backend.stop()
        self.engine.stop()
        self.udp.close()


def osc_message(address: str, *args) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


class FreshNotes:
    """Notes nobody has rendered yet: each gets a velocity, so a dynamics latent, of its own.

    Velocities stay strictly between the softest and loudest dynamics classes (beyond them
    the latent is clamped, so two velocities could share one); MIDI has only whole
    velocities, so its notes are unique (pitch, velocity) pairs instead.
    """

    def __init__(self, pitches: list[int], low: int, high: int, seed: int = 0):
        self.pitches, self.low, self.high = pitches, low, high
        self.rng, self.used = random.Random(seed), set()

    def next(self, whole: bool = False) -> tuple[int, float]:
        while True:
            note = self.rng.choice(self.pitches)
            velocity = self.rng.randint(self.low + 1, self.high - 1) if whole else self.rng.uniform(self.low, self.high)
            if (note, velocity) not in self.used:
                self.used.add((note, velocity))
                return note, velocity_unit(velocity)


def latency_run(rig: Rig, transport: str, notes: list[tuple[int, float]], gap: float) -> dict:
    mixer, counters = rig.engine.mixer, rig.engine.counters
    since, renders_since, before = mixer.latency_count, int(counters["render_count"]), rig.trouble()
    tabled = counters["table_starts"]
    for note, velocity in notes:
        rig.send(transport, note, velocity, True)
        time.sleep(HOLD_S)
        rig.send(transport, note, velocity, False)
        time.sleep(max(0.0, gap - HOLD_S))
    time.sleep(0.6)
    values = mixer.latencies(since=since) * 1e3
    cached = mixer.latencies(cached=True, since=since)
    renders = counters.render_times(since=renders_since)
    after = rig.trouble()
    return {
        "notes_sent": len(notes),
        "notes_measured": len(values),
        "from_full_cache": len(cached),
        "from_head_table": int(counters["table_starts"] - tabled),
        "p50_ms": _pct(values, 50),
        "p99_ms": _pct(values, 99),
        "max_ms": float(values.max()) if len(values) else None,
        "first_chunk_render_p50_ms": _pct(renders, 50),
        "first_chunk_render_p99_ms": _pct(renders, 99),
        **{k: after[k] - before[k] for k in after},
    }


def _pct(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


CACHED_VELOCITIES = (40, 70, 100)


def latency_section(rig: Rig, transports: list[str], count: int, gap: float, fresh: FreshNotes) -> dict:
    results = {}
    for transport in transports:
        notes = [fresh.next(whole=transport == "midi") for _ in range(count)]
        results[f"{transport}_never_rendered"] = latency_run(rig, transport, notes, gap)
    cached_set = [(p, velocity_unit(v)) for v in CACHED_VELOCITIES for p in fresh.pitches]
    target = rig.engine.counters["prerendered"] + len(cached_set)
    rig.engine.prerender(velocities=CACHED_VELOCITIES)
    deadline = time.monotonic() + 900
    while rig.engine.counters["prerendered"] < target and time.monotonic() < deadline:
        time.sleep(0.5)
    results["prerendered_notes"] = len(cached_set)
    rng = random.Random(1)
    for transport in transports:
        replay = [rng.choice(cached_set) for _ in range(count)]
        results[f"{transport}_cached"] = latency_run(rig, transport, replay, gap)
    return results


def hold_voices(rig: Rig, voices: int, seconds: float, fresh: FreshNotes) -> dict:
    """Keep `voices` notes sounding for `seconds`, each re-struck with a fresh note every RESTRIKE_S."""
    engine = rig.engine
    before = rig.trouble()
    start = engine.clock() + 0.5
    # one (channel, key) per voice, keys inside the trained range (no extra transposition):
    # a re-strike releases only its own voice
    keys = [(k // len(fresh.pitches), fresh.pitches[k % len(fresh.pitches)]) for k in range(voices)]
    t = 0.0
    while t < seconds:
        for k, (channel, key) in enumerate(keys):
            at = start + t + RESTRIKE_S * k / voices
            if at - start >= seconds:
                continue
            engine.submit(NoteOn(key, fresh.next()[1], channel=channel, at=at))
        t += RESTRIKE_S
    time.sleep(seconds + 1.0)
    for channel, key in keys:
        engine.submit(NoteOff(key, channel=channel))
    time.sleep(1.0)
    after = rig.trouble()
    counts = {k: after[k] - before[k] for k in after}
    counts["ok"] = counts["jack_xruns"] == 0 and counts["engine_xruns"] == 0 and counts["late_audio_blocks"] == 0
    return counts


def idle_xruns(rig: Rig, seconds: float) -> dict:
    """The machine's own noise floor: xruns with the engine running but silent."""
    before = rig.trouble()
    time.sleep(seconds)
    after = rig.trouble()
    return {"seconds": seconds, **{k: after[k] - before[k] for k in after}}


def capacity_section(rig: Rig, search_s: float, hold_s: float, fresh: FreshNotes) -> dict:
    baseline = idle_xruns(rig, search_s)
    print(f"  idle for {search_s:.0f} s: {baseline}", flush=True)
    trials, best = [], 0
    clean_so_far = True  # every smaller step was xrun-free too
    for voices in (v for v in CAPACITY_STEPS if v <= rig.engine.config.voices):
        result = hold_voices(rig, voices, search_s, fresh)
        trials.append({"voices": voices, "seconds": search_s, **result})
        print(f"  {voices} voices for {search_s:.0f} s: {result}", flush=True)
        clean_so_far = clean_so_far and result["ok"]
        if clean_so_far:
            best = voices
        if result["late_audio_blocks"]:  # the worker cannot keep up: more voices only get worse
            break
    confirmed = None
    while best:
        result = hold_voices(rig, best, hold_s, fresh)
        trials.append({"voices": best, "seconds": hold_s, **result})
        print(f"  confirm {best} voices for {hold_s:.0f} s: {result}", flush=True)
        if result["ok"]:
            confirmed = best
            break
        smaller = [v for v in CAPACITY_STEPS if v < best]
        best = smaller[-1] if smaller else 0
    # on a machine whose own noise already causes xruns (see idle_baseline), also report the most
    # voices the render worker keeps up with (no late audio) over the same long hold, stepping
    # down from the most that kept up in the search
    keeps_up = max((t["voices"] for t in trials if t["late_audio_blocks"] == 0), default=0)
    held = None
    while keeps_up and keeps_up != confirmed and held is None:
        result = hold_voices(rig, keeps_up, hold_s, fresh)
        trials.append({"voices": keeps_up, "seconds": hold_s, **result})
        print(f"  hold {keeps_up} voices for {hold_s:.0f} s: {result}", flush=True)
        if result["late_audio_blocks"] == 0:
            held = keeps_up
        else:
            keeps_up = max((v for v in CAPACITY_STEPS if v < keeps_up), default=0)
    return {
        "max_voices_zero_xruns": confirmed,
        "held_seconds": hold_s,
        "idle_baseline": baseline,
        "max_voices_no_late_audio": confirmed or held,
        "trials": trials,
    }


def malformed(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if kind == 1:
        return osc_message("/note/on", "sixty", 1.5)
    if kind == 2:
        return osc_message("/morph/x", float("nan"))
    if kind == 3:
        return osc_message("/no/such/address", 1)
    return b"/note/on\x00\x00\x00\x00,ii\x00" + struct.pack(">i", 60)  # truncated arguments


def valid(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return osc_message("/note/on", rng.randrange(48, 73), rng.randrange(1, 128))
    if kind == 1:
        return osc_message("/note/off", rng.randrange(48, 73))
    if kind == 2:
        return osc_message("/morph/x", rng.random())
    return osc_message("/gain", 0.5)


def flood_section(rig: Rig, rate: int, seconds: float) -> dict:
    rng = random.Random(3)
    packets = [malformed(rng) if rng.random() < 0.1 else valid(rng) for _ in range(int(rate * seconds))]
    before, packets_before, errors_before = rig.trouble(), rig.osc.packets, rig.osc.errors
    target = ("127.0.0.1", rig.osc.port)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    began = time.perf_counter()
    for i, packet in enumerate(packets):
        sender.sendto(packet, target)
        if i % 100 == 99:  # pace in bursts of 100
            lag = began + (i + 1) / rate - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
    elapsed = time.perf_counter() - began
    sender.close()
    time.sleep(2.0)
    asked = time.perf_counter()
    rig.udp.sendto(osc_message("/status"), target)
    answered = None
    while answered is None and time.perf_counter() - asked < STATUS_WAIT_S:
        try:
            reply, _ = rig.udp.recvfrom(65536)
        except TimeoutError:
            continue
        if reply.startswith(b"/status/reply"):
            answered = time.perf_counter() - asked
    rig.udp.sendto(osc_message("/panic"), target)
    after = rig.trouble()
    return {
        "sent": len(packets),
        "seconds": elapsed,
        "rate_achieved": len(packets) / elapsed,
        "received_by_server": rig.osc.packets - packets_before,
        "error_replies": rig.osc.errors - errors_before,
        "status_answered_after": answered is not None,
        "status_reply_s": None if answered is None else round(answered, 3),
        "worker_alive": rig.engine.status()["worker_alive"],
        **{k: after[k] - before[k] for k in after},
    }


def machine() -> dict:
    return {**host_facts(), "load_average": os.getloadavg()}


def save(report: dict, path: Path) -> None:
    """Written after every section, so a crash keeps what was measured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=default_bundle())
    parser.add_argument("--synthetic", action="store_true", help="use the tests' harmonic bundle (no trained model)")
    parser.add_argument("--vocoder", default="", help="engine vocoder (default: the bundle's choice)")
    parser.add_argument(
        "--attack-vocoder", default=None, help="vocoder of each note's first frames (default: the engine's; none: off)"
    )
    parser.add_argument("--worker-nice", type=int, default=0, help="nice value of the render worker (0)")
    parser.add_argument(
        "--lookahead-blocks", type=float, default=EngineConfig().lookahead_blocks, help="the engine's look-ahead"
    )
    parser.add_argument(
        "--jack-realtime",
        action="store_true",
        help="run jackd with real-time scheduling (the published runs use --no-realtime)",
    )
    parser.add_argument("--periods", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--transports", nargs="+", default=["direct", "osc", "midi"])
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--gap", type=float, default=0.12, help="seconds between latency-test notes")
    parser.add_argument("--search", type=float, default=10.0, help="seconds per capacity search step")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds of the capacity confirmation")
    parser.add_argument("--flood-rate", type=int, default=10_000)
    parser.add_argument("--flood-seconds", type=float, default=5.0)
    parser.add_argument("--sections", nargs="+", default=["latency", "capacity", "flood"])
    parser.add_argument("--merge", action="store_true", help="add to the results already in --out")
    parser.add_argument("--quick", action="store_true", help="small numbers: a smoke run of the benchmark itself")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "engine.json")
    args = parser.parse_args()
    sys.setswitchinterval(EngineConfig().switch_interval_ms * 1e-3)  # as `rtsynth serve` sets it
    if args.quick:
        args.notes, args.search, args.hold, args.flood_seconds = 20, 3.0, 5.0, 1.0
    bundle = args.bundle
    if args.synthetic:
        from harmonic_bundle import make_harmonic_bundle

        bundle = make_harmonic_bundle(REPO / "cache" / "bench" / "harmonic-bundle")
    if not bundle.is_dir():
        parser.error(f"no bundle at {bundle}: pass --bundle DIR or --synthetic")
    scheduling = "--realtime" if args.jack_realtime else "--no-realtime"
    report = {
        "machine": machine(),
        "bundle": str(bundle),
        "jack": f"jackd {scheduling} -d dummy -r 48000",
        "settings": {k: str(v) for k, v in vars(args).items()},
        "periods": {},
    }
    if args.merge and args.out.is_file():  # add these sections/transports to an earlier run's results
        earlier = json.loads(args.out.read_text())
        report["periods"], report["earlier_runs"] = (
            earlier["periods"],
            [*earlier.get("earlier_runs", []), {k: earlier[k] for k in ("machine", "settings")}],
        )
    for period in args.periods:
        print(f"period {period} frames", flush=True)
        result = report["periods"].setdefault(str(period), {})
        with jack_server(period, realtime=args.jack_realtime):
            rig = Rig(
                bundle,
                period,
                max(CAPACITY_STEPS),
                vocoder=args.vocoder,
                attack_vocoder=args.attack_vocoder,
                worker_nice=args.worker_nice,
                lookahead_blocks=args.lookahead_blocks,
            )
            try:
                space = rig.engine.controller.space
                velocity = space.dynamics_velocity * 127
                fresh = FreshNotes([int(p) for p in space.pitches], int(velocity[0]), int(velocity[-1]), seed=period)
                status = rig.engine.status()
                result["engine"] = {k: status[k] for k in ("model", "vocoder", "attack_vocoder", "provider")}
                if "latency" in args.sections:
                    result.setdefault("latency", {}).update(
                        latency_section(rig, args.transports, args.notes, args.gap, fresh)
                    )
                    save(report, args.out)
                if "capacity" in args.sections:
                    result["capacity"] = capacity_section(rig, args.search, args.hold, fresh)
                    save(report, args.out)
                if "flood" in args.sections:
                    result["flood"] = flood_section(rig, args.flood_rate, args.flood_seconds)
                result["output_latency_ms"] = rig.engine.status()["output_latency_ms"]
            finally:
                rig.close()
        save(report, args.out)
    report["machine"]["load_average_end"] = os.getloadavg()
    save(report, args.out)
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
