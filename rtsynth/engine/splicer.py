"""New audio for notes already sounding, spliced in ahead of the playhead with a crossfade:
re-renders after a timbre or offset move or a pitch bend, hand-overs from the fast attack
vocoder to the main one (with more than `full_quality_voices` voices busy a note keeps the
attack vocoder: the main one costs about twice as much per voice, and polyphony comes
first), and notes a dead worker left half rendered, carried on by the worker that took its
place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rtsynth.dsp.harmonic import UNBENT, BendCurve
from rtsynth.engine.channels import Timeline
from rtsynth.engine.commands import RebakeVoice
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.counters import Counters
from rtsynth.engine.decoding import decode_plans
from rtsynth.engine.direct import DirectStream
from rtsynth.engine.mixer import ENDLESS, PLAYING, RELEASING, RESERVED, VoiceBank
from rtsynth.engine.notes import NotePlan, plan_note
from rtsynth.engine.requests import Rebend, ResumeNote
from rtsynth.engine.synth import AudioStream, NoteStream, Rendered, Runtime
from rtsynth.engine.voices import Voice, VoiceTable, playhead, send_to_mixer

SPLICE_SAFETY_S = 0.008  # plus two blocks: how far ahead of the playhead new audio may be spliced in
WARM_FRAMES = 4  # frames a re-render stream runs before its audio is used
LIVE = (RESERVED, PLAYING, RELEASING)  # slot states whose coming audio may still change


@dataclass(frozen=True)
class Job:
    """A voice's coming frames to render again, from a plan to decode or the parameters its
    stream plays (`params`: a rebend changes f0 only); the frame the new stream starts at (a few
    before its audio is used) and the bend it carries. With `rebend`, the bend steps to the
    channel's at `bend.last_start`, which the splice must not pass."""

    voice: Voice
    plan: NotePlan | None
    params: tuple[np.ndarray, float] | None
    frame: int
    bend: BendCurve
    rebend: Rebend | None


class Splicer:
    def __init__(self, bank: VoiceBank, table: VoiceTable, config: EngineConfig, stats: Counters):
        self.bank, self.table, self.config, self.stats = bank, table, config, stats
        sr = config.samplerate
        self._safety = int((SPLICE_SAFETY_S + 2 * config.blocksize / sr) * sr)
        self._xfade = max(16, int(config.crossfade_ms * 1e-3 * sr))
        ramp = np.linspace(0.0, np.pi / 2, self._xfade, dtype=np.float32)
        self._equal_power = np.sin(ramp), np.cos(ramp)  # unrelated phases: their powers add
        line = np.linspace(0.0, 1.0, self._xfade, dtype=np.float32)
        self._equal_gain = line, 1.0 - line  # the same phases: their amplitudes add

    def rerender(self, channels: set[int], runtime: Runtime, timeline: Callable[[int], Timeline]) -> None:
        """Re-render the coming frames of the channels' sounding notes (one batched decode)."""
        with self.table.lock:
            voices = [v for v in self.table.voices.values() if v.spec.channel in channels]
        self.stats.add("rerenders", self._render(voices, runtime, timeline))

    def rebend(
        self,
        voices: list[Voice],
        runtime: Runtime,
        timeline: Callable[[int], Timeline],
        bends: Callable[[int], Rebend | None],
    ) -> None:
        """Render these voices' coming audio again with their channel's bend and vibrato in f0
        (from the parameters they play; a note from the cache is decoded again, unless its model
        was swapped out), and tell the mixer where it begins: it resampled the bend until then.
        The new audio is the old one up to there, sample for sample, so the splice is seamless."""
        self.stats.add("rebends", self._render(voices, runtime, timeline, bends))

    def resume(self, notes: Sequence[ResumeNote], runtime: Runtime) -> int:
        """Carry on the notes a dead worker left in their slots: each becomes a voice here whose
        audio so far is what its row holds, and a fresh render of the rest is crossfaded in where
        that audio ends (over silence, if the playhead got there first), so the note keeps its
        lead while the new worker catches up. The number of notes carried on."""
        bank = self.bank
        voices: list[Voice] = []
        held: list[Voice] = []  # past their decoded window, their sustain looped
        with self.table.lock:
            for note in notes:
                slot = note.slot
                ours = bank.voice[slot] == note.spec.voice and bank.state[slot] in LIVE
                looped = bank.length[slot] == ENDLESS
                if ours and slot not in self.table.voices and (looped or bank.ready[slot] < runtime.note_samples):
                    left = Rendered(runtime, int(bank.ready[slot]), int(bank.length[slot]))
                    # its bend: the one the mixer says its audio carries now (its history, and so its
                    # phase, went with the dead worker)
                    bend = BendCurve.throughout(float(bank.baked[slot]))
                    voice = Voice(note.spec, slot, left, runtime, None, False, bend=bend)
                    self.table.voices[slot] = voice
                    (held if looped else voices).append(voice)
        timelines = {note.spec.channel: note.timeline for note in notes}
        for voice in held:  # from where the dead worker's audio ends
            self.sustain(voice, runtime, timelines[voice.spec.channel])
        return self._render(voices, runtime, timelines.__getitem__) + len(held)

    def _render(
        self,
        voices: list[Voice],
        runtime: Runtime,
        timeline: Callable[[int], Timeline],
        bends: Callable[[int], Rebend | None] | None = None,
    ) -> int:
        """Re-render the coming frames of these voices (one batched decode) and splice them in;
        with `bends`, at their channel's bend (from the parameters they play, where their
        stream has them: a bend changes f0 only)."""
        jobs = [job for voice in voices if (job := self._plan(voice, runtime, timeline, bends))]
        if not jobs:
            return 0
        decoded = iter(decode_plans(runtime, [job.plan for job in jobs if job.plan is not None], self.stats))
        with self.table.working_on([job.voice for job in jobs]) as live:
            live_ids = {id(v) for v in live}
            for job in jobs:
                mel, peak = job.params if job.params is not None else next(decoded)
                if id(job.voice) in live_ids:
                    self._splice_job(job, mel, peak)
        return len(live_ids)

    def _splice_job(self, job: Job, mel: np.ndarray, peak: float) -> None:
        voice, bend, runtime = job.voice, job.bend, job.voice.runtime
        voice.key, voice.attack = None, False
        looped = runtime.sustained(mel, peak, job.frame, voice.spec.note, bend) if voice.sustained else None
        fresh = looped if looped is not None else runtime.stream(mel, peak, job.frame, note=voice.spec.note, bend=bend)
        latest = None if job.rebend is None else bend.last_start - self._xfade
        if self.splice(voice, fresh, sustained=looped is not None, latest=latest):
            voice.bend = bend
            if job.rebend is not None:
                command = RebakeVoice(float("-inf"), voice.slot, voice.spec.voice, bend.last_start, job.rebend.baked)
                send_to_mixer(self.bank, command)

    def _plan(
        self,
        voice: Voice,
        runtime: Runtime,
        timeline: Callable[[int], Timeline],
        bends: Callable[[int], Rebend | None] | None,
    ) -> Job | None:
        """With `bends`, a job for a voice whose channel has a bend due, stepping to it. A note
        of a model swapped out only with the parameters it plays (the channel's timeline is
        the new model's)."""
        rebend = None if bends is None else bends(voice.spec.channel)
        stale = voice.stolen or self.bank.state[voice.slot] not in LIVE
        if stale or (bends is not None and rebend is None):
            return None
        own = voice.runtime
        start = self._new_audio_from(voice)
        first, spec = own.frame_of(start), voice.spec
        if not voice.sustained and first >= own.mel.n_frames - 2:
            return None
        frame, bend = max(0, first - WARM_FRAMES), voice.bend
        if rebend is not None:
            bend = rebend.onto(bend, int(start) + self._xfade, own.out_rate)
            if isinstance(voice.stream, DirectStream):  # it has the parameters it plays
                return Job(voice, None, (voice.stream.mel, voice.stream.peak_db), frame, bend, rebend)
        if own is not runtime:
            return None
        if voice.sustained:  # its loop again, in the control the channel has reached there
            here = timeline(spec.channel).at(spec.start + start / runtime.out_rate)
            plan = plan_note(spec, Timeline.still(here), runtime.space, runtime.framing)
        else:
            plan = plan_note(spec, timeline(spec.channel), runtime.space, runtime.framing, first_frame=first)
        return Job(voice, plan, None, frame, bend, rebend)

    def sustain(self, voice: Voice, runtime: Runtime, timeline: Timeline) -> None:
        """A held note nearing the end of its decoded window's sustain (or carried on past it
        after a takeover): its audio from there on is the same frames with the runtime's sustain
        loop, so it sounds until released. On direct synthesis the two agree sample for sample
        up to the loop, so the crossfade is inaudible; a vocoder's two runs are crossfaded by
        power."""
        own = voice.runtime
        if own is runtime:
            plan = plan_note(voice.spec, timeline, runtime.space, runtime.framing)
            ((params, peak),) = decode_plans(runtime, [plan], self.stats)
        else:  # a model swapped out: the parameters it plays (the timeline is the new model's)
            assert isinstance(voice.stream, (DirectStream, NoteStream))
            params, peak = voice.stream.mel, voice.stream.peak_db
        start = own.frame_of(self._new_audio_from(voice))
        new = own.sustained(params, peak, max(0, start - WARM_FRAMES), voice.spec.note, voice.bend)
        with self.table.working_on([voice]) as live:
            for held in live:
                held.key = None  # no longer the cached note's audio
                self.splice(held, new, sustained=True)
                if held.sustained:
                    self.bank.length[held.slot] = ENDLESS
                    self.stats.add("sustained")

    def _new_audio_from(self, voice: Voice) -> float:
        """The output sample a voice's new audio begins at: a little ahead of the playhead; a
        resumed note's where the old audio ends."""
        start = playhead(self.bank, voice.slot) + self._safety * 2
        if isinstance(voice.stream, Rendered):
            start = max(start, voice.stream.written - self._xfade)
        return start

    def keep_attack_vocoder(self, voices: list[Voice]) -> None:
        with self.table.lock:
            for voice in voices:
                voice.attack = False
                voice.key = None  # its audio is not the main vocoder's: not for the cache
        self.stats.add("kept_attack", len(voices))

    def handover(self, voice: Voice) -> None:
        """Move a voice from the fast attack vocoder to the main one, same mel, crossfaded."""
        old = voice.stream
        voice.attack = False
        if old.done or not isinstance(old, NoteStream) or self.bank.state[voice.slot] not in LIVE:
            return
        self.splice(voice, voice.runtime.stream(old.mel, old.peak_db, 0))
        self.stats.add("handovers")

    def splice(self, voice: Voice, new: AudioStream, sustained: bool = False, latest: int | None = None) -> bool:
        """Replace a voice's audio ahead of the playhead by `new`'s, crossfading into it; a
        resumed note's at the end of what was rendered, so it keeps its lead. `sustained`: `new`
        loops its sustain; `latest`: the crossfade must begin by then, or nothing is spliced.
        Whether it was spliced."""
        bank, slot, old = self.bank, voice.slot, voice.stream
        warm_end = new.start + (WARM_FRAMES * voice.runtime.samples_per_frame if new.start else 0)
        if isinstance(old, Rendered):
            warm_end = max(warm_end, old.written - self._xfade)
        pieces, step = [], self.config.chunk_frames
        while True:
            ratio = max(bank.ratio[slot], 1.0)
            cut = int(max(playhead(bank, slot) + self._safety * ratio, warm_end))
            if new.written >= cut + self._xfade or new.done:
                break
            pieces.append(new.advance(step))
        fresh = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        cut = min(cut, new.written - self._xfade)
        if cut <= new.start or cut < playhead(bank, slot) or (latest is not None and cut > latest):
            new.close()
            return False
        at = old.written
        older = old.advance_to(cut + self._xfade, step) if at < cut + self._xfade else None
        with self.table.lock:
            if voice.dropped:
                new.close()
                return False
            if older is not None:
                write(bank, slot, older, at)
            x = self._xfade
            tail = fresh[cut - new.start :]
            coherent = voice.runtime.phase_coherent and not (isinstance(old, Rendered) and voice.bend != UNBENT)
            fade_in, fade_out = self._equal_gain if coherent else self._equal_power  # (a bend's phase is not known)
            span = np.arange(cut, cut + x) % bank.length_max
            bank.audio[slot, span] = bank.audio[slot, span] * fade_out + tail[:x] * fade_in
            write(bank, slot, tail[x:], cut + x)
            bank.ready[slot] = new.written
            old.close()
            voice.stream, voice.sustained = new, sustained
        return True


def renderable(voice: Voice, runtime: Runtime) -> bool:
    """Whether the voice's coming audio can be rendered again: on the playing model, or from the
    parameters its stream plays (not whole audio from a swapped-out model's cache)."""
    return voice.runtime is runtime or isinstance(voice.stream, (DirectStream, NoteStream))


def write(bank: VoiceBank, slot: int, audio: np.ndarray, at: int) -> None:
    """Audio into a slot's row from sample `at`; the row is a ring (a note held past its length
    wraps around it, over what was played long ago: the worker keeps `lead_ms` ahead)."""
    length = bank.length_max
    begin = at % length
    first = min(len(audio), length - begin)
    bank.audio[slot, begin : begin + first] = audio[:first]
    bank.audio[slot, : len(audio) - first] = audio[first:]
