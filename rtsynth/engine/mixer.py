"""The audio-callback side: voice slots and the mixer that plays them.

The render worker writes each voice's audio (at the output rate) into a row of one
preallocated array and publishes how much is ready; the mixer, called once per audio
block, only reads those rows at each voice's playback rate (a pitch class's transposition
to its key, and the part of the pitch bend the row's audio does not carry yet), applies
envelopes and the master gain, and sums. Typed commands (commands.py) reach it
through a deque from the control threads (append/popleft are atomic, so neither side takes a
lock) and through a shared ring from the worker, and wait in a heap until their block: note
starts land on their exact sample, everything else on their block.

Nothing here decodes, logs or allocates more than a few small temporaries per block.
"""

from __future__ import annotations

import collections
import heapq
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from rtsynth.engine.channels import N_CHANNELS
from rtsynth.engine.commands import (
    RECORD,
    BendChannel,
    KillSlot,
    MixerCommand,
    RebakeVoice,
    ReleaseVoice,
    SetGain,
    SilenceAll,
    StartVoice,
    StealVoice,
    decode,
    encode,
)
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.shared import SharedArrays

# slot states
FREE, RESERVED, PLAYING, RELEASING, FADING = range(5)
SOUNDING = PLAYING  # states >= this are mixed
LATENCY_LOG = 8192
MAX_BLOCK = 8192
EARLY_RELEASES = 1024  # releases kept for voices that have not started yet

STARTED_LOG = 8192  # voice ids of the latest note starts, for a census
CENSUS_WAIT_S = 0.2  # longer than any block: no answer means the audio is not running
ENDLESS = 1 << 62  # the length of a note that sounds until released (its row is read as a ring)

Pending = tuple[float, int, MixerCommand]  # heap entry: (time, seq, command)


@dataclass(frozen=True)
class Census:
    """The mixer's view of the notes a render worker handed it, taken when that worker died:
    `slots` voice -> slot of those started or waiting to start, `started` the voice ids of the
    latest starts (a note in neither was never handed over)."""

    slots: dict[int, int]
    started: frozenset[int]


class VoiceBank:
    """Slot arrays shared by the worker (audio, ready, length, transpose, channel, voice) and
    the mixer (state after start, pos, env, rate, ratio, baked*), plus the worker's command ring."""

    def __init__(self, slots: int, length: int, shared: bool = False, name: str | None = None):
        self.slots, self.length_max = slots, length
        self.memory = SharedArrays(bank_layout(slots, length), shared, name)
        arrays = self.memory.arrays
        self.audio, self.ready, self.length = arrays["audio"], arrays["ready"], arrays["length"]
        self.transpose, self.channel, self.voice = arrays["transpose"], arrays["channel"], arrays["voice"]
        self.state, self.pos, self.env = arrays["state"], arrays["pos"], arrays["env"]
        self.rate, self.ratio = arrays["rate"], arrays["ratio"]
        self.baked, self.baked_before, self.baked_from = arrays["baked"], arrays["baked_before"], arrays["baked_from"]
        self.counters, self.render_ms = arrays["counters"], arrays["render_ms"]
        if name is None:
            self.voice[:] = -1
            self.ratio[:] = 1.0
        self.ring = CommandRing(arrays["ring_records"], arrays["ring_index"])

    @property
    def name(self) -> str | None:
        return self.memory.name

    def free_slots(self) -> np.ndarray:
        return np.flatnonzero(self.state == FREE)

    def close(self) -> None:
        self.memory.close()


def bank_layout(slots: int, length: int) -> dict[str, tuple[tuple[int, ...], str]]:
    return {
        "audio": ((slots, length), "float32"),  # sample n of a note at n % length
        "ready": ((slots,), "int64"),  # samples written, worker
        "length": ((slots,), "int64"),  # samples in the whole note, worker
        "transpose": ((slots,), "float64"),  # semitones for the resampler, worker
        "channel": ((slots,), "int64"),
        "voice": ((slots,), "int64"),
        "state": ((slots,), "int8"),
        "pos": ((slots,), "float64"),  # read position in samples, mixer
        "env": ((slots,), "float64"),
        "rate": ((slots,), "float64"),  # envelope change per sample
        "ratio": ((slots,), "float64"),  # playback rate at the end of the last block
        "baked": ((slots,), "float64"),  # semitones of bend the row's f0 carries from baked_from on, mixer
        "baked_before": ((slots,), "float64"),  # ... and before it
        "baked_from": ((slots,), "float64"),  # the row sample where `baked` begins
        "ring_records": ((RING_SIZE, RECORD), "float64"),
        "ring_index": ((2,), "int64"),  # written (worker), read (mixer)
        "counters": ((len(COUNTERS),), "float64"),  # worker statistics
        "render_ms": ((RENDER_LOG,), "float64"),  # first-chunk render times of recent notes
    }


RING_SIZE = 4096
RENDER_LOG = 2048
COUNTERS = (
    "notes",
    "dropped_late",
    "dropped_full",
    "rerenders",
    "rebends",
    "handovers",
    "kept_attack",
    "decodes",
    "errors",
    "busy_s",
    "cache_hits",
    "cache_misses",
    "cache_notes",
    "prerendered",
    "render_count",
    "resumed",
    "sustained",
    "prepared",
    "table_starts",
)


class CommandRing:
    """Worker -> mixer commands through shared memory: one writer, one reader, no lock."""

    def __init__(self, records: np.ndarray, index: np.ndarray):
        self.records, self.index = records, index

    def push(self, command: MixerCommand) -> bool:
        """Write a command; False if the mixer has fallen a whole ring behind."""
        written, read = int(self.index[0]), int(self.index[1])
        if written - read >= len(self.records):
            return False
        record = self.records[written % len(self.records)]
        record[:] = np.nan
        values = encode(command)
        record[: len(values)] = values
        self.index[0] = written + 1  # after the record: the reader sees it complete
        return True

    def drain(self, into: list[Pending]) -> None:
        written, read = int(self.index[0]), int(self.index[1])
        while read < written:
            command = decode(self.records[read % len(self.records)].tolist())
            heapq.heappush(into, (command.at, command.seq, command))
            read += 1
        self.index[1] = read


@dataclass
class MixerStats:
    blocks: int = 0
    xruns: int = 0  # reported by the audio backend
    underruns: int = 0  # voice blocks whose audio was not rendered in time
    late_starts: int = 0  # notes whose first sample came after their scheduled time
    load: float = 0.0  # callback time / block time, smoothed
    load_max: float = 0.0
    voices: int = 0
    peak: float = 0.0  # output peak, held and falling by PEAK_FALL_S per e-fold (a level meter)


LIMIT_KNEE = 0.8  # the output is linear up to here (-1.9 dBFS), then bends towards full scale


def soft_limit(x: np.ndarray) -> np.ndarray:
    """Linear up to LIMIT_KNEE, then a tanh bend towards +-1 with slope 1 at the knee: one loud
    note passes as it is, a pile of voices never passes full scale. A tanh over the whole range
    bent a loud clarinet's peaks (0.9 of full scale) by 2 dB, and its distortion was the
    loudest thing the note had above 5 kHz."""
    size = np.abs(x)
    over = size > LIMIT_KNEE
    if not over.any():
        return x
    out = x.copy()
    bent = LIMIT_KNEE + (1.0 - LIMIT_KNEE) * np.tanh((size[over] - LIMIT_KNEE) / (1.0 - LIMIT_KNEE))
    out[over] = np.sign(x[over]) * bent
    return out


PEAK_FALL_S = 0.3


class Mixer:
    def __init__(self, bank: VoiceBank, config: EngineConfig):
        self.bank, self.sr = bank, config.samplerate
        self.commands: collections.deque[MixerCommand] = collections.deque()
        self.stats = MixerStats()
        self.output_latency: float | None = None  # seconds from block time to DAC, fixed at the first block
        self.bend = np.zeros(N_CHANNELS)
        self._heap: list[Pending] = []
        self._slot_of: dict[int, int] = {}
        self._early: dict[int, ReleaseVoice | StealVoice] = {}  # releases of voices not started yet
        self._gain = self._gain_target = config.gain
        self._attack_rate = 1.0 / max(1.0, config.attack_ms * 1e-3 * self.sr)
        self._end_fade = 1.0 / max(1.0, config.end_fade_ms * 1e-3 * self.sr)
        k = np.arange(MAX_BLOCK + 1, dtype=np.float64)
        self._k, self._k_tri = k, k * (k - 1) / 2
        self._silence = np.zeros(MAX_BLOCK, dtype=np.float32)
        self.latency = np.full(LATENCY_LOG, np.nan)  # event-to-first-sample seconds
        self.latency_cached = np.zeros(LATENCY_LOG, dtype=bool)
        self.latency_count = 0
        self._started = np.full(STARTED_LOG, -1, dtype=np.int64)
        self._started_count = 0
        self._census: Census | None = None
        self._census_wanted = False

    # --- the callback entry --------------------------------------------------------------

    def process(self, out: np.ndarray, now: float, dac_delay: float) -> None:
        """Fill out [frames, channels]; `now` is the engine clock, now + dac_delay the DAC time."""
        began = time.perf_counter()
        n = len(out)
        if self.output_latency is None:
            self.output_latency = dac_delay
        block_dac = now + dac_delay
        t0 = block_dac - self.output_latency
        self._run_commands(t0, t0 + n / self.sr, block_dac)
        if self._census_wanted:
            self._census, self._census_wanted = self._take_census(), False
        mix = self._mix(n)
        gain = self._gain + (self._gain_target - self._gain) * self._k[1 : n + 1] / n
        self._gain = self._gain_target
        out[:] = soft_limit(mix * gain)[:, None]
        self.stats.peak = max(
            float(np.max(np.abs(out[:, 0]))), self.stats.peak * math.exp(-n / (PEAK_FALL_S * self.sr))
        )
        self._account(began, n)

    def _account(self, began: float, n: int) -> None:
        stats = self.stats
        load = (time.perf_counter() - began) * self.sr / n
        stats.blocks += 1
        stats.load += 0.05 * (load - stats.load)
        stats.load_max = max(stats.load_max, load)

    # --- commands --------------------------------------------------------------------------

    def _run_commands(self, t0: float, t_end: float, block_dac: float) -> None:
        heap, queue = self._heap, self.commands
        while queue:
            command = queue.popleft()
            heapq.heappush(heap, (command.at, command.seq, command))
        self.bank.ring.drain(heap)
        while heap and heap[0][0] < t_end:
            match heapq.heappop(heap)[2]:
                case StartVoice() as start:
                    self._start(start, t0, block_dac)
                case ReleaseVoice() | StealVoice() as release:
                    self._release(release)
                case BendChannel(channel=channel, semitones=semitones):
                    self.bend[channel] = semitones
                case RebakeVoice() as rebake:
                    self._rebake(rebake)
                case SetGain(value=value):
                    self._gain_target = value
                case SilenceAll(seconds=seconds):
                    self._panic(seconds)
                case KillSlot(slot=slot):
                    self._free(slot)

    def _start(self, command: StartVoice, t0: float, block_dac: float) -> None:
        at, slot, voice, arrival = command.at, command.slot, command.voice, command.arrival
        bank = self.bank
        offset = max(0, round((at - t0) * self.sr))
        bank.baked[slot] = bank.baked_before[slot] = command.baked
        bank.baked_from[slot] = 0.0
        ratio = 2.0 ** ((bank.transpose[slot] + self.bend[bank.channel[slot]] - command.baked) / 12.0)
        bank.ratio[slot] = ratio
        bank.pos[slot] = -offset * ratio
        bank.env[slot], bank.rate[slot] = -offset * self._attack_rate, self._attack_rate  # 0 at the first sample
        bank.state[slot] = PLAYING
        self._slot_of[voice] = slot
        self._started[self._started_count % STARTED_LOG] = voice
        self._started_count += 1
        if offset == 0 and at < t0:
            self.stats.late_starts += 1
        if arrival is not None:
            i = self.latency_count % LATENCY_LOG
            self.latency[i] = block_dac + offset / self.sr - arrival
            self.latency_cached[i] = command.cached
            self.latency_count += 1
        early = self._early.pop(voice, None)
        if early is not None:  # a stolen note stays silent; a released one still plays its attack
            delay = 0.0 if isinstance(early, StealVoice) else 1.0 / (self._attack_rate * self.sr)
            later = replace(early, at=at + delay)
            heapq.heappush(self._heap, (later.at, later.seq, later))

    def _rebake(self, command: RebakeVoice) -> None:
        """The worker rendered the voice's audio from `sample` on with this much bend in its f0."""
        slot, bank = command.slot, self.bank
        if self._slot_of.get(command.voice) != slot:
            return
        bank.baked_before[slot] = bank.baked[slot]
        bank.baked_from[slot], bank.baked[slot] = command.sample, command.semitones

    def _release(self, command: ReleaseVoice | StealVoice) -> None:
        slot = self._slot_of.get(command.voice)
        bank = self.bank
        if slot is None:  # not started yet: apply when it starts
            if len(self._early) >= EARLY_RELEASES:  # notes the worker dropped never start: forget the oldest
                del self._early[next(iter(self._early))]
            self._early[command.voice] = command
            return
        state = FADING if isinstance(command, StealVoice) else RELEASING
        if bank.state[slot] < PLAYING or bank.state[slot] >= state:
            return
        bank.state[slot] = state
        bank.rate[slot] = -1.0 / max(1.0, command.seconds * self.sr)  # full level to silence in `seconds`

    def _panic(self, seconds: float) -> None:
        self._early.clear()
        waiting = [item[2] for item in self._heap if isinstance(item[2], StartVoice)]  # due later: never start
        if waiting:
            for start in waiting:
                self._free(start.slot)
            self._heap[:] = [item for item in self._heap if not isinstance(item[2], StartVoice)]
            heapq.heapify(self._heap)
        for voice in list(self._slot_of):
            self._release(StealVoice(0.0, voice, seconds))

    def kill(self, slot: int) -> None:
        """Free a slot at once; only for callers that own the audio thread (offline rendering)."""
        self._free(slot)

    def _free(self, slot: int) -> None:
        bank = self.bank
        self._slot_of.pop(int(bank.voice[slot]), None)
        bank.env[slot] = 0.0
        bank.state[slot] = FREE

    # --- mixing ---------------------------------------------------------------------------

    def _mix(self, n: int) -> np.ndarray:
        bank = self.bank
        act = np.flatnonzero(bank.state >= SOUNDING)
        self.stats.voices = len(act)
        if not len(act):
            return self._silence[:n]
        start, since = bank.pos[act], bank.baked_from[act]
        before, after = bank.baked_before[act], bank.baked[act]
        baked = np.where(start >= since, after, before)
        r1 = np.exp2((bank.transpose[act] + self.bend[bank.channel[act]] - baked) / 12.0)
        r0 = bank.ratio[act]
        pos = start[:, None] + r0[:, None] * self._k[:n] + (r1 - r0)[:, None] * (self._k_tri[:n] / n)
        end = start + r0 * n + (r1 - r0) * (n - 1) / 2
        crossing = (start < since) & (end > since) & (before != after)  # rare: a rebend's start is read
        for i in np.flatnonzero(crossing):
            end[i], r1[i] = self._into_rebaked(act[i], pos[i], float(end[i]), float(r1[i]))
        bank.pos[act] = end
        bank.ratio[act] = r1
        index = np.floor(pos)
        frac = (pos - index).astype(np.float32)
        index = index.astype(np.int64)
        ready, length = bank.ready[act][:, None], bank.length[act][:, None]
        valid = (pos >= 0) & (index + 1 < ready)
        index %= bank.length_max  # a row is a ring: a note held past its length wraps around it
        rows = act[:, None]
        left = bank.audio[rows, index]
        voice = left + (bank.audio[rows, (index + 1) % bank.length_max] - left) * frac
        env = np.clip(bank.env[act][:, None] + bank.rate[act][:, None] * self._k[1 : n + 1], 0.0, 1.0)
        tail = np.clip((length - pos) * self._end_fade, 0.0, 1.0)
        voice *= env * tail * valid
        bank.env[act] = env[:, -1]
        self._finish(act, pos[:, -1], valid[:, -1], length[:, 0])
        mix: np.ndarray = voice.sum(axis=0)
        return mix

    def _into_rebaked(self, slot: int, pos: np.ndarray, end: float, ratio: float) -> tuple[float, float]:
        """In place: the block's read positions past the slot's `baked_from` run at the rate of
        the bend its audio carries from there (the rest of the bend was resampled before);
        returns the block's new end and rate."""
        bank = self.bank
        since = float(bank.baked_from[slot])
        q = 2.0 ** ((bank.baked_before[slot] - bank.baked[slot]) / 12.0)
        past = pos >= since
        pos[past] = since + q * (pos[past] - since)
        return since + q * (end - since), ratio * q

    def _finish(self, act: np.ndarray, last: np.ndarray, valid: np.ndarray, length: np.ndarray) -> None:
        bank = self.bank
        ended = ((bank.env[act] <= 0.0) & (bank.rate[act] < 0)) | (last >= length - 1)
        self.stats.underruns += int(np.count_nonzero((last >= 0) & ~valid & (last < length - 1)))
        for slot in act[ended]:
            self._free(slot)

    # --- after a worker died -------------------------------------------------------------------

    def census(self) -> Census:
        """Which of a dead worker's notes the mixer has (from any thread; the worker must be gone,
        so its ring holds all it sent). Taken in the audio callback after it drained the ring, or
        here if no callback comes (the audio is not running)."""
        self._census, self._census_wanted = None, True
        deadline = time.monotonic() + CENSUS_WAIT_S
        while self._census_wanted and time.monotonic() < deadline:
            time.sleep(0.0005)
        census = self._census
        if census is None:
            self._census_wanted = False
            self.bank.ring.drain(self._heap)
            census = self._take_census()
        return census

    def _take_census(self) -> Census:
        """Slots the dead worker reserved but never handed over are freed here: nothing would."""
        slots = dict(self._slot_of)
        for _, _, command in self._heap:
            if isinstance(command, StartVoice):
                slots[command.voice] = command.slot
        handed = set(slots.values())
        for slot in np.flatnonzero(self.bank.state == RESERVED):
            if int(slot) not in handed:
                self._free(int(slot))
        started = self._started[: min(self._started_count, STARTED_LOG)]
        return Census(slots, frozenset(started.tolist()))

    # --- read side (other threads) ----------------------------------------------------------

    def latencies(self, cached: bool | None = None, since: int = 0) -> np.ndarray:
        """Recent event-to-first-sample latencies (s); `since`: a latency_count read earlier."""
        count = self.latency_count
        first = max(since, count - LATENCY_LOG)
        order = np.arange(first, count) % LATENCY_LOG
        values, flags = self.latency[order], self.latency_cached[order]
        if cached is not None:
            values = values[flags == cached]
        finite: np.ndarray = values[np.isfinite(values)].copy()
        return finite
