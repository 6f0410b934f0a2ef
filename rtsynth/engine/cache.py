"""LRU cache of rendered notes, keyed by the quantised latent (which carries the duration).

An entry holds the decoded mel as soon as it exists (a repeat skips the decoder) and the
note's whole audio at 0 dB once it has been vocoded to the end (a repeat then costs a copy,
no vocoding). The render worker's two threads (note starts, continuations) share it: each
call takes a lock, held only for the bookkeeping.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

QUANTUM = 1.0 / 256  # latent units: far below what the decoder resolves


CacheKey = tuple[str, tuple[int, ...]]  # the vocoder's name and the quantised latent


def cache_key(z: np.ndarray, vocoder: str) -> CacheKey:
    return (vocoder, tuple(np.round(np.asarray(z, dtype=np.float64) / QUANTUM).astype(np.int64).tolist()))


@dataclass
class CacheEntry:
    mel: np.ndarray  # float32 [n_mels, n_frames], shared read-only (a float16 copy costs ms on a note's start)
    audio: np.ndarray | None = None  # float32 output-rate samples at 0 dB

    @property
    def nbytes(self) -> int:
        return self.mel.nbytes + (0 if self.audio is None else self.audio.nbytes)


class RenderCache:
    def __init__(self, max_mb: float):
        self.max_bytes = int(max_mb * 2**20)
        self._entries: OrderedDict[CacheKey, CacheEntry] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return entry

    def put_mel(self, key: CacheKey, mel: np.ndarray) -> None:
        mel = np.asarray(mel, dtype=np.float32)
        with self._lock:
            if key not in self._entries:
                self._store(key, CacheEntry(mel))

    def put_audio(self, key: CacheKey, audio: np.ndarray) -> None:
        audio = audio.astype(np.float32)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.audio is not None:
                return
            self.bytes -= entry.nbytes
            entry.audio = audio
            self._store(key, entry)

    def has_audio(self, key: CacheKey) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.audio is not None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def _store(self, key: CacheKey, entry: CacheEntry) -> None:
        if entry.nbytes > self.max_bytes:
            self._entries.pop(key, None)
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self.bytes += entry.nbytes
        while self.bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.bytes -= old.nbytes
