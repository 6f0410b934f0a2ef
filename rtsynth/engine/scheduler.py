"""Note requests held until they are due, on the engine clock."""

from __future__ import annotations

import collections
import heapq

from rtsynth.engine.notes import NoteSpec


class NoteScheduler:
    """Notes sent far ahead (sequencers, bundles with timetags) take no voice slot before they
    need one. `add` may be called from any thread without a lock (a deque append is atomic);
    everything else with the worker's lock held."""

    def __init__(self) -> None:
        self._requests: collections.deque[NoteSpec] = collections.deque()
        self._scheduled: list[tuple[float, int, NoteSpec]] = []  # heap by start time

    def add(self, spec: NoteSpec) -> None:
        self._requests.append(spec)

    def drop_arriving(self) -> None:
        """Forget the requests not yet sorted in (after a failed step: they may be why)."""
        self._requests.clear()

    def clear(self) -> None:
        self._requests.clear()
        self._scheduled.clear()

    @property
    def arriving(self) -> bool:
        """Requests not yet sorted in: the starter should look at once."""
        return bool(self._requests)

    def next_start(self) -> float | None:
        return self._scheduled[0][0] if self._scheduled else None

    def due(self, horizon: float, limit: int) -> tuple[list[NoteSpec], list[NoteSpec]]:
        """The notes starting by `horizon`, earliest first, and the ones they crowd out: of a
        burst larger than the polyphony `limit` only the newest `limit` could sound (each new
        note steals the oldest), so the older ones are given up before they take a slot."""
        while self._requests:
            spec = self._requests.popleft()
            heapq.heappush(self._scheduled, (spec.start, spec.voice, spec))
        due: list[NoteSpec] = []
        while self._scheduled and self._scheduled[0][0] <= horizon:
            due.append(heapq.heappop(self._scheduled)[2])
        return due[-limit:], due[:-limit]
