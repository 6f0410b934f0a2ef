"""Limits on what the OSC server sends back, so it cannot be turned into an amplifier.

A UDP source address can be forged from off this machine. A tiny `/status` request answered
with a reply 40 times its size, sent to whatever address the request claims, would make the
server a tool for flooding someone else. So every reply has a size cap, and replies to hosts
other than this machine share a byte budget per host; `/reply/port` redirects are honoured
for clients on this machine only (see OscServer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyLimits:
    max_bytes: int = 8192  # one reply datagram; a larger one becomes an /error saying so
    remote_bytes_per_s: float = 32_768.0  # per remote host, with a one-second burst
    redirects: int = 64  # clients remembered with a /reply/port redirect (the oldest is forgotten)
    told: int = 16  # the latest clients told of trouble nobody asked about (a worker crash) ...
    told_within_s: float = 60.0  # ... of those heard from this recently


DEFAULT_REPLY_LIMITS = ReplyLimits()


class ByteBudget:
    """A token bucket per host: `per_s` bytes a second, at most one second's worth saved up."""

    def __init__(self, per_s: float, hosts: int = 1024):
        self._per_s = per_s
        self._hosts = hosts
        self._left: dict[str, tuple[float, float]] = {}  # host -> (bytes left, when counted)

    def spend(self, host: str, size: int) -> bool:
        """Whether `size` bytes may go to `host` now (and if so, take them from its budget)."""
        now = time.monotonic()
        left, then = self._left.pop(host, (self._per_s, now))
        left = min(self._per_s, left + (now - then) * self._per_s)
        allowed = left >= size
        self._left[host] = (left - size if allowed else left, now)
        if len(self._left) > self._hosts:
            del self._left[next(iter(self._left))]
        return allowed
