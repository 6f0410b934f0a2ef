"""The keyboard pre-render: whole notes rendered into the cache in idle time, so that played
notes start from cached audio (NSynth Super did this). One chunk per worker step."""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field

import numpy as np

from rtsynth.engine.cache import CacheKey, RenderCache
from rtsynth.engine.channels import Timeline
from rtsynth.engine.counters import Counters
from rtsynth.engine.decoding import decode_plans
from rtsynth.engine.notes import NoteSpec, plan_note
from rtsynth.engine.synth import AudioStream, Runtime


@dataclass
class _Job:
    key: CacheKey
    stream: AudioStream
    pieces: list[np.ndarray] = field(default_factory=list)


class PreRenderer:
    def __init__(self, cache: RenderCache, stats: Counters, chunk_frames: int):
        self.cache, self.stats, self.chunk_frames = cache, stats, chunk_frames
        self._queue: collections.deque[NoteSpec] = collections.deque()
        self._timeline: Timeline | None = None
        self._job: _Job | None = None
        self._restart = False  # a new queue came: drop the job in progress
        self._lock = threading.Lock()  # `replace` comes from the note-start thread

    def replace(self, specs: list[NoteSpec], timeline: Timeline) -> None:
        """A new queue (the timbre moved: the old one is moot)."""
        with self._lock:
            self._queue.clear()
            self._timeline = timeline
            self._queue.extend(specs)
            self._restart = True

    def clear(self) -> None:
        """A new model: nothing queued is worth rendering."""
        with self._lock:
            self._queue.clear()
        self._drop_job()

    @property
    def pending(self) -> int:
        return len(self._queue) + (self._job is not None)

    def step(self, runtime: Runtime) -> bool:
        """Start the next note or render the next chunk of the current one; False when idle."""
        with self._lock:
            restarted, self._restart = self._restart, False
            spec = self._queue.popleft() if self._queue and (restarted or self._job is None) else None
            timeline = self._timeline
        if restarted:
            self._drop_job()
        if self._job is None:
            return spec is not None and timeline is not None and self._begin(runtime, spec, timeline)
        job = self._job
        job.pieces.append(job.stream.advance(self.chunk_frames))
        if job.stream.done:
            self.cache.put_audio(job.key, np.concatenate(job.pieces))
            self.stats.add("prerendered")
            self._job = None
        return True

    def _begin(self, runtime: Runtime, spec: NoteSpec, timeline: Timeline) -> bool:
        plan = plan_note(spec, Timeline.still(timeline.final), runtime.space, runtime.framing)
        key = runtime.note_key(plan, spec.note)
        if self.cache.has_audio(key):
            self.stats.add("prerendered")
            return True
        entry = self.cache.get(key)
        mel = entry.mel if entry is not None else decode_plans(runtime, [plan], self.stats)[0][0]
        self.cache.put_mel(key, mel)
        self._job = _Job(key, runtime.stream(mel, 0.0, 0, note=spec.note))
        return True

    def _drop_job(self) -> None:
        if self._job is not None:
            self._job.stream.close()
            self._job = None
