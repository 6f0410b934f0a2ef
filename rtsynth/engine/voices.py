"""The render worker's voice table: which note plays in which bank slot, and slot allocation
with voice stealing (soft cap: the oldest voice fades; hard cap: the quietest fading one is cut).

One re-entrant lock guards the table; heavy rendering runs outside it on voices marked busy,
and a voice whose slot is reclaimed meanwhile is marked dropped so its late audio is discarded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rtsynth.dsp.harmonic import UNBENT, BendCurve
from rtsynth.engine.cache import CacheKey
from rtsynth.engine.commands import KillSlot, MixerCommand, StealVoice
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.mixer import FADING, FREE, PLAYING, RELEASING, RESERVED, VoiceBank
from rtsynth.engine.notes import NoteSpec
from rtsynth.engine.synth import AudioStream, Runtime

log = logging.getLogger(__name__)

HARD_KILL_WAIT_S = 0.1


def playhead(bank: VoiceBank, slot: int) -> float:
    """Where the mixer reads a slot's row; 0 before it starts (a reserved slot's position is the
    previous note's)."""
    return 0.0 if bank.state[slot] == RESERVED else max(float(bank.pos[slot]), 0.0)


@dataclass
class Voice:
    spec: NoteSpec
    slot: int
    stream: AudioStream
    runtime: Runtime
    key: CacheKey | None  # cache key while the note is a plain, static render
    attack: bool  # still on the fast attack vocoder
    stolen: bool = False
    busy: bool = False  # the main loop is rendering it (outside the lock)
    dropped: bool = False  # its slot was reclaimed: whatever is rendered for it is discarded
    sustained: bool = False  # its stream loops the sustain: it plays until released
    bend: BendCurve = UNBENT  # the bend and vibrato its row's audio carries in its f0 (see Splicer.rebend)


def send_to_mixer(bank: VoiceBank, command: MixerCommand) -> None:
    """Push a command into the bank's ring, waiting briefly if the mixer has stalled."""
    deadline = time.monotonic() + HARD_KILL_WAIT_S
    while not bank.ring.push(command):  # the mixer is a whole ring behind: it stalled
        if time.monotonic() > deadline:
            log.error("mixer command ring full; dropped a command")
            return
        time.sleep(0.001)


class VoiceTable:
    def __init__(self, bank: VoiceBank, config: EngineConfig, kill_now: Callable[[int], None] | None):
        self.bank, self.config, self._kill_now = bank, config, kill_now
        self.voices: dict[int, Voice] = {}
        self.lock = threading.RLock()

    # every method below but work_on: call with the lock held

    def allocate(self, spec: NoteSpec) -> int | None:
        """A slot for the note (reserved in the bank), stealing the oldest beyond the polyphony cap."""
        bank = self.bank
        sounding = [v for v in self.voices.values() if not v.stolen and bank.state[v.slot] in (RESERVED, PLAYING)]
        sounding.sort(key=lambda v: v.spec.voice)
        for victim in sounding[: max(0, len(sounding) - self.config.voices + 1)]:
            victim.stolen = True
            send_to_mixer(bank, StealVoice(spec.start, victim.spec.voice, self.config.steal_fade_ms * 1e-3))
        free = [int(s) for s in bank.free_slots() if s not in self.voices]
        slot = free[0] if free else self._kill_quietest()
        if slot is not None:
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
        if self._kill_now is None:
            send_to_mixer(bank, KillSlot(float("-inf"), slot))
            deadline = time.monotonic() + HARD_KILL_WAIT_S
            while bank.state[slot] != FREE and time.monotonic() < deadline:
                time.sleep(0.0005)
            if bank.state[slot] != FREE:
                return None
        else:
            self._kill_now(slot)
        self.forget(slot)
        return slot

    def reap(self) -> None:
        """Forget voices the mixer has finished with (their slot is free again)."""
        for slot in [s for s in self.voices if self.bank.state[s] == FREE]:
            self.forget(slot)

    def forget(self, slot: int) -> None:
        """A busy voice's stream is closed when its work ends."""
        voice = self.voices.pop(slot, None)
        if voice is not None:
            voice.dropped = True
            if not voice.busy:
                voice.stream.close()

    def lead_of(self, voice: Voice) -> float:
        """Seconds of rendered audio ahead of the voice's playhead."""
        bank = self.bank
        played = playhead(bank, voice.slot)
        lead: float = (voice.stream.written - played) / max(bank.ratio[voice.slot], 1e-3) / self.config.samplerate
        return lead

    def most_behind(self) -> tuple[Voice | None, float]:
        best, lead = None, float("inf")
        for voice in self.voices.values():
            if voice.stream.done:
                continue
            ahead = self.lead_of(voice)
            if ahead < lead:
                best, lead = voice, ahead
        return best, lead

    @contextmanager
    def working_on(self, voices: list[Voice]) -> Iterator[list[Voice]]:
        """The voices not dropped, marked busy while the caller renders them outside the lock."""
        with self.lock:
            voices = [v for v in voices if not v.dropped]
            for voice in voices:
                voice.busy = True
        try:
            yield voices
        finally:
            with self.lock:
                for voice in voices:
                    voice.busy = False
                    if voice.dropped:
                        voice.stream.close()
