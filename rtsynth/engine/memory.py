"""Giving freed memory back to the system.

glibc's malloc keeps freed chunks in its arenas: a dropped model's onnxruntime session and caches
(a few tens of MB in small and mid-sized allocations), and the note-sized buffers of rendering,
which once its mmap threshold has risen come from the heap too. Without help the worker's
resident memory climbs a step with every model swap and by 100-200 MB between swaps while notes
come and go. `malloc_trim` returns the free pages every second the worker is idle (a trim then
takes about 1 ms, 12 ms at the 99th percentile in the soak); a swapped-out model's pages go back
at the first trim after its last voice has finished.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_EVERY_S = 1.0  # 4 notes a second fragment the heap by about 25 MB a second


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to trim
        return None
    return trim


class MemoryTrimmer:
    """Trims the heap when the worker has nothing to do, at most once a second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._trim, self._clock = _malloc_trim(), clock
        self._due = clock() + TRIM_EVERY_S

    def idle(self) -> None:
        now = self._clock()
        if now < self._due:
            return
        self._due = now + TRIM_EVERY_S
        if self._trim is not None:
            self._trim(0)  # ctypes lets go of the interpreter lock meanwhile
            log.debug("heap trimmed in %.1f ms", (self._clock() - now) * 1e3)
