"""New audio for notes already sounding, spliced in ahead of the playhead with a crossfade:
re-renders after a timbre or offset move, hand-overs from the fast attack vocoder to the
main one (with more than `full_quality_voices` voices busy a note keeps the attack vocoder:
the main one costs about twice as much per voice, and polyphony comes first), and notes a
dead worker left half rendered, carried on by the worker that took its place."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rtsynth.engine.channels import Timeline
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.counters import Counters
from rtsynth.engine.decoding import decode_plans
from rtsynth.engine.mixer import PLAYING, RELEASING, RESERVED, VoiceBank
from rtsynth.engine.notes import NotePlan, plan_note
from rtsynth.engine.requests import ResumeNote
from rtsynth.engine.synth import AudioStream, NoteStream, Rendered, Runtime
from rtsynth.engine.voices import Voice, VoiceTable, playhead

SPLICE_SAFETY_S = 0.008  # plus two blocks: how far ahead of the playhead new audio may be spliced in
WARM_FRAMES = 4  # frames a re-render stream runs before its audio is used
LIVE = (RESERVED, PLAYING, RELEASING)  # slot states whose coming audio may still change


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

    def resume(self, notes: Sequence[ResumeNote], runtime: Runtime) -> int:
        """Carry on the notes a dead worker left in their slots: each becomes a voice here whose
        audio so far is what its row holds, and a fresh render of the rest is crossfaded in where
        that audio ends (over silence, if the playhead got there first), so the note keeps its
        lead while the new worker catches up. The number of notes carried on."""
        bank, voices = self.bank, []
        with self.table.lock:
            for note in notes:
                slot = note.slot
                ours = bank.voice[slot] == note.spec.voice and bank.state[slot] in LIVE
                if ours and slot not in self.table.voices and bank.ready[slot] < runtime.note_samples:
                    voice = Voice(note.spec, slot, Rendered(runtime, int(bank.ready[slot])), runtime, None, False)
                    self.table.voices[slot] = voice
                    voices.append(voice)
        timelines = {note.spec.channel: note.timeline for note in notes}
        return self._render(voices, runtime, timelines.__getitem__)

    def _render(self, voices: list[Voice], runtime: Runtime, timeline: Callable[[int], Timeline]) -> int:
        """Re-render the coming frames of these voices (one batched decode) and splice them in."""
        jobs = [job for voice in voices if (job := self._plan(voice, runtime, timeline))]
        if not jobs:
            return 0
        sources = decode_plans(runtime, [plan for _, plan, _ in jobs], self.stats)
        with self.table.working_on([voice for voice, _, _ in jobs]) as live:
            live_ids = {id(v) for v in live}
            for (voice, _, frame), (mel, peak) in zip(jobs, sources, strict=True):
                if id(voice) in live_ids:
                    voice.key, voice.attack = None, False
                    self.splice(voice, runtime.stream(mel, peak, frame, note=voice.spec.note))
        return len(live_ids)

    def _plan(
        self, voice: Voice, runtime: Runtime, timeline: Callable[[int], Timeline]
    ) -> tuple[Voice, NotePlan, int] | None:
        if voice.stolen or voice.runtime is not runtime or self.bank.state[voice.slot] not in LIVE:
            return None
        start = playhead(self.bank, voice.slot) + self._safety * 2
        if isinstance(voice.stream, Rendered):  # resumed: new audio from where the old ends
            start = max(start, voice.stream.written - self._xfade)
        first = runtime.frame_of(start)
        if first >= runtime.mel.n_frames - 2:
            return None
        spec = voice.spec
        plan = plan_note(spec, timeline(spec.channel), runtime.space, runtime.framing, first_frame=first)
        return voice, plan, max(0, first - WARM_FRAMES)

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

    def splice(self, voice: Voice, new: AudioStream) -> None:
        """Replace a voice's audio ahead of the playhead by `new`'s, crossfading into it; a
        resumed note's at the end of what was rendered, so it keeps its lead."""
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
        end = min(new.written, voice.runtime.note_samples)
        cut = min(cut, end - self._xfade)
        if cut <= new.start or cut < playhead(bank, slot):
            new.close()
            return
        at = old.written
        older = old.advance_to(cut + self._xfade, step) if at < cut + self._xfade else None
        with self.table.lock:
            if voice.dropped:
                new.close()
                return
            if older is not None:
                write(bank, slot, older, at)
            x = self._xfade
            tail = fresh[cut - new.start :]
            fade_in, fade_out = self._equal_gain if voice.runtime.phase_coherent else self._equal_power
            bank.audio[slot, cut : cut + x] = bank.audio[slot, cut : cut + x] * fade_out + tail[:x] * fade_in
            write(bank, slot, tail[x:], cut + x)
            bank.ready[slot] = new.written
            old.close()
            voice.stream = new


def write(bank: VoiceBank, slot: int, audio: np.ndarray, at: int) -> None:
    """Audio into a slot's row from sample `at`, clipped to the row."""
    end = min(at + len(audio), bank.length_max)
    if end > at:
        bank.audio[slot, at:end] = audio[: end - at]
