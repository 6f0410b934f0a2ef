"""Warnings that cannot flood the log: a burst per interval, then a count of what was dropped.

A performer's patch gone wrong (or a fuzzer) can send thousands of bad messages a second;
each still gets its `/error` reply, but the log shows only the first few and a summary.
"""

from __future__ import annotations

import logging
import threading
import time


class RateLimitedWarnings:
    def __init__(self, logger: logging.Logger, burst: int = 10, interval_s: float = 5.0):
        self._logger = logger
        self._burst = burst
        self._interval = interval_s
        self._window_start = -float("inf")
        self._in_window = 0
        self._suppressed = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= self._interval:
                if self._suppressed:
                    self._logger.warning(
                        "%d similar warnings suppressed in the last %.0f s", self._suppressed, now - self._window_start
                    )
                self._window_start, self._in_window, self._suppressed = now, 0, 0
            if self._in_window >= self._burst:
                self._suppressed += 1
                return
            self._in_window += 1
        self._logger.warning(message, *args, exc_info=exc_info)

    @property
    def suppressed(self) -> int:
        return self._suppressed
