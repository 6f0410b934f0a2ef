"""The render worker: decodes and vocodes off the audio thread, ahead of the playhead.

Work in priority order, one small step at a time so a new note never waits long:
1. a pending model swap (between steps: voices already playing keep their audio);
2. new notes: plan, batch-decode (or take from the cache), vocode only the first frames,
   write them to a free slot and tell the mixer when to start;
3. voices about to run out of rendered audio;
4. re-renders of sounding notes after a timbre/offset move, and hand-overs from the fast
   attack vocoder to the main one: new audio spliced in with a crossfade ahead of the playhead
   (with more than `full_quality_voices` voices busy, a note keeps the attack vocoder: the
   main one costs about twice as much per voice, and polyphony comes first);
5. voices below their target lead, then the keyboard pre-render.

In the worker process note starts run on a thread of their own (`start_step`) while the
main loop does the rest (`step(starts=False)`), so a new note never waits behind a long
vocoding step. A lock guards the voice table, slot allocation and the queues; the heavy
work runs outside it, on voices marked busy: a voice the starter reclaims meanwhile is
marked dropped and its late audio discarded.
"""

from __future__ import annotations

import collections
import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rtsynth.engine.cache import RenderCache, cache_key
from rtsynth.engine.channels import Timeline
from rtsynth.engine.commands import KillSlot, MixerCommand, StartVoice, StealVoice
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.mixer import COUNTERS, FADING, FREE, PLAYING, RELEASING, RENDER_LOG, RESERVED, VoiceBank
from rtsynth.engine.notes import NotePlan, NoteSpec, assemble, plan_note
from rtsynth.engine.requests import ClearNotes, NoteRequest, Prerender, Rerender, StartNote
from rtsynth.engine.synth import CachedStream, ModelRuntime, NoteStream

log = logging.getLogger(__name__)

CRITICAL_LEAD_S = 0.12  # below this a voice's continuation beats re-renders
SPLICE_SAFETY_S = 0.008  # plus two blocks: how far ahead of the playhead new audio may be spliced in
WARM_FRAMES = 4  # frames a re-render stream runs before its audio is used
HARD_KILL_WAIT_S = 0.1


@dataclass
class Voice:
    spec: NoteSpec
    slot: int
    stream: NoteStream | CachedStream
    runtime: ModelRuntime
    key: tuple | None  # cache key while the note is a plain, static render
    attack: bool  # still on the fast attack vocoder
    stolen: bool = False
    busy: bool = False  # the main loop is rendering it (outside the lock)
    dropped: bool = False  # its slot was reclaimed: whatever is rendered for it is discarded


class Counters:
    """The worker's statistics, kept in the shared bank so the engine process can read them."""

    _INDEX = {name: i for i, name in enumerate(COUNTERS)}

    def __init__(self, bank: VoiceBank):
        self.array, self.render_ms = bank.counters, bank.render_ms
        self._lock = threading.Lock()  # both worker threads count

    def add(self, name: str, value: float = 1.0) -> None:
        with self._lock:
            self.array[self._INDEX[name]] += value

    def __getitem__(self, name: str) -> float:
        return float(self.array[self._INDEX[name]])

    def set(self, name: str, value: float) -> None:
        self.array[self._INDEX[name]] = value

    def log_render(self, ms: float) -> None:
        count = int(self["render_count"])
        self.render_ms[count % RENDER_LOG] = ms
        self.add("render_count")

    def render_times(self, since: int = 0) -> np.ndarray:
        """First-chunk render times (ms) of recent notes; `since`: a render_count read earlier."""
        count = int(self["render_count"])
        return self.render_ms[np.arange(max(since, count - RENDER_LOG), count) % RENDER_LOG].copy()


class RenderWorker:
    """Inputs arrive as typed requests (`accept`), in-process or relayed by a WorkerProcess."""

    def __init__(
        self,
        bank: VoiceBank,
        runtime: ModelRuntime,
        config: EngineConfig,
        on_swap: Callable[[ModelRuntime], None],
        clock: Callable[[], float] = time.monotonic,
        kill_now: Callable[[int], None] | None = None,
    ):
        self.bank, self.runtime, self.config, self.on_swap = bank, runtime, config, on_swap
        self.clock, self.kill_now = clock, kill_now
        self.cache = RenderCache(config.cache_mb)
        self.stats = Counters(bank)
        self.voices: dict[int, Voice] = {}
        self._timelines: dict[int, Timeline] = {}
        self._epoch = 0
        self._requests: collections.deque[NoteSpec] = collections.deque()
        self._scheduled: list[tuple[float, int, NoteSpec]] = []  # heap by start: rendered when near
        self._dirty: set[int] = set()  # channels whose sounding notes need re-rendering
        self._next_rerender = 0.0  # re-renders are spaced: a stream of morph moves must not starve the voices
        self._prerender: collections.deque[NoteSpec] = collections.deque()
        self._pre_job: tuple | None = None
        self._pre_timeline: Timeline | None = None
        self._pre_restart = False  # a new pre-render queue came: drop the job in progress
        self._swap: ModelRuntime | None = None
        self._quiet_until = 0.0
        self._lock = threading.RLock()
        self._no_starts = threading.Event()  # cleared while notes are being started: the main loop waits
        self._no_starts.set()
        sr = config.samplerate
        self._lead = config.lead_ms * 1e-3
        self._safety = int((SPLICE_SAFETY_S + 2 * config.blocksize / sr) * sr)
        self._xfade = max(16, int(config.crossfade_ms * 1e-3 * sr))
        ramp = np.linspace(0.0, np.pi / 2, self._xfade, dtype=np.float32)
        self._fade_in, self._fade_out = np.sin(ramp), np.cos(ramp)

    # --- inputs -----------------------------------------------------------------------------

    def accept(self, request: NoteRequest) -> None:
        match request:
            case StartNote(spec, timeline):
                self.note(spec, timeline)
            case Rerender(channel, timeline):
                self.rerender(channel, timeline)
            case ClearNotes(epoch):
                self.panic(epoch)
            case Prerender(specs, timeline):
                self.prerender(list(specs), timeline)

    def note(self, spec: NoteSpec, timeline: Timeline) -> None:
        self._timelines[spec.channel] = timeline
        self._requests.append(spec)

    def rerender(self, channel: int, timeline: Timeline) -> None:
        self._timelines[channel] = timeline
        with self._lock:
            self._dirty.add(channel)

    def panic(self, epoch: int) -> None:
        with self._lock:
            self._epoch = epoch
            self._requests.clear()
            self._scheduled.clear()

    def swap(self, runtime: ModelRuntime) -> None:
        self._swap = runtime

    def prerender(self, specs: list[NoteSpec], timeline: Timeline) -> None:
        """Replace the pre-render queue (the timbre moved: the old one is moot)."""
        with self._lock:
            self._prerender.clear()
            self._pre_timeline = timeline
            self._prerender.extend(specs)
            self._pre_restart = True

    def timeline(self, channel: int) -> Timeline:
        return self._timelines[channel]

    def drain(self) -> None:
        """Offline: do everything that is due now."""
        while self.step():
            pass

    def idle_wait(self) -> float:
        """How long the caller may sleep when a step found nothing to do."""
        if self.voices or self._dirty:
            return 0.005
        if self._scheduled:
            return min(0.1, max(0.001, self._scheduled[0][0] - self._lead - self.clock()))
        return 0.1

    def start_wait(self) -> float:
        """How long the note-start thread may wait for requests before a scheduled note is due."""
        with self._lock:
            if self._requests:
                return 0.0
            if self._scheduled:
                return min(0.1, max(0.0, self._scheduled[0][0] - self._lead - self.clock()))
        return 0.1

    # --- one step ---------------------------------------------------------------------------

    def step(self, starts: bool = True) -> bool:
        """One step of work; `starts=False` when a thread of its own runs `start_step`."""
        if not starts:
            self._no_starts.wait(0.05)  # a note start is short: let it have the CPU
        return self._guarded(lambda: self._step(starts))

    def start_step(self) -> bool:
        """Start the notes that are due, if any."""
        return self._guarded(self._start_due)

    def _guarded(self, work: Callable[[], bool]) -> bool:
        began = time.perf_counter()
        try:
            worked = work()
        except Exception:  # a failing render must not stop the instrument
            self.stats.add("errors")
            log.exception("render worker step failed; dropping the work it was doing")
            with self._lock:
                self._requests.clear()
            worked = False
        if worked:
            self.stats.add("busy_s", time.perf_counter() - began)
            for name in ("hits", "misses"):
                self.stats.set(f"cache_{name}", getattr(self.cache, name))
            self.stats.set("cache_notes", len(self.cache))
        return worked

    def _step(self, starts: bool) -> bool:
        if self._swap is not None:
            self._do_swap()
            return True
        if starts and self._start_due():
            return True
        with self._lock:
            self._reap()
            behind, lead = self._most_behind()
            rerender = bool(self._dirty) and self.clock() >= self._next_rerender
            attack = [v for v in self.voices.values() if v.attack and not v.stolen]
        if behind is not None and lead < CRITICAL_LEAD_S:
            return self._work_on([behind], self._continue)
        if rerender:
            with self._lock:
                channels, self._dirty = self._dirty, set()
            self._rerender(channels)
            self._next_rerender = self.clock() + self.config.rerender_interval_ms * 1e-3
            return True
        if attack and len(self.voices) > self.config.full_quality_voices:
            self._keep_attack_vocoder(attack)
            return True
        if attack:
            return self._work_on([min(attack, key=lambda v: v.spec.voice)], self._handover)
        if behind is not None and lead < self._lead:
            return self._work_on([behind], self._continue)
        return self._prerender_step()

    def _work_on(self, voices: list[Voice], job: Callable[[Voice], None]) -> bool:
        """Run `job` on each voice outside the lock, the voices marked busy meanwhile."""
        with self._lock:
            voices = [v for v in voices if not v.dropped]
            for voice in voices:
                voice.busy = True
        try:
            for voice in voices:
                job(voice)
        finally:
            with self._lock:
                for voice in voices:
                    voice.busy = False
                    if voice.dropped:
                        voice.stream.close()
        return True

    # --- new notes --------------------------------------------------------------------------

    def _start_due(self) -> bool:
        due = self._due_notes()
        if not due:
            return False
        self._no_starts.clear()
        try:
            self._start_notes(due)
        finally:
            self._no_starts.set()
        return True

    def _due_notes(self) -> list[NoteSpec]:
        """Requests whose start is within the lead: notes sent far ahead (sequencers, bundles
        with timetags) take no voice slot before they need one. A burst is taken a polyphony's
        worth at a time, earliest first."""
        with self._lock:
            while self._requests:
                spec = self._requests.popleft()
                heapq.heappush(self._scheduled, (spec.start, spec.voice, spec))
            horizon, due = self.clock() + self._lead, []
            while self._scheduled and self._scheduled[0][0] <= horizon and len(due) < self.config.voices:
                due.append(heapq.heappop(self._scheduled)[2])
            return due

    def _start_notes(self, specs: list[NoteSpec]) -> None:
        began = time.perf_counter()
        now, runtime, epoch = self.clock(), self.runtime, self._epoch
        late = self.config.late_drop_ms * 1e-3
        fresh = [s for s in specs if s.epoch == epoch]
        for spec in fresh:
            if now - spec.start > late:
                self.stats.add("dropped_late")
        fresh = [s for s in fresh if now - s.start <= late]
        if not fresh:
            return
        with self._lock:
            self._reap()
        plans = [
            plan_note(s, self.timeline(s.channel), runtime.space, runtime.frame_seconds, runtime.mel.n_frames)
            for s in fresh
        ]
        sources = self._sources(plans)
        for spec, plan, source in zip(fresh, plans, sources):
            self._launch(spec, plan, source, began)
        for kind, data, _, key in sources:  # after the first chunks went out: copying a mel takes ms
            if kind == "mel" and key is not None:
                self.cache.put_mel(key, data)

    def _sources(self, plans: list[NotePlan]) -> list:
        """For each plan: cached full audio, or its mel (from the cache or one batched decode)."""
        keys = [cache_key(p.z[0], self.runtime.vocoder_name) if p.static else None for p in plans]
        entries = [self.cache.get(k) if k is not None else None for k in keys]
        missing = [i for i, e in enumerate(entries) if e is None]
        mels = self._decode([plans[i] for i in missing])
        sources = []
        for i, (plan, key, entry) in enumerate(zip(plans, keys, entries)):
            if entry is not None and entry.audio is not None:
                sources.append(("audio", entry.audio, float(plan.level[0]), key))
            elif entry is not None:
                sources.append(("mel", entry.mel, float(plan.level[0]), key))
            else:
                mel, peak = mels[missing.index(i)]
                sources.append(("mel", mel, peak, key))
        return sources

    def _decode(self, plans: list[NotePlan]) -> list[tuple[np.ndarray, float]]:
        if not plans:
            return []
        z = np.concatenate([p.z for p in plans])
        if len(z) == 1:  # the common case, a single static note: nothing to share
            mels, decodes = self.runtime.decode(z), 1
        else:  # a key shared by notes or moves: one decode
            unique, inverse = np.unique(z, axis=0, return_inverse=True)
            mels, decodes = self.runtime.decode(unique)[inverse.reshape(-1)], len(unique)
        self.stats.add("decodes", decodes)
        out, start = [], 0
        for plan in plans:
            out.append(assemble(plan, mels[start : start + len(plan.z)], self.runtime.mel.db_range))
            start += len(plan.z)
        return out

    def _launch(self, spec: NoteSpec, plan: NotePlan, source: tuple, began: float) -> None:
        kind, data, peak, key = source
        with self._lock:
            slot = self._allocate(spec)
        if slot is None:
            self.stats.add("dropped_full")
            if time.monotonic() >= self._quiet_until:  # a flood must not become a flood of warnings
                log.warning(
                    "no voice slot free (every one busy fading out): note %d dropped; %d dropped so far",
                    spec.note,
                    int(self.stats["dropped_full"]),
                )
                self._quiet_until = time.monotonic() + 5.0
            return
        runtime = self.runtime
        if kind == "audio":
            stream, attack = CachedStream(runtime, data, peak), False
        else:
            stream = runtime.stream(data, peak, 0, runtime.start_vocoder)
            attack = runtime.attack_vocoder_name is not None
        bank = self.bank
        bank.voice[slot], bank.channel[slot] = spec.voice, spec.channel
        bank.transpose[slot], bank.length[slot] = plan.transpose, runtime.note_samples
        bank.ready[slot] = 0
        self._write(slot, stream.advance(runtime.first_frames), stream.start)
        bank.ready[slot] = stream.written
        with self._lock:
            self.voices[slot] = Voice(spec, slot, stream, runtime, key, attack)
        self._emit(StartVoice(spec.start, slot, spec.voice, spec.arrival, cached=kind == "audio"))
        self.stats.add("notes")
        self.stats.log_render((time.perf_counter() - began) * 1e3)

    def _allocate(self, spec: NoteSpec) -> int | None:
        bank = self.bank
        sounding = [v for v in self.voices.values() if not v.stolen and bank.state[v.slot] in (RESERVED, PLAYING)]
        sounding.sort(key=lambda v: v.spec.voice)
        for victim in sounding[: max(0, len(sounding) - self.config.voices + 1)]:
            victim.stolen = True
            self._emit(StealVoice(spec.start, victim.spec.voice, self.config.steal_fade_ms * 1e-3))
        free = [int(s) for s in bank.free_slots() if s not in self.voices]
        if free:
            slot = free[0]
        else:
            slot = self._kill_quietest()
            if slot is None:
                return None
        bank.state[slot] = RESERVED
        return slot

    def _kill_quietest(self) -> int | None:
        """Hard cap: every slot busy (mostly fading). Cut the quietest one on its way out."""
        bank = self.bank
        stolen = {v.slot for v in self.voices.values() if v.stolen}
        busy = [
            s
            for s in range(bank.slots)
            if bank.state[s] in (RELEASING, FADING) or (s in stolen and bank.state[s] == PLAYING)
        ]
        if not busy:
            return None
        slot = min(busy, key=lambda s: bank.env[s])
        if self.kill_now is None:
            self._emit(KillSlot(float("-inf"), slot))
            deadline = time.monotonic() + HARD_KILL_WAIT_S
            while bank.state[slot] != FREE and time.monotonic() < deadline:
                time.sleep(0.0005)
            if bank.state[slot] != FREE:
                return None
        else:
            self.kill_now(slot)
        self._forget(slot)
        return slot

    # --- continuing and ending voices -----------------------------------------------------------

    def _emit(self, cmd: MixerCommand) -> None:
        deadline = time.monotonic() + HARD_KILL_WAIT_S
        while not self.bank.ring.push(cmd):  # the mixer is a whole ring behind: it stalled
            if time.monotonic() > deadline:
                log.error("mixer command ring full; dropped a command")
                return
            time.sleep(0.001)

    def _write(self, slot: int, audio: np.ndarray, at: int) -> None:
        end = min(at + len(audio), self.bank.length_max)
        if end > at:
            self.bank.audio[slot, at:end] = audio[: end - at]

    def _lead_of(self, voice: Voice) -> float:
        bank = self.bank
        played = max(bank.pos[voice.slot], 0.0)
        return (voice.stream.written - played) / max(bank.ratio[voice.slot], 1e-3) / self.config.samplerate

    def _most_behind(self) -> tuple[Voice | None, float]:
        best, lead = None, float("inf")
        for voice in self.voices.values():
            if voice.stream.done:
                continue
            ahead = self._lead_of(voice)
            if ahead < lead:
                best, lead = voice, ahead
        return best, lead

    def _continue(self, voice: Voice) -> None:
        stream, slot = voice.stream, voice.slot
        at = stream.written
        audio = stream.advance(self.config.chunk_frames)
        with self._lock:
            if voice.dropped:
                return
            self._write(slot, audio, at)
            self.bank.ready[slot] = stream.written
            whole = None
            if stream.done and voice.key is not None and not voice.attack and isinstance(stream, NoteStream):
                whole = self.bank.audio[slot, : voice.runtime.note_samples] / np.float32(stream.gain)
        if whole is not None:
            self.cache.put_audio(voice.key, whole)

    def _reap(self) -> None:
        """Forget voices the mixer has finished with (their slot is free again)."""
        bank = self.bank
        for slot in [s for s in self.voices if bank.state[s] == FREE]:
            self._forget(slot)

    def _forget(self, slot: int) -> None:
        """Call with the lock held. A busy voice's stream is closed when its work ends."""
        voice = self.voices.pop(slot, None)
        if voice is not None:
            voice.dropped = True
            if not voice.busy:
                voice.stream.close()

    # --- re-rendering sounding notes --------------------------------------------------------------

    def _rerender(self, channels: set[int]) -> None:
        bank, runtime = self.bank, self.runtime
        jobs = []
        with self._lock:
            voices = list(self.voices.values())
        for voice in voices:
            if (
                voice.spec.channel not in channels
                or voice.stolen
                or voice.runtime is not runtime
                or bank.state[voice.slot] not in (RESERVED, PLAYING, RELEASING)
            ):
                continue
            switch = max(bank.pos[voice.slot], 0.0) + self._safety * 2
            first = runtime.frame_of(switch)
            if first >= runtime.mel.n_frames - 2:
                continue
            plan = plan_note(
                voice.spec,
                self.timeline(voice.spec.channel),
                runtime.space,
                runtime.frame_seconds,
                runtime.mel.n_frames,
                first_frame=first,
            )
            jobs.append((voice, plan, max(0, first - WARM_FRAMES)))
        if not jobs:
            return
        sources = dict(zip((voice.slot for voice, _, _ in jobs), self._decode([plan for _, plan, _ in jobs])))
        frames = {voice.slot: frame for voice, _, frame in jobs}

        def splice(voice: Voice) -> None:
            mel, peak = sources[voice.slot]
            voice.key = None
            voice.attack = False
            self._splice(voice, runtime.stream(mel, peak, frames[voice.slot]))
            self.stats.add("rerenders")

        self._work_on([voice for voice, _, _ in jobs], splice)

    def _keep_attack_vocoder(self, voices: list[Voice]) -> None:
        with self._lock:
            for voice in voices:
                voice.attack = False
                voice.key = None  # its audio is not the main vocoder's: not for the cache
        self.stats.add("kept_attack", len(voices))

    def _handover(self, voice: Voice) -> None:
        """Move a voice from the fast attack vocoder to the main one, same mel, crossfaded."""
        old = voice.stream
        voice.attack = False
        if old.done or self.bank.state[voice.slot] not in (RESERVED, PLAYING, RELEASING):
            return
        self._splice(voice, voice.runtime.stream(old.mel, old.peak_db, 0))
        self.stats.add("handovers")

    def _splice(self, voice: Voice, new: NoteStream) -> None:
        """Replace a voice's audio ahead of the playhead by `new`'s, crossfading into it."""
        bank, slot, old = self.bank, voice.slot, voice.stream
        warm_end = new.start + (WARM_FRAMES * voice.runtime.samples_per_frame if new.start else 0)
        pieces, step = [], self.config.chunk_frames
        while True:
            ratio = max(bank.ratio[slot], 1.0)
            cut = int(max(max(bank.pos[slot], 0.0) + self._safety * ratio, warm_end))
            if new.written >= cut + self._xfade or new.done:
                break
            pieces.append(new.advance(step))
        fresh = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        end = min(new.written, voice.runtime.note_samples)
        cut = min(cut, end - self._xfade)
        if cut <= new.start or cut < max(bank.pos[slot], 0.0):
            new.close()
            return
        at = old.written
        older = old.advance_to(cut + self._xfade, step) if at < cut + self._xfade else None
        with self._lock:
            if voice.dropped:
                new.close()
                return
            if older is not None:
                self._write(slot, older, at)
            x = self._xfade
            tail = fresh[cut - new.start :]
            crossfade = bank.audio[slot, cut : cut + x] * self._fade_out + tail[:x] * self._fade_in
            bank.audio[slot, cut : cut + x] = crossfade
            self._write(slot, tail[x:], cut + x)
            bank.ready[slot] = new.written
            old.close()
            voice.stream = new

    # --- model swap and pre-render --------------------------------------------------------------

    def _do_swap(self) -> None:
        runtime, self._swap = self._swap, None
        self.runtime = runtime
        self.cache.clear()
        with self._lock:
            self._prerender.clear()
        self._drop_pre_job()
        self.on_swap(runtime)
        log.info("now playing model %s", runtime.name)

    def _drop_pre_job(self) -> None:
        if self._pre_job is not None:
            self._pre_job[1].close()
            self._pre_job = None

    def _prerender_step(self) -> bool:
        runtime = self.runtime
        with self._lock:
            restarted, self._pre_restart = self._pre_restart, False
            spec = self._prerender.popleft() if self._prerender and (restarted or self._pre_job is None) else None
        if restarted:
            self._drop_pre_job()
        if self._pre_job is None:
            if spec is None:
                return False
            plan = plan_note(
                spec,
                Timeline.still(self._pre_timeline.final),
                runtime.space,
                runtime.frame_seconds,
                runtime.mel.n_frames,
            )
            key = cache_key(plan.z[0], runtime.vocoder_name)
            if self.cache.has_audio(key):
                self.stats.add("prerendered")
                return True
            entry = self.cache.get(key)
            mel = entry.mel if entry is not None else self._decode([plan])[0][0]
            self.cache.put_mel(key, mel)
            self._pre_job = (key, runtime.stream(mel, 0.0, 0), [])
            return True
        key, stream, pieces = self._pre_job
        pieces.append(stream.advance(self.config.chunk_frames))
        if stream.done:
            self.cache.put_audio(key, np.concatenate(pieces))
            self.stats.add("prerendered")
            self._pre_job = None
        return True

    @property
    def pending_prerender(self) -> int:
        return len(self._prerender) + (self._pre_job is not None)
