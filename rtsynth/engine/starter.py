"""Starting notes: plan, take audio or a mel from the cache or one batched decode, render the
first frames into a free slot and tell the mixer the sample to start on. Runs on its own thread
in the worker process, so a new note never waits behind a long vocoding step."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rtsynth.engine.cache import CacheKey, RenderCache
from rtsynth.engine.channels import Timeline
from rtsynth.engine.commands import StartVoice
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.counters import Counters
from rtsynth.engine.decoding import decode_plans
from rtsynth.engine.mixer import VoiceBank
from rtsynth.engine.notes import NotePlan, NoteSpec, plan_note
from rtsynth.engine.scheduler import NoteScheduler
from rtsynth.engine.splicer import write
from rtsynth.engine.synth import AudioStream, CachedStream, Runtime
from rtsynth.engine.voices import Voice, VoiceTable, send_to_mixer

log = logging.getLogger(__name__)

WARN_EVERY_S = 5.0  # a flood must not become a flood of warnings


@dataclass(frozen=True)
class Source:
    """Where a note's audio comes from: whole cached audio, or a mel still to vocode."""

    audio: np.ndarray | None
    mel: np.ndarray | None
    peak_db: float
    key: CacheKey | None  # cache key of a static note


class NoteStarter:
    def __init__(
        self,
        bank: VoiceBank,
        table: VoiceTable,
        scheduler: NoteScheduler,
        cache: RenderCache,
        stats: Counters,
        config: EngineConfig,
        clock: Callable[[], float],
    ):
        self.bank, self.table, self.scheduler, self.cache = bank, table, scheduler, cache
        self.stats, self.config, self.clock = stats, config, clock
        self.lead = config.lead_ms * 1e-3
        self.idle = threading.Event()  # cleared while notes are being started: the main loop waits
        self.idle.set()
        self._quiet_until = 0.0

    def wait(self) -> float:
        """How long the note-start thread may wait for requests before a scheduled note is due."""
        with self.table.lock:
            if self.scheduler.arriving:
                return 0.0
            start = self.scheduler.next_start()
        return 0.1 if start is None else min(0.1, max(0.0, start - self.lead - self.clock()))

    def start_due(self, runtime: Runtime, epoch: int, timeline: Callable[[int], Timeline]) -> bool:
        """Start the notes whose start is within the lead; False if none was due."""
        with self.table.lock:
            due, crowded = self.scheduler.due(self.clock() + self.lead, self.config.voices)
        for spec in crowded:
            self._dropped(spec, "more notes at once than the polyphony")
        if not due:
            return False
        self.idle.clear()
        try:
            self._start(due, runtime, epoch, timeline)
        finally:
            self.idle.set()
        return True

    def _start(self, specs: list[NoteSpec], runtime: Runtime, epoch: int, timeline: Callable[[int], Timeline]) -> None:
        began = time.perf_counter()
        now, late = self.clock(), self.config.late_drop_ms * 1e-3
        fresh = [s for s in specs if s.epoch == epoch]
        self.stats.add("dropped_late", sum(now - s.start > late for s in fresh))
        fresh = [s for s in fresh if now - s.start <= late]
        if not fresh:
            return
        with self.table.lock:
            self.table.reap()
        plans = [
            plan_note(s, timeline(s.channel), runtime.space, runtime.frame_seconds, runtime.mel.n_frames) for s in fresh
        ]
        sources = self._sources(plans, fresh, runtime)
        for spec, plan, source in zip(fresh, plans, sources, strict=True):
            self._launch(spec, plan, source, runtime, began)
        for source in sources:  # after the first chunks went out: copying a mel takes ms
            if source.mel is not None and source.key is not None:
                self.cache.put_mel(source.key, source.mel)

    def _sources(self, plans: list[NotePlan], specs: list[NoteSpec], runtime: Runtime) -> list[Source]:
        """For each plan: cached full audio, or its mel (from the cache or one batched decode)."""
        keys = [runtime.note_key(p, s.note) if p.static else None for p, s in zip(plans, specs, strict=True)]
        entries = [self.cache.get(k) if k is not None else None for k in keys]
        missing = [i for i, e in enumerate(entries) if e is None]
        decoded = dict(zip(missing, decode_plans(runtime, [plans[i] for i in missing], self.stats), strict=True))
        sources = []
        for i, (plan, key, entry) in enumerate(zip(plans, keys, entries, strict=True)):
            if entry is not None:
                sources.append(
                    Source(entry.audio, None if entry.audio is not None else entry.mel, float(plan.level[0]), key)
                )
            else:
                mel, peak = decoded[i]
                sources.append(Source(None, mel, peak, key))
        return sources

    def _launch(self, spec: NoteSpec, plan: NotePlan, source: Source, runtime: Runtime, began: float) -> None:
        with self.table.lock:
            slot = self.table.allocate(spec)
        if slot is None:
            self._dropped(spec, "no voice slot free (every one busy fading out)")
            return
        stream: AudioStream
        if source.audio is not None:
            stream, attack = CachedStream(runtime, source.audio, source.peak_db), False
        else:
            assert source.mel is not None
            stream = runtime.stream(source.mel, source.peak_db, 0, runtime.start_vocoder, spec.note)
            attack = runtime.attack_vocoder_name is not None
        bank = self.bank
        bank.voice[slot], bank.channel[slot] = spec.voice, spec.channel
        bank.transpose[slot], bank.length[slot] = runtime.mixer_transpose(plan.transpose), runtime.note_samples
        bank.ready[slot] = 0
        write(bank, slot, stream.advance(runtime.first_frames), stream.start)
        bank.ready[slot] = stream.written
        with self.table.lock:
            self.table.voices[slot] = Voice(spec, slot, stream, runtime, source.key, attack)
        send_to_mixer(bank, StartVoice(spec.start, slot, spec.voice, spec.arrival, cached=source.audio is not None))
        self.stats.add("notes")
        self.stats.log_render((time.perf_counter() - began) * 1e3)

    def _dropped(self, spec: NoteSpec, why: str) -> None:
        self.stats.add("dropped_full")
        if time.monotonic() >= self._quiet_until:
            log.warning("%s: note %d dropped; %d so far", why, spec.note, int(self.stats["dropped_full"]))
            self._quiet_until = time.monotonic() + WARN_EVERY_S
