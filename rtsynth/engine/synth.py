"""One loaded model ready to play: decoder, latent space, and mel -> output-rate audio streams.

A `NoteStream` vocodes a note's mel from some frame on, a few frames at a time, resamples
to the output rate and trims the resampler's delay, so its samples land exactly where the
note's own timeline has them: a stream started at frame f begins at output sample
round(f x hop x out_rate / model_rate). Re-rendering and the fast attack path rely on that.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rtsynth.dsp.harmonic import UNBENT, BendCurve, fold_into_loop
from rtsynth.engine.cache import CacheKey, cache_key
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.latent import LatentSpace
from rtsynth.engine.notes import Framing, NotePlan, assemble
from rtsynth.model import Model
from rtsynth.synthesis import parse_synthesis
from rtsynth.vocoder import CANDIDATES, DEFAULT_VOCODER, StreamingResampler, StreamingVocoder, create_vocoder
from rtsynth.vocoder.loudness import level_gain

if TYPE_CHECKING:
    from rtsynth.engine.counters import Counters
    from rtsynth.engine.direct import DirectRuntime

log = logging.getLogger(__name__)

CORNERS_KEPT = 4096  # timbre-corner levels remembered per model (a morph's corners recur note after note)
SUSTAIN_LOOP_FRAMES = 86  # a held note that outlasts its decoded window loops about 2 s of its sustain ...
SUSTAIN_END_FRAMES = 16  # ... ending this many frames before the window's end, where decoded notes taper


def choose_vocoder(requested: str, bundle_choice: dict[str, Any]) -> str:
    """The engine's vocoder: the setting, else the bundle's `vocoder.kind`, else the default."""
    if requested:
        if requested not in CANDIDATES:
            raise ValueError(f"unknown vocoder {requested!r}; choose from {sorted(CANDIDATES)}")
        return requested
    kind: str = bundle_choice.get("kind", "")
    if kind in CANDIDATES:
        return kind
    if kind:
        log.info("bundle asks for vocoder %r, which this runtime does not have; using %s", kind, DEFAULT_VOCODER)
    return DEFAULT_VOCODER


class Runtime(ABC):
    """What every way of playing a model shares: the latent space and the note's timeline
    (frames of the decoder's hop, mapped to output samples)."""

    def __init__(self, model: Model, config: EngineConfig, space: LatentSpace):
        self.model, self.spec, self.space = model, model.spec, space
        self.mel = model.spec.mel
        self.out_rate = config.samplerate
        self.samples_per_frame = self.mel.hop_length * self.out_rate / self.mel.sample_rate
        self.note_samples = round(self.mel.n_frames * self.samples_per_frame)
        self.frame_seconds = self.mel.hop_length / self.mel.sample_rate
        self.a4_hz = config.a4_hz
        self.framing = Framing(self.frame_seconds, self.mel.n_frames, self.resamples, config.tuning_semitones)
        last = self.mel.n_frames - 1 - SUSTAIN_END_FRAMES
        self.sustain_loop = (max(0, last - SUSTAIN_LOOP_FRAMES), last)
        self.corner_levels: dict[bytes, np.ndarray] = {}  # decoded level of a timbre's own latent (notes.TimbreBlend)

    def remember_corner(self, z: bytes, level: np.ndarray) -> np.ndarray:
        if len(self.corner_levels) >= CORNERS_KEPT:
            self.corner_levels = {}  # replaced, not cleared: the other thread may be reading it
        self.corner_levels[z] = level
        return level

    @property
    def name(self) -> str:
        return self.spec.name

    def frame_of(self, sample: float) -> int:
        """The decoder frame that output sample `sample` of a note belongs to."""
        return int(sample / self.samples_per_frame)

    def sample_of(self, frame: int) -> int:
        return round(frame * self.samples_per_frame)

    # what the note starter, splicer and pre-renderer ask of each kind of runtime
    resamples: bool  # the mixer plays a pitch class transposed to the key (else the key is in f0)
    # (first, last) decoded frame of the loop a held note plays past them, back and forth
    sustain_loop: tuple[int, int]
    vocoder_name: str  # reported, and part of cache keys
    attack_vocoder_name: str | None  # a fast path new notes start with, or None
    first_frames: int  # frames of a new note rendered before it is handed to the mixer
    # a stream opened mid-note continues the old one's phases (a splice crossfades by amplitude);
    # else the two are unrelated (by power)
    phase_coherent: bool = False
    amplitude_frames: bool = False  # frame parameters are amplitudes (means taken of their power), else dB-like

    @property
    def start_vocoder(self) -> str:
        """The path a new note starts with (a fast attack path, crossfaded away, or the main one)."""
        return self.attack_vocoder_name or self.vocoder_name

    @abstractmethod
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents [k, size] -> per-key frame parameters [k, rows, n_frames], one batched run."""

    @abstractmethod
    def frame_levels_db(self, params: np.ndarray) -> np.ndarray:
        """One key's parameters -> each frame's power [n_frames] (dB, on the decoder's own scale)."""

    @abstractmethod
    def rescaled(self, params: np.ndarray, db: np.ndarray) -> np.ndarray:
        """One key's parameters with each frame's level moved by `db` [n_frames]."""

    @abstractmethod
    def assemble(self, plan: NotePlan, keys: np.ndarray) -> tuple[np.ndarray, float]:
        """Key parameters -> the note's [rows, n_frames] and its peak level (dB)."""

    @abstractmethod
    def note_key(self, plan: NotePlan, note: int) -> CacheKey:
        """Cache key of a static note's audio."""

    @abstractmethod
    def stream(
        self,
        params: np.ndarray,
        peak_db: float,
        start_frame: int = 0,
        vocoder: str | None = None,
        note: int = 60,
        bend: BendCurve = UNBENT,
    ) -> AudioStream:
        """A note's audio from `start_frame` on, its f0 bent by `bend` (where the runtime does
        not resample: a resampled note is bent by the mixer)."""

    @abstractmethod
    def warm_up(self, streams: int = 1) -> None:
        """Run every path once before the first note (first onnxruntime runs are slow)."""

    @abstractmethod
    def sustained(
        self, params: np.ndarray, peak_db: float, start_frame: int, note: int, bend: BendCurve = UNBENT
    ) -> AudioStream:
        """A held note's stream: the same frames up to the sustain loop's end, then the loop
        (`sustain_loop`) back and forth, endless."""

    def heads(
        self, plans: list[NotePlan], notes: list[int], velocities: list[float], bends: list[BendCurve]
    ) -> list[NoteHead] | None:
        """New notes that start before all their frames are read, each at its bend; None: decode
        them whole."""
        return None

    def prepare_step(self) -> bool:
        """One piece of the live worker's idle-time preparation; False when none is left."""
        return False


class NoteHead(Protocol):
    """A new note whose stream can play its first samples before the rest of it is read."""

    peak_db: float
    from_table: bool  # its first block came from a table, not its own frames: not its key's audio to cache

    @property
    def stream(self) -> AudioStream: ...

    def first(self, samples: int) -> np.ndarray:
        """The note's next samples within its first frame, from the frames read so far."""
        ...

    def finish(self, stats: Counters) -> np.ndarray:
        """Read the rest and hand it to the stream; the note's whole parameters."""
        ...


class AudioStream(Protocol):
    """A note's output-rate audio, handed out a few frames at a time."""

    start: int  # output sample of the stream's first sample
    written: int  # output sample after the last one returned
    done: bool
    peak_db: float

    @property
    def gain(self) -> float: ...

    def advance(self, frames: int) -> np.ndarray: ...

    def advance_to(self, sample: int, step: int) -> np.ndarray: ...

    def close(self) -> None: ...


class ModelRuntime(Runtime):
    """Mel decoders: the mel is vocoded and resampled to the output rate; the mixer transposes
    (resamples) each key from the pitch class that plays it."""

    resamples = True

    def __init__(self, model: Model, config: EngineConfig):
        super().__init__(model, config, LatentSpace(model.spec))
        self.vocoder_name = choose_vocoder(config.vocoder, model.spec.vocoder)
        attack = config.attack_vocoder
        self.attack_vocoder_name = choose_vocoder(attack, {}) if attack not in ("", "none", self.vocoder_name) else None
        self._vocoders: dict[str, list[StreamingVocoder]] = {}
        self._resamplers: list[StreamingResampler] = []
        start = self.take_vocoder(self.start_vocoder)
        self.first_frames = max(config.first_frames, start.latency_frames)
        self.give_back(self.start_vocoder, start, None)

    # the pools are shared by the worker's two threads: list.pop and append are atomic
    def take_vocoder(self, name: str) -> StreamingVocoder:
        try:
            return self._vocoders.setdefault(name, []).pop()
        except IndexError:
            return create_vocoder(name, self.mel)

    def take_resampler(self) -> StreamingResampler:
        try:
            resampler = self._resamplers.pop()
        except IndexError:
            return StreamingResampler(self.mel.sample_rate, self.out_rate)
        resampler.reset()
        return resampler

    def give_back(self, name: str, vocoder: StreamingVocoder | None, resampler: StreamingResampler | None) -> None:
        if vocoder is not None:
            self._vocoders.setdefault(name, []).append(vocoder)
        if resampler is not None:
            self._resamplers.append(resampler)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents [k, 20] -> mels [k, n_mels, n_frames], one batched decoder run."""
        mels: np.ndarray = np.clip(self.model.decode(z), 0.0, 1.0)
        return mels

    def frame_levels_db(self, mel: np.ndarray) -> np.ndarray:
        """Each frame's mel bins' power summed (dB below the peak mel bin)."""
        power = 10.0 ** ((mel.astype(np.float64) - 1.0) * (self.mel.db_range / 10.0))
        out: np.ndarray = 10.0 * np.log10(np.maximum(power.sum(axis=0), 1e-30))
        return out

    def rescaled(self, mel: np.ndarray, db: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.clip(mel + (db / self.mel.db_range)[None, :].astype(np.float32), 0.0, 1.0)
        return out

    def assemble(self, plan: NotePlan, mels: np.ndarray) -> tuple[np.ndarray, float]:
        return assemble(plan, mels, self.mel.db_range)

    def note_key(self, plan: NotePlan, note: int) -> CacheKey:
        """Cache key of a static note: its latent (the mixer transposes what it plays to the key)."""
        return cache_key(plan.z[0], self.vocoder_name + plan.length_tag)

    def stream(
        self,
        mel: np.ndarray,
        peak_db: float,
        start_frame: int = 0,
        vocoder: str | None = None,
        note: int = 60,
        bend: BendCurve = UNBENT,
    ) -> NoteStream:
        """A note's audio from `start_frame` on (`note` and `bend` are the mixer's to resample to)."""
        return NoteStream(self, mel, peak_db, start_frame, vocoder or self.vocoder_name)

    def sustained(
        self, mel: np.ndarray, peak_db: float, start_frame: int, note: int, bend: BendCurve = UNBENT
    ) -> NoteStream:
        """The vocoder runs forward through the loop's frames played back and forth, so its
        state runs on (it cannot run backwards, its frames can)."""
        return NoteStream(self, mel, peak_db, start_frame, self.vocoder_name, self.sustain_loop)

    def warm_up(self, streams: int = 1) -> None:
        """Run every path once (the first onnxruntime run and FFT plans are slow) and build
        `streams` vocoders and resamplers up front, so a chord never waits for their setup."""
        mel = self.decode(np.zeros((2, self.space.layout.size), dtype=np.float32))[0]
        for name in {self.vocoder_name, self.start_vocoder}:
            opened = [self.stream(mel, 0.0, 0, name) for _ in range(streams)]
            opened[0].advance(self.first_frames + 8)
            for stream in opened:
                stream.close()


class FrameStream(ABC):
    """A stream rendered a few decoder frames at a time."""

    written: int
    done: bool

    @abstractmethod
    def advance(self, frames: int) -> np.ndarray:
        """Render up to `frames` more frames; return the output samples that became final."""

    def advance_to(self, sample: int, step: int) -> np.ndarray:
        """Render until output sample `sample` is final (or the note ends); return it all."""
        pieces = []
        while self.written < sample and not self.done:
            pieces.append(self.advance(step))
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


class NoteStream(FrameStream):
    """Vocodes one note's mel from `start_frame` on into output-rate audio, piece by piece."""

    def __init__(
        self,
        runtime: ModelRuntime,
        mel: np.ndarray,
        peak_db: float,
        start_frame: int,
        vocoder: str,
        loop: tuple[int, int] | None = None,
    ):
        self.runtime, self.mel, self.peak_db = runtime, mel, peak_db
        self.loop = loop  # a sustain loop: the stream never ends
        self.vocoder_name = vocoder
        self._vocoder = runtime.take_vocoder(vocoder)
        self._vocoder.reset(peak_db)
        self._resampler = runtime.take_resampler()
        self._skip = round(self._resampler.delay_seconds * runtime.out_rate)
        self.frame = start_frame  # next mel frame to vocode
        self.start = runtime.sample_of(start_frame)  # output sample of this stream's first sample
        self.written = self.start  # output sample after the last one returned
        self.done = False

    @property
    def gain(self) -> float:
        return level_gain(self.peak_db)

    def advance(self, frames: int) -> np.ndarray:
        """Vocode up to `frames` more mel frames; return the output samples that became final."""
        if self.done:
            return np.zeros(0, dtype=np.float32)
        n_frames = self.mel.shape[1]
        if self.loop is None:
            chunk = self.mel[:, self.frame : self.frame + frames]
        else:
            positions = fold_into_loop(np.arange(self.frame, self.frame + frames, dtype=np.float64), self.loop)
            chunk = self.mel[:, positions.astype(np.int64)]
        self.frame += chunk.shape[1]
        audio = self._vocoder.push(chunk)
        final = self.loop is None and self.frame >= n_frames
        if final:
            audio = np.concatenate([audio, self._vocoder.flush()])
        out = self._resampler.process(audio)
        if final:
            out = np.concatenate([out, self._resampler.process(np.zeros(self._resampler.taps, np.float32))])
        if self._skip:
            dropped = min(self._skip, len(out))
            out, self._skip = out[dropped:], self._skip - dropped
        if final:
            total = self.runtime.note_samples - self.written
            out = out[:total] if len(out) >= total else np.pad(out, (0, total - len(out)))
            self.close()
        self.written += len(out)
        return out

    def close(self) -> None:
        if not self.done:
            self.runtime.give_back(self.vocoder_name, self._vocoder, self._resampler)
            del self._vocoder, self._resampler  # back in the pool: this stream must not touch them again
            self.done = True


class CachedStream:
    """A finished note from the cache, handed out in pieces like a NoteStream."""

    def __init__(self, runtime: Runtime, audio: np.ndarray, peak_db: float):
        self.runtime, self._audio, self.peak_db = runtime, audio, peak_db
        self.start = self.written = 0
        self.frame = 0
        self.done = False
        self.vocoder_name = "cache"

    @property
    def gain(self) -> float:
        return level_gain(self.peak_db)

    def advance(self, frames: float) -> np.ndarray:
        n = max(1, round(frames * self.runtime.samples_per_frame))
        out = self._audio[self.written : self.written + n] * np.float32(self.gain)
        self.written += len(out)
        self.frame = self.runtime.frame_of(self.written)
        self.done = self.written >= len(self._audio)
        return out

    def advance_to(self, sample: int, step: int) -> np.ndarray:
        return self.advance(max(0, sample - self.written) / self.runtime.samples_per_frame + 1)

    def close(self) -> None:
        self.done = True


class Rendered:
    """What a dead worker left of a note: the bank row holds its audio up to `written`. The
    old side of a resume's splice; silence beyond (up to `end`, the note's length), for the gap
    if the playhead got there first."""

    def __init__(self, runtime: Runtime, written: int, end: int):
        self.runtime, self.start, self.written, self.end = runtime, 0, written, end
        self.frame = runtime.frame_of(written)
        self.done = written >= end
        self.peak_db = 0.0
        self.vocoder_name = "rendered"

    @property
    def gain(self) -> float:
        return 1.0  # the row holds the audio as played

    def advance(self, frames: float) -> np.ndarray:
        return self.advance_to(self.written + round(frames * self.runtime.samples_per_frame), 0)

    def advance_to(self, sample: int, step: int) -> np.ndarray:
        n = max(0, min(sample, self.end) - self.written)
        self.written += n
        self.frame = self.runtime.frame_of(self.written)
        self.done = self.written >= self.end
        return np.zeros(n, dtype=np.float32)

    def close(self) -> None:
        self.done = True


def create_runtime(model: Model, config: EngineConfig) -> ModelRuntime | DirectRuntime:
    """The runtime a bundle asks for: direct synthesis for `harmonic-noise`, else mel + vocoder."""
    from rtsynth.engine.direct import DirectRuntime

    synthesis = parse_synthesis(model.spec.synthesis)
    return DirectRuntime(model, config, synthesis) if synthesis is not None else ModelRuntime(model, config)
