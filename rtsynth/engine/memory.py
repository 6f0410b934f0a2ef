"""Giving a dropped model's memory back to the system.

An onnxruntime session and the render caches of a model come to a few tens of MB, most of it in
small and mid-sized allocations that glibc's malloc keeps in its arenas after they are freed, so
without help the worker's resident memory climbs a step with every model swap. Once the old model
is gone (its last voice has finished), `malloc_trim` returns the free pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_AFTER_S = 3.0  # after a swap: voices on the old model have finished by then (notes are short)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to trim
        return None
    return trim


class MemoryTrimmer:
    """Trims the heap once, a while after each model swap, when the worker has nothing to do."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._trim, self._clock = _malloc_trim(), clock
        self._due: float | None = None

    def swapped(self) -> None:
        self._due = self._clock() + TRIM_AFTER_S

    def idle(self) -> None:
        if self._due is not None and self._clock() >= self._due:
            self._due = None
            if self._trim is not None:
                self._trim(0)  # ctypes lets go of the interpreter lock meanwhile
