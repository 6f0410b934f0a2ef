"""Engine settings: one typed dataclass, filled from CLI flags or the [engine] table of a TOML."""

from __future__ import annotations

import math
from dataclasses import dataclass

A4_RANGE_HZ = (380.0, 480.0)  # concert pitches in use, a French baroque A (392) to a cornett's (466), with room


@dataclass(frozen=True)
class EngineConfig:
    samplerate: int = 48000  # output rate; the model's audio is resampled to it
    a4_hz: float = 440.0  # concert pitch: the A above middle C (MIDI 69); every key's f0 follows it
    blocksize: int = 256  # frames per audio callback
    lookahead_blocks: float = 1.0  # each event is scheduled this many blocks after it arrives
    voices: int = 32  # polyphony cap: beyond it the oldest voice is stolen with a quick fade
    spare_voices: int = 8  # extra slots for voices still releasing or fading out
    release_ms: float = 200.0  # release envelope after note-off
    steal_fade_ms: float = 10.0  # fade of a stolen voice and of /panic
    attack_ms: float = 3.0  # de-click ramp at a note's first sample
    end_fade_ms: float = 30.0  # fade before the end of a note's rendered audio
    crossfade_ms: float = 25.0  # re-rendered frames (timbre moves, model swap) fade in over this
    morph_time_ms: float = 50.0  # default smoothing ramp of timbre-point and offset moves
    gain: float = 0.5  # master gain (linear, 0-2)
    providers: str = "cpu"  # onnxruntime: cpu | cuda
    threads: int = 1  # onnxruntime intra-op threads
    vocoder: str = ""  # vocoder name; empty: the bundle's choice, else the runtime default
    attack_vocoder: str = "pghi"  # a faster vocoder for a note's first frames (crossfaded away); "none": off
    full_quality_voices: int = 8  # beyond this many voices new notes stay on the attack vocoder (polyphony first)
    first_frames: int = 0  # mel frames vocoded before a note may start; 0: the vocoder's minimum
    chunk_frames: int = 16  # mel frames per background vocoding step (note starts run beside these steps)
    rerender_interval_ms: float = 40.0  # at most one re-render of moving notes this often
    lead_ms: float = 400.0  # how far ahead of the playhead the worker keeps each voice rendered
    cache_mb: float = 128.0  # LRU cache of rendered notes (mels and full audio), held from the start
    prerender: bool = False  # pre-render the keyboard range for channel 0's timbre into the cache
    prerender_velocities: tuple[int, ...] = (80,)  # MIDI velocities the pre-render covers
    late_drop_ms: float = 250.0  # a note whose first audio cannot start within this is dropped
    switch_interval_ms: float = 0.5  # Python GIL hand-over interval (the default 5 ms starves the callback)
    worker_nice: int = 0  # > 0: the render worker yields the CPU to the audio thread (and to everything else)

    def __post_init__(self) -> None:
        checks = {
            "samplerate": self.samplerate >= 8000,
            "a4_hz": A4_RANGE_HZ[0] <= self.a4_hz <= A4_RANGE_HZ[1],
            "blocksize": 16 <= self.blocksize <= 8192,
            "lookahead_blocks": 1.0 <= self.lookahead_blocks <= 16.0,
            "voices": self.voices >= 1,
            "spare_voices": self.spare_voices >= 1,
            "release_ms": self.release_ms >= 0,
            "steal_fade_ms": self.steal_fade_ms > 0,
            "crossfade_ms": self.crossfade_ms > 0,
            "morph_time_ms": self.morph_time_ms >= 0,
            "gain": 0 <= self.gain <= 2,
            "providers": self.providers in ("cpu", "cuda"),
            "threads": self.threads >= 1,
            "chunk_frames": self.chunk_frames >= 1,
            "rerender_interval_ms": self.rerender_interval_ms >= 0,
            "first_frames": self.first_frames >= 0,
            "full_quality_voices": self.full_quality_voices >= 0,
            "lead_ms": self.lead_ms > 0,
            "cache_mb": self.cache_mb >= 0,
            "late_drop_ms": self.late_drop_ms > 0,
            "switch_interval_ms": self.switch_interval_ms > 0,
            "worker_nice": 0 <= self.worker_nice <= 19,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError("engine settings out of range: " + ", ".join(f"{b}={getattr(self, b)!r}" for b in bad))

    @property
    def lookahead(self) -> float:
        """Seconds from an event's arrival to its engine time. A new note's first block is due
        at the first callback after it arrives plus every block of look-ahead beyond one, so a
        longer look-ahead trades a constant delay for fewer late notes."""
        return self.lookahead_blocks * self.blocksize / self.samplerate

    @property
    def tuning_semitones(self) -> float:
        """How far every key sits from its 440 Hz pitch."""
        return 12.0 * math.log2(self.a4_hz / 440.0)

    @property
    def slots(self) -> int:
        return self.voices + self.spare_voices
