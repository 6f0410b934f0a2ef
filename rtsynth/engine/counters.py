"""The render worker's statistics, kept in the shared voice bank so the engine process reads them."""

from __future__ import annotations

import threading

import numpy as np

from rtsynth.engine.mixer import COUNTERS, RENDER_LOG, VoiceBank


class Counters:
    _INDEX = {name: i for i, name in enumerate(COUNTERS)}  # noqa: RUF012 (read-only)

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
