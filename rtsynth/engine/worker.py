"""The render worker: decodes and vocodes off the audio thread, ahead of the playhead.

Work in priority order, one small step at a time so a new note never waits long:
1. a pending model swap (between steps: voices already playing keep their audio), and notes a
   dead worker left half rendered, once this worker took its place (`take_over`);
2. new notes: plan, batch-decode (or take from the cache), vocode only the first frames,
   write them to a free slot and tell the mixer when to start;
3. voices about to run out of rendered audio;
4. re-renders of sounding notes after a timbre/offset move or a pitch bend (the mixer resamples
   a bend until the notes' audio carries it in f0), held notes nearing the end of their
   decoded window (their sustain looped from there), and hand-overs from the fast attack
   vocoder to the main one: new audio spliced in with a crossfade ahead of the playhead
   (with more than `full_quality_voices` voices busy, a note keeps the attack vocoder: the
   main one costs about twice as much per voice, and polyphony comes first);
5. voices below their target lead, then the keyboard pre-render;
6. with no voice sounding, a live worker's preparation of the runtime (direct synthesis: the
   head table, `headtable.py`).

In the worker process note starts run on a thread of their own (`start_step`) while the
main loop does the rest (`step(starts=False)`), so a new note never waits behind a long
vocoding step. The parts: NoteScheduler (requests until due), NoteStarter (new notes),
VoiceTable (slots, stealing, the lock), Splicer (re-renders, hand-overs), PreRenderer.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

import numpy as np

from rtsynth.engine.cache import RenderCache
from rtsynth.engine.channels import Timeline
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.counters import Counters
from rtsynth.engine.mixer import PLAYING, VoiceBank
from rtsynth.engine.prerender import PreRenderer
from rtsynth.engine.requests import (
    Activate,
    ClearNotes,
    NoteRequest,
    Prerender,
    Rebend,
    Rerender,
    ResumeNote,
    StartNote,
)
from rtsynth.engine.scheduler import NoteScheduler
from rtsynth.engine.splicer import Splicer, renderable, write
from rtsynth.engine.starter import NoteStarter
from rtsynth.engine.synth import CachedStream, Runtime
from rtsynth.engine.voices import Voice, VoiceTable, playhead

log = logging.getLogger(__name__)

CRITICAL_LEAD_S = 0.12  # below this a voice's continuation beats re-renders
SUSTAIN_AHEAD_S = 1.0  # a held note's sustain is looped once its playhead is this near the loop's end
REBEND_REST_S = 0.02  # a bend or vibrato is rendered into f0 once resting this long (the mixer resamples a moving bend)
REBEND_INTERVAL_S = 0.1  # and at most this often, for at most REBEND_VOICES voices at a time
REBEND_VOICES = 8  # a step stays short (a bent key's first render makes its table, 2.6 ms)
# a live worker's preparation (the head table) is paced: rows back to back would take a core
# for seconds after every start, against the audio and a standby loading beside it
PREPARE_INTERVAL_S = 0.01


class RenderWorker:
    """Inputs arrive as typed requests (`accept`), in-process or relayed by a WorkerProcess."""

    def __init__(
        self,
        bank: VoiceBank,
        runtime: Runtime,
        config: EngineConfig,
        on_swap: Callable[[Runtime], None],
        clock: Callable[[], float] = time.monotonic,
        kill_now: Callable[[int], None] | None = None,
        resident_cache: bool = False,
        read_ahead: bool = False,
    ):
        """`resident_cache`: the whole cache is in memory from the start (a live server's worker:
        flat memory through the show); otherwise pages are taken as they fill (an offline render).
        `read_ahead`: time with no voice sounding goes to the runtime's preparation (a live worker:
        new notes start sooner) once the pre-render is done; an offline render has no use for it."""
        self.bank, self.runtime, self.config, self.on_swap, self.clock = bank, runtime, config, on_swap, clock
        self.read_ahead = read_ahead
        self._next_prepare = 0.0
        self._prepared = False  # the playing runtime has nothing left to prepare
        self.cache = RenderCache(config.cache_mb, resident_cache)
        self.stats = Counters(bank)
        self.table = VoiceTable(bank, config, kill_now)
        self.scheduler = NoteScheduler()
        self.starter = NoteStarter(
            bank, self.table, self.scheduler, self.cache, self.stats, config, clock, self._due_bend
        )
        self.splicer = Splicer(bank, self.table, config, self.stats)
        self.prerenderer = PreRenderer(self.cache, self.stats, config.chunk_frames)
        self._timelines: dict[int, Timeline] = {}
        self._epoch = 0
        self._dirty: set[int] = set()  # channels whose sounding notes need re-rendering
        self._next_rerender = 0.0  # re-renders are spaced: a stream of morph moves must not starve the voices
        self._bends: dict[int, collections.deque[Rebend]] = {}  # each channel's bends, the first one due by now
        self._next_rebend = 0.0
        self._swap: Runtime | None = None
        self._resume: list[ResumeNote] = []

    @property
    def voices(self) -> dict[int, Voice]:
        return self.table.voices

    # --- inputs -----------------------------------------------------------------------------

    def accept(self, request: NoteRequest) -> None:
        match request:
            case StartNote(spec, timeline):
                self._timelines[spec.channel] = timeline
                self.scheduler.add(spec)
            case Rerender(channel, timeline):
                self._timelines[channel] = timeline
                with self.table.lock:
                    self._dirty.add(channel)
            case Rebend(channel=channel):
                with self.table.lock:
                    self._bends.setdefault(channel, collections.deque()).append(request)
                    self._due_bend(channel)
            case ClearNotes(epoch):
                with self.table.lock:
                    self._epoch = epoch
                    self.scheduler.clear()
            case Prerender(specs, timeline):
                self.prerenderer.replace(list(specs), timeline)

    def take_over(self, activate: Activate) -> None:
        """Carry on a dead worker's notes: those it had started play on in their slots (rendered
        on from where their audio ends), the others start here at their own times."""
        with self.table.lock:
            self._epoch = activate.epoch
            self._resume.extend(activate.resume)
        for bend in activate.bends:
            self.accept(bend)
        for note in activate.resume:
            self._timelines[note.spec.channel] = note.timeline
        for start in activate.replay:
            self.accept(start)

    def swap(self, runtime: Runtime) -> None:
        self._swap = runtime

    def apply_swap(self) -> None:
        """A standby (no render loop yet) takes a loaded model at once, dropping the old one."""
        if self._swap is not None:
            self._do_swap()

    def timeline(self, channel: int) -> Timeline:
        return self._timelines[channel]

    @property
    def pending_prerender(self) -> int:
        return self.prerenderer.pending

    def drain(self) -> None:
        """Offline: do everything that is due now."""
        while self.step():
            pass

    def idle_wait(self) -> float:
        """How long the caller may sleep when a step found nothing to do."""
        if self.voices or self._dirty or self._resume:
            return 0.005
        if self._preparing:
            return max(0.001, self._next_prepare - self.clock())
        start = self.scheduler.next_start()
        if start is not None:
            return min(0.1, max(0.001, start - self.starter.lead - self.clock()))
        return 0.1

    def start_wait(self) -> float:
        return self.starter.wait()

    # --- one step ---------------------------------------------------------------------------

    def step(self, starts: bool = True) -> bool:
        """One step of work; `starts=False` when a thread of its own runs `start_step`."""
        if not starts:
            self.starter.idle.wait(0.05)  # a note start is short: let it have the CPU
        return self._guarded(lambda: self._step(starts))

    def start_step(self) -> bool:
        """Start the notes that are due, if any."""
        return self._guarded(self._start_due)

    def _start_due(self) -> bool:
        return self.starter.start_due(self.runtime, self._epoch, self.timeline)

    def _guarded(self, work: Callable[[], bool]) -> bool:
        began = time.perf_counter()
        try:
            worked = work()
        except Exception:  # a failing render must not stop the instrument
            self.stats.add("errors")
            log.exception("render worker step failed; dropping the work it was doing")
            with self.table.lock:
                self.scheduler.drop_arriving()
            worked = False
        if worked:
            self.stats.add("busy_s", time.perf_counter() - began)
            self.stats.set("cache_hits", self.cache.hits)
            self.stats.set("cache_misses", self.cache.misses)
            self.stats.set("cache_notes", len(self.cache))
        return worked

    def _step(self, starts: bool) -> bool:
        """The work in priority order (see the module docstring), one small piece of it."""
        if self._swap is not None:
            self._do_swap()
            return True
        if self._resume:
            with self.table.lock:
                notes, self._resume = self._resume, []
            self.stats.add("resumed", self.splicer.resume(notes, self.runtime))
            return True
        if starts and self._start_due():
            return True
        with self.table.lock:
            self.table.reap()
            behind, lead = self.table.most_behind()
            rerender = bool(self._dirty) and self.clock() >= self._next_rerender
            attack = [v for v in self.voices.values() if v.attack and not v.stolen]
        if behind is not None and lead < CRITICAL_LEAD_S:
            return self._continue(behind)
        if rerender:
            with self.table.lock:
                channels, self._dirty = self._dirty, set()
            self.splicer.rerender(channels, self.runtime, self.timeline)
            self._next_rerender = self.clock() + self.config.rerender_interval_ms * 1e-3
            return True
        if bent := self._unbent():
            self.splicer.rebend(bent[:REBEND_VOICES], self.runtime, self.timeline, self._due_bend)
            self._next_rebend = self.clock() + REBEND_INTERVAL_S
            return True
        if (held := self._outlasting()) is not None:
            self.splicer.sustain(held, self.runtime, self.timeline(held.spec.channel))
            return True
        if attack and len(self.voices) > self.config.full_quality_voices:
            self.splicer.keep_attack_vocoder(attack)
            return True
        if attack:
            with self.table.working_on([min(attack, key=lambda v: v.spec.voice)]) as voices:
                for voice in voices:
                    self.splicer.handover(voice)
            return True
        if behind is not None and lead < self.starter.lead:
            return self._continue(behind)
        if self.prerenderer.step(self.runtime):
            return True
        return self._prepare()

    def _prepare(self) -> bool:
        """A piece of the runtime's preparation, while nothing sounds (a step takes ms), paced."""
        if not self._preparing or self.voices or self.clock() < self._next_prepare:
            return False
        if not self.runtime.prepare_step():
            self._prepared = True
            return False
        self.stats.add("prepared")
        self._next_prepare = self.clock() + PREPARE_INTERVAL_S
        return True

    @property
    def _preparing(self) -> bool:
        return self.read_ahead and self._swap is None and not self._prepared

    def _unbent(self) -> list[Voice]:
        """Sounding notes whose coming audio does not carry their channel's bend and vibrato (the
        ones due by now, resting) in f0, on a runtime that bends f0, whose previous bend the
        mixer has reached."""
        now = self.clock()
        if now < self._next_rebend or not self._bends:
            return []
        bank = self.bank
        with self.table.lock:
            return [
                voice
                for voice in self.voices.values()
                if (bend := self._due_bend(voice.spec.channel)) is not None
                and now - bend.at >= REBEND_REST_S
                and not bend.carried_by(voice.bend, self.runtime.out_rate)
                and not voice.runtime.resamples
                and renderable(voice, self.runtime)
                and not voice.stolen
                and bank.state[voice.slot] == PLAYING
                and playhead(bank, voice.slot) >= voice.bend.last_start
            ]

    def _due_bend(self, channel: int) -> Rebend | None:
        """The channel's latest bend due by now (those before it are forgotten)."""
        now = self.clock()
        with self.table.lock:
            bends = self._bends.get(channel)
            if not bends:
                return None
            while len(bends) > 1 and bends[1].at <= now:
                bends.popleft()
            return bends[0] if bends[0].at <= now else None

    def _outlasting(self) -> Voice | None:
        """A held note (no length asked) about to outlast its decoded window's sustain, on the
        playing model or on one swapped out while it sounds."""
        ahead = SUSTAIN_AHEAD_S * self.config.samplerate
        with self.table.lock:
            for voice in self.voices.values():
                held = voice.spec.duration is None and not voice.sustained and not voice.stolen
                ours = renderable(voice, self.runtime) and self.bank.state[voice.slot] == PLAYING
                due = voice.runtime.sample_of(voice.runtime.sustain_loop[1]) - ahead
                if held and ours and playhead(self.bank, voice.slot) >= due:
                    return voice
        return None

    def _continue(self, behind: Voice) -> bool:
        """Render the next chunk of a voice running out of audio."""
        with self.table.working_on([behind]) as voices:
            for voice in voices:
                self._render_chunk(voice)
        return True

    def _render_chunk(self, voice: Voice) -> None:
        stream, slot = voice.stream, voice.slot
        at = stream.written
        audio = stream.advance(self.config.chunk_frames)
        with self.table.lock:
            if voice.dropped:
                return
            write(self.bank, slot, audio, at)
            self.bank.ready[slot] = stream.written
            whole = None
            if stream.done and voice.key is not None and not voice.attack and not isinstance(stream, CachedStream):
                whole = self.bank.audio[slot, : voice.runtime.note_samples] / np.float32(stream.gain)
        if whole is not None and voice.key is not None:
            self.cache.put_audio(voice.key, whole)

    def _do_swap(self) -> None:
        runtime, self._swap = self._swap, None
        assert runtime is not None
        self.runtime, self._prepared = runtime, False
        self.cache.clear()
        self.prerenderer.clear()
        self.on_swap(runtime)
        log.info("now playing model %s", runtime.name)
