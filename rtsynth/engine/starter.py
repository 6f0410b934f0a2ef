"""Starting notes: plan, take audio or a mel from the cache or one batched decode, render the
first frames into a free slot and tell the mixer the sample to start on (direct synthesis: as
soon as the first two frames are decoded and read, the rest decoded and read after; a note
struck under a bend or vibrato is synthesized with it in f0, from cached parameters at most,
never from the plain audio cached). Runs on its own thread in the worker process, so a new note
never waits behind a long vocoding step."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rtsynth.dsp.harmonic import UNBENT, BendCurve
from rtsynth.engine.cache import CacheKey, RenderCache
from rtsynth.engine.channels import Timeline
from rtsynth.engine.commands import StartVoice
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.counters import Counters
from rtsynth.engine.decoding import decode_plans
from rtsynth.engine.mixer import VoiceBank
from rtsynth.engine.notes import NotePlan, NoteSpec, plan_note
from rtsynth.engine.requests import Rebend, pitch_curve
from rtsynth.engine.scheduler import NoteScheduler
from rtsynth.engine.splicer import write
from rtsynth.engine.synth import AudioStream, CachedStream, NoteHead, Runtime
from rtsynth.engine.voices import Voice, VoiceTable, send_to_mixer

log = logging.getLogger(__name__)

WARN_EVERY_S = 5.0  # a flood must not become a flood of warnings
# what a note started on its first frames has written (its first block when the mixer is told)
# before the rest of it is read: enough for that read to run late by a few blocks
HEAD_BLOCKS = 4
HEAD_S = 0.010


@dataclass(frozen=True)
class Source:
    """Where a note's audio comes from: whole cached audio, a mel still to vocode, or a note
    started on its first frames (`head`, decoded and read whole once the note went to the mixer)."""

    audio: np.ndarray | None
    mel: np.ndarray | None
    peak_db: float
    key: CacheKey | None  # cache key of a static note
    head: NoteHead | None = None
    bend: BendCurve = UNBENT  # the channel's bend and vibrato, in f0 from the note's first sample
    baked: float = 0.0  # the semitones of that bend (the mixer resamples only the rest)


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
        bends: Callable[[int], Rebend | None],
    ):
        """`bends`: each channel's bend and vibrato due by now."""
        self.bank, self.table, self.scheduler, self.cache = bank, table, scheduler, cache
        self.stats, self.config, self.clock, self.bends = stats, config, clock, bends
        self.lead = config.lead_ms * 1e-3
        self.head_samples = max(HEAD_BLOCKS * config.blocksize, round(HEAD_S * config.samplerate))
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
        for spec in fresh:
            if now - spec.start > late:
                self._dropped(spec, f"its audio could not start within {late * 1e3:.0f} ms", "dropped_late")
        fresh = [s for s in fresh if now - s.start <= late]
        if not fresh:
            return
        with self.table.lock:
            self.table.reap()
        plans = [plan_note(s, timeline(s.channel), runtime.space, runtime.framing) for s in fresh]
        sources = self._sources(plans, fresh, runtime)
        started = [self._launch(*note, runtime, began) for note in zip(fresh, plans, sources, strict=True)]
        for voice, source in zip(started, sources, strict=True):  # after every first block went out
            if voice is not None and source.head is not None:
                self._write(voice, source.head.first(self.head_samples - (voice.stream.written - voice.stream.start)))
        for voice, source in zip(started, sources, strict=True):
            mel = source.mel
            if voice is not None and source.head is not None:
                mel = self._finish(voice, source.head, runtime)
            if voice is not None:
                with self.table.lock:
                    self.table.voices[voice.slot] = voice
            if mel is not None and source.key is not None:  # copying a mel takes ms
                self.cache.put_mel(source.key, mel)

    def _sources(self, plans: list[NotePlan], specs: list[NoteSpec], runtime: Runtime) -> list[Source]:
        """For each plan: cached full audio, its mel (from the cache or one batched decode), or
        a note to start on its first frames."""
        keys = [runtime.note_key(p, s.note) if p.static else None for p, s in zip(plans, specs, strict=True)]
        entries = [self.cache.get(k) if k is not None else None for k in keys]
        missing = [i for i, e in enumerate(entries) if e is None]
        pitches = [None if runtime.resamples else self.bends(s.channel) for s in specs]
        curves = [pitch_curve(pitch, runtime.out_rate) for pitch in pitches]
        baked = [0.0 if pitch is None else pitch.baked for pitch in pitches]
        heads = (
            runtime.heads(
                [plans[i] for i in missing],
                [specs[i].note for i in missing],
                [specs[i].velocity for i in missing],
                [curves[i] for i in missing],
            )
            if missing
            else None
        )
        if heads is not None:
            self.stats.add("decodes", len(heads))
            started, decoded = dict(zip(missing, heads, strict=True)), {}
        else:
            started = {}
            decoded = dict(zip(missing, decode_plans(runtime, [plans[i] for i in missing], self.stats), strict=True))
        sources = []
        for i, (plan, key, entry, bend) in enumerate(zip(plans, keys, entries, curves, strict=True)):
            if entry is not None and entry.audio is not None and bend == UNBENT:
                sources.append(Source(entry.audio, None, float(plan.level[0]), key))
            elif entry is not None:
                sources.append(Source(None, entry.mel, float(plan.level[0]), key, bend=bend, baked=baked[i]))
            elif i in started:
                sources.append(Source(None, None, started[i].peak_db, key, started[i], bend, baked[i]))
            else:
                sources.append(Source(None, *decoded[i], key, bend=bend, baked=baked[i]))
        return sources

    def _launch(self, spec: NoteSpec, plan: NotePlan, source: Source, runtime: Runtime, began: float) -> Voice | None:
        """Its first chunk into a free slot and the mixer told when to start it; the voice
        joins the table once the rest of its first frames is written."""
        with self.table.lock:
            slot = self.table.allocate(spec)
        if slot is None:
            self._dropped(spec, "no voice slot free (every one busy fading out)")
            return None
        stream: AudioStream
        attack, bend = False, source.bend
        if source.head is not None:  # one block now, the rest of its head once every note went out
            stream = source.head.stream
            first = source.head.first(self.config.blocksize)
        else:
            if source.audio is not None:
                stream = CachedStream(runtime, source.audio, source.peak_db)
            else:
                assert source.mel is not None
                stream = runtime.stream(source.mel, source.peak_db, 0, runtime.start_vocoder, spec.note, bend)
                attack = runtime.attack_vocoder_name is not None
            first = stream.advance(runtime.first_frames)
        bank = self.bank
        bank.voice[slot], bank.channel[slot] = spec.voice, spec.channel
        bank.transpose[slot], bank.length[slot] = plan.transpose, runtime.note_samples
        bank.ready[slot] = 0
        write(bank, slot, first, stream.start)
        bank.ready[slot] = stream.written
        send_to_mixer(
            bank, StartVoice(spec.start, slot, spec.voice, spec.arrival, source.audio is not None, source.baked)
        )
        self.stats.add("notes")
        self.stats.log_render((time.perf_counter() - began) * 1e3)
        own = source.head is None or not source.head.from_table
        if not own:
            self.stats.add("table_starts")
        key = source.key if bend == UNBENT and own else None  # bent audio is not the key's to cache
        return Voice(spec, slot, stream, runtime, key, attack, bend=bend)

    def _finish(self, voice: Voice, head: NoteHead, runtime: Runtime) -> np.ndarray:
        """A note started on its first frames: decode and read the rest, write the rest of its first frame."""
        params = head.finish(self.stats)
        self._write(voice, voice.stream.advance(runtime.first_frames))
        return params

    def _write(self, voice: Voice, audio: np.ndarray) -> None:
        """A sounding voice's next samples, rendered by its stream just now."""
        write(self.bank, voice.slot, audio, voice.stream.written - len(audio))
        self.bank.ready[voice.slot] = voice.stream.written

    def _dropped(self, spec: NoteSpec, why: str, counter: str = "dropped_full") -> None:
        self.stats.add(counter)
        if time.monotonic() >= self._quiet_until:
            log.warning("%s: note %d dropped; %d so far", why, spec.note, int(self.stats[counter]))
            self._quiet_until = time.monotonic() + WARN_EVERY_S
