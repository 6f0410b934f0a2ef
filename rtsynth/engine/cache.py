"""LRU cache of rendered notes, keyed by the quantised latent (which carries the duration).

An entry holds the decoded mel as soon as it exists (a repeat skips the decoder) and the
note's whole audio at 0 dB once it has been vocoded to the end (a repeat then costs a copy,
no vocoding). The render worker's two threads (note starts, continuations) share it: each
call takes a lock, held only for the bookkeeping and the copies.

Everything lives in one `Slab` allocated at start: a swap clears the cache without giving
memory back and refilling it takes none, so the worker's memory stays flat through a show.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

QUANTUM = 1.0 / 256  # latent units: far below what the decoder resolves
PAGE = 4096  # float32 samples a page (16 KB): a note's audio takes tens of pages, its mel a few


CacheKey = tuple[str, tuple[int, ...]]  # the vocoder's name and the quantised latent


def cache_key(z: np.ndarray, vocoder: str) -> CacheKey:
    return (vocoder, tuple(np.round(np.asarray(z, dtype=np.float64) / QUANTUM).astype(np.int64).tolist()))


@dataclass(frozen=True)
class Stored:
    """Where an array lies in the slab."""

    pages: np.ndarray  # int page numbers, in order
    shape: tuple[int, ...]


class Slab:
    """A fixed block of float32 pages handed out and taken back. `resident`: every page is
    written now, so that the process's memory already counts the whole cache."""

    def __init__(self, max_bytes: int, resident: bool):
        n = max(0, max_bytes // (PAGE * 4))
        self._pages = np.empty((n, PAGE), np.float32)
        if resident:
            self._pages.fill(0.0)  # fresh pages are only mapped; writing makes them resident
        self._free = list(range(n - 1, -1, -1))

    @property
    def capacity(self) -> int:
        return len(self._pages)

    @property
    def free(self) -> int:
        return len(self._free)

    def store(self, array: np.ndarray) -> Stored:
        """Copy `array` into free pages; the caller has made room (see `pages_for`)."""
        flat = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
        pages = np.array([self._free.pop() for _ in range(pages_for(flat.size))], dtype=np.int64)
        for i, page in enumerate(pages):
            piece = flat[i * PAGE : (i + 1) * PAGE]
            self._pages[page, : len(piece)] = piece
        return Stored(pages, tuple(array.shape))

    def load(self, stored: Stored) -> np.ndarray:
        """A copy: the pages may be handed to another note while this one still plays."""
        size = int(np.prod(stored.shape))
        out: np.ndarray = self._pages[stored.pages].reshape(-1)[:size].reshape(stored.shape)
        return out

    def release(self, stored: Stored) -> None:
        self._free.extend(stored.pages.tolist())


def pages_for(size: int) -> int:
    return -(-size // PAGE)


@dataclass
class CacheEntry:
    mel: np.ndarray  # float32 [n_mels, n_frames]
    audio: np.ndarray | None = None  # float32 output-rate samples at 0 dB


@dataclass
class _Slot:
    mel: Stored
    audio: Stored | None = None


class RenderCache:
    def __init__(self, max_mb: float, resident: bool = False):
        self._slab = Slab(int(max_mb * 2**20), resident)
        self._entries: OrderedDict[CacheKey, _Slot] = OrderedDict()
        self.hits = self.misses = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return (self._slab.capacity - self._slab.free) * PAGE * 4

    def get(self, key: CacheKey) -> CacheEntry | None:
        with self._lock:
            slot = self._entries.get(key)
            if slot is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            audio = None if slot.audio is None else self._slab.load(slot.audio)
            return CacheEntry(self._slab.load(slot.mel), audio)

    def put_mel(self, key: CacheKey, mel: np.ndarray) -> None:
        with self._lock:
            if key not in self._entries and self._make_room(pages_for(mel.size)):
                self._entries[key] = _Slot(self._slab.store(mel))

    def put_audio(self, key: CacheKey, audio: np.ndarray) -> None:
        with self._lock:
            slot = self._entries.get(key)
            if slot is None or slot.audio is not None:
                return
            self._entries.move_to_end(key)  # the entry being filled is never the one evicted
            if self._make_room(pages_for(audio.size), keep=key):
                slot.audio = self._slab.store(audio)

    def has_audio(self, key: CacheKey) -> bool:
        with self._lock:
            slot = self._entries.get(key)
            return slot is not None and slot.audio is not None

    def clear(self) -> None:
        with self._lock:
            for slot in self._entries.values():
                self._release(slot)
            self._entries.clear()

    def _make_room(self, pages: int, keep: CacheKey | None = None) -> bool:
        """Evict least recently used entries (never `keep`) until `pages` are free."""
        if pages > self._slab.capacity:
            return False
        while self._slab.free < pages:
            oldest = next(iter(self._entries))
            if oldest == keep:
                return False
            self._release(self._entries.pop(oldest))
        return True

    def _release(self, slot: _Slot) -> None:
        self._slab.release(slot.mel)
        if slot.audio is not None:
            self._slab.release(slot.audio)
