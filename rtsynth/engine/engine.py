"""The engine facade: what the control layer, the backends and the CLI talk to.

Events go in through `submit` (any thread); an audio backend calls `process` once per block;
a render worker decodes and vocodes in between: in its own process when playing live (so the
audio callback never waits for the interpreter lock), in-process for offline rendering.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rtsynth.bundle import BundleError, BundleSpec, read_spec
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.controller import Controller
from rtsynth.engine.counters import Counters
from rtsynth.engine.events import Event, LatentOffset, LatentReset, MorphCorner, MorphPosition, SelectTimbre, Vibrato
from rtsynth.engine.latent import LatentSpace
from rtsynth.engine.local import LocalWorker
from rtsynth.engine.mixer import Mixer, VoiceBank
from rtsynth.engine.notes import NoteSpec
from rtsynth.engine.requests import (
    LoadModel,
    ModelRefused,
    ModelSwapped,
    NoteRequest,
    Prerender,
    WorkerLink,
    WorkerReply,
)
from rtsynth.engine.supervisor import Restart, Supervisor
from rtsynth.labels import velocity_unit
from rtsynth.presets import write_preset
from rtsynth.synthesis import HARMONIC_NOISE

log = logging.getLogger(__name__)

BUFFER_SECONDS = 8.0  # voice buffers hold notes up to this long (the paper's are 5.94 s)
MAX_PRESET_BYTES = 256 * 1024  # a preset is a few kB; anything far larger is not one
_TIMBRE_EVENTS = (SelectTimbre, MorphCorner, MorphPosition, LatentOffset, LatentReset)


def check_bundle(bundle_dir: str | Path) -> tuple[BundleSpec, LatentSpace]:
    """Everything about a bundle the engine can check without loading it; BundleError if bad."""
    spec = read_spec(bundle_dir)
    try:
        space = LatentSpace(spec)
    except ValueError as err:
        raise BundleError(f"{bundle_dir}: {err}") from None
    seconds = spec.mel.n_frames * spec.mel.hop_length / spec.mel.sample_rate
    if seconds > BUFFER_SECONDS:
        raise BundleError(f"{bundle_dir}: notes of {seconds:.2f} s exceed the engine's {BUFFER_SECONDS} s buffers")
    return spec, space


class Engine:
    def __init__(
        self,
        bundle_dir: str | Path,
        config: EngineConfig = EngineConfig(),
        clock: Callable[[], float] = time.monotonic,
        realtime: bool = True,
    ):
        self.config, self._clock, self.realtime = config, clock, realtime
        self.spec, space = check_bundle(bundle_dir)
        self.bank = VoiceBank(config.slots, int(BUFFER_SECONDS * config.samplerate), shared=realtime)
        self.mixer = Mixer(self.bank, config)
        self.counters = Counters(self.bank)
        self.controller = Controller(space, config, self.mixer.commands, self._to_worker)
        self.audio_info: dict[str, Any] = {}  # set by the backend: device, host API, latency
        self.model_error: str | None = None
        self.info: dict[str, Any] = {}  # the playing model: bundle, name, provider, vocoder
        self.worker_restarts = 0
        self.last_restart: Restart | None = None
        self.on_trouble: list[Callable[[str], None]] = []  # told when the show went wrong by itself
        self.loading = ""  # the bundle a /model/load asked for last, until it plays or is refused
        self.worker_link: WorkerLink = (
            Supervisor(
                self.bank, bundle_dir, config, self._on_worker_message, self._restarted, self.mixer.census, clock
            )
            if realtime
            else LocalWorker(self.bank, bundle_dir, config, self._on_worker_message, clock, self.mixer.kill)
        )

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Engine:
        """Start the render worker (live: its process, which loads and warms up the model)."""
        if not self.info:
            try:
                self.info = self.worker_link.start()
            except Exception:
                self.stop()
                raise
        if self.config.prerender and self.realtime:  # offline renders have no idle time to fill
            self.prerender()
        return self

    def stop(self) -> None:
        self.worker_link.stop()
        self.bank.close()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the contract with the control layer ---------------------------------------------------

    def clock(self) -> float:
        return self._clock()

    def submit(self, event: Event, arrival: float | None = None) -> None:
        """Apply an event at its `at` time, or one block after it arrived; ValueError if it cannot apply."""
        arrival = self.clock() if arrival is None else arrival
        if isinstance(event, Vibrato) and event.cents and self.info.get("vocoder") != HARMONIC_NOISE:
            raise ValueError(
                f"model {self.info.get('name', '')!r} plays a mel through a vocoder: it has no f0 to swing"
            )
        self.controller.apply(event, arrival)
        if self.config.prerender and event.channel == 0 and isinstance(event, _TIMBRE_EVENTS):
            self.prerender()

    def process(self, out: np.ndarray, now: float, dac_delay: float) -> None:
        """The audio callback's whole job: see Mixer.process."""
        self.mixer.process(out, now, dac_delay)

    def latency(self) -> tuple[float, float]:
        """Event-to-first-sample p50 and p99 in ms over the recent notes (nan before any)."""
        values = self.mixer.latencies()
        if not len(values):
            return math.nan, math.nan
        p50, p99 = np.percentile(values * 1e3, [50, 99])
        return float(p50), float(p99)

    def status(self) -> dict[str, Any]:
        mixer, counters = self.mixer.stats, self.counters
        p50, p99 = self.latency()
        latency = self.mixer.output_latency
        return {
            "model": self.info.get("name", ""),
            "bundle": self.info.get("bundle", ""),
            "bundle_sha256": self.info.get("bundle_sha256", ""),
            "provider": self.info.get("provider", ""),
            "vocoder": self.info.get("vocoder", ""),
            "attack_vocoder": self.info.get("attack_vocoder", ""),
            "samplerate": self.config.samplerate,
            "a4_hz": self.config.a4_hz,
            "blocksize": self.config.blocksize,
            "voices": mixer.voices,
            "voices_max": self.config.voices,
            "held_notes": self.controller.held_notes(),
            "gain": self.controller.gain,
            "blocks": mixer.blocks,
            "xruns": mixer.xruns,
            "underruns": mixer.underruns,
            "late_starts": mixer.late_starts,
            "cpu": round(mixer.load, 4),
            "peak": round(mixer.peak, 5),
            "cpu_max": round(mixer.load_max, 4),
            "notes": int(counters["notes"]),
            "dropped_notes": int(counters["dropped_late"] + counters["dropped_full"]),
            "rerenders": int(counters["rerenders"]),
            "rebends": int(counters["rebends"]),
            "render_errors": int(counters["errors"]),
            "cache_notes": int(counters["cache_notes"]),
            "cache_hits": int(counters["cache_hits"]),
            "cache_misses": int(counters["cache_misses"]),
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
            "output_latency_ms": math.nan if latency is None else latency * 1e3,
            "worker_alive": self.worker_link.alive,
            "worker_pid": (self.worker_link.pid or 0) if isinstance(self.worker_link, Supervisor) else 0,
            "worker_standby": isinstance(self.worker_link, Supervisor) and self.worker_link.standby_ready,
            "worker_restarts": self.worker_restarts,
            "worker_restart_ms": math.nan if self.last_restart is None else round(self.last_restart.seconds * 1e3, 2),
            "resumed_notes": int(counters["resumed"]),
            "sustained_notes": int(counters["sustained"]),  # held past their decoded window, sustain looped
            "read_ahead_rows": int(counters["prepared"]),  # head table rows read (engine/headtable.py)
            "table_started_notes": int(counters["table_starts"]),
            "model_loading": self.loading,
            "model_error": self.model_error or "",
            **self.controller.timbre_state(),
        }

    def model_info(self) -> dict[str, Any]:
        space, spec = self.controller.space, self.spec
        return {
            "name": spec.name,
            "timbres": list(space.timbres),
            "pitch_range": [int(space.pitches.min()), int(space.pitches.max())],
            "dynamics": list(space.dynamics),
            "durations": [float(d) for d in space.durations],
            "latent_dims": dict(space.layout.dims),
            "vocoder": self.info.get("vocoder", ""),
            "sample_rate": spec.mel.sample_rate,
            "corpus": spec.corpus.get("name", ""),
        }

    def save_preset(self, path: str | Path) -> None:
        write_preset(Path(path), self.controller.preset())

    def load_preset(self, path: str | Path) -> None:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_PRESET_BYTES:
                raise ValueError(f"preset {path.name} is larger than {MAX_PRESET_BYTES // 1024} kB: not a preset")
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"preset not found: {path.name}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"preset {path.name} is not valid JSON: {err}") from None
        self.controller.load_preset(data, self.clock() + self.controller.lookahead)

    # --- model hot swap -----------------------------------------------------------------------

    def load_model(self, bundle_dir: str | Path) -> None:
        """Check the bundle now (BundleError if bad); load and warm it up in the background,
        then swap between two render steps. Voices already playing finish on the old model."""
        check_bundle(bundle_dir)
        self.loading = str(Path(bundle_dir).resolve())
        self.worker_link.send(LoadModel(self.loading))

    def _on_worker_message(self, message: WorkerReply) -> None:
        match message:
            case ModelSwapped(info):
                self._swapped(info)
            case ModelRefused(reason, bundle_dir):
                if bundle_dir == self.loading:
                    self.loading = ""
                self.model_error = reason
                log.error("model not loaded, still playing %s: %s", self.info.get("name"), reason)

    @property
    def worker_lost(self) -> bool:
        """The render worker died and nothing could replace it: the engine is silent."""
        return self.last_restart is not None and bool(self.last_restart.error) and not self.worker_link.alive

    def _restarted(self, restart: Restart) -> None:
        """The live render worker died and another took its place on the playing model; the
        channels (timbre, morph, offsets, presets) live here, its notes were carried over."""
        self.worker_restarts += 1
        self.last_restart = restart
        if restart.error:
            self.model_error = (
                f"the render worker died (exit code {restart.exit_code}) and none could replace it: {restart.error}"
            )
        else:
            self.info = restart.info or self.info
            how = "a warm standby" if restart.standby else "a new worker (no standby was ready)"
            self.model_error = (
                f"the render worker died (exit code {restart.exit_code}); {how} took over in "
                f"{restart.seconds * 1e3:.0f} ms, carrying on {restart.resumed} sounding and "
                f"{restart.replayed} waiting notes"
            )
            if restart.overdue:
                self.model_error += (
                    f"; {restart.overdue} notes due over {self.config.late_drop_ms:.0f} ms before were not played "
                    "(the dead worker had not started them)"
                )
        log.error("%s", self.model_error)
        for listener in self.on_trouble:
            listener(self.model_error)

    def _swapped(self, info: dict[str, Any]) -> None:
        self.spec, space = check_bundle(info["bundle"])
        self.controller.rebase(space)
        self.info, self.model_error = info, None
        if info["bundle"] == self.loading:
            self.loading = ""
        log.info("now playing model %s", info["name"])

    # --- talking to the render worker -----------------------------------------------------------

    def _to_worker(self, request: NoteRequest) -> None:
        self.worker_link.send(request)

    def prerender(
        self, channel: int = 0, velocities: tuple[int, ...] | None = None, notes: tuple[int, ...] | None = None
    ) -> None:
        """Queue `notes` (default: every trained pitch) at `velocities` (MIDI) for the channel's
        timbre into the cache, in the background after everything else."""
        velocities = velocities or self.config.prerender_velocities
        space, now = self.controller.space, self.clock()
        notes = notes if notes is not None else tuple(int(p) for p in space.pitches)
        specs = [
            NoteSpec(-1, channel, int(p), velocity_unit(v), None, None, now, None, self.controller.epoch)
            for v in velocities
            for p in notes
        ]
        self._to_worker(Prerender(tuple(specs), self.controller.timeline(channel)))
