"""Numpy arrays in one shared-memory block, so the render worker can live in its own process.

Python threads share one interpreter lock: a worker thread inside a long numpy or scipy
call holds it and the audio callback waits, which is an xrun at small block sizes. A worker
process has its own interpreter; it writes voice audio and commands straight into these
arrays and the callback reads them without any lock (single writer per field; aligned
8-byte stores are atomic on the platforms we run on, and x86 keeps stores in order).
"""

from __future__ import annotations

import contextlib
from multiprocessing import resource_tracker, shared_memory

import numpy as np

ALIGN = 64


class SharedArrays:
    """Named arrays laid out in one block: private (name None, shared False), created, or attached."""

    def __init__(self, layout: dict[str, tuple[tuple[int, ...], str]], shared: bool = False, name: str | None = None):
        offsets, size = {}, 0
        for key, (shape, dtype) in layout.items():
            offsets[key] = size
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            size += -(-nbytes // ALIGN) * ALIGN
        self._shm: shared_memory.SharedMemory | None = None
        buffer: memoryview | bytearray | None  # None only for a closed block
        if name is not None:
            self._shm = shared_memory.SharedMemory(name=name)
            # the creator owns the block; without this the attaching process's resource
            # tracker would unlink it when that process exits (CPython < 3.13)
            resource_tracker.unregister(self._shm._name, "shared_memory")  # type: ignore[attr-defined]  # the registered name; typeshed omits it
            buffer = self._shm.buf
        elif shared:
            self._shm = shared_memory.SharedMemory(create=True, size=max(size, ALIGN))
            buffer = self._shm.buf
        else:
            buffer = bytearray(max(size, ALIGN))
        self.arrays = {
            key: np.ndarray(shape, dtype=dtype, buffer=buffer, offset=offsets[key])
            for key, (shape, dtype) in layout.items()
        }
        self._owner = name is None

    @property
    def name(self) -> str | None:
        return None if self._shm is None else self._shm.name

    def close(self) -> None:
        """Drop our views and unmap; the creator also frees the block."""
        if self._shm is None:
            return
        self.arrays = {}
        shm, self._shm = self._shm, None
        with contextlib.suppress(BufferError):  # views still alive elsewhere: the mapping goes with them
            shm.close()
        if self._owner:
            shm.unlink()
