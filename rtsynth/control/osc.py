"""The OSC server: a UDP socket loop that turns packets into engine events and replies.

We use python-osc's parsers (OscMessage, osc_types) but own the socket and the bundle walk,
so every parse error is caught and answered with an `/error` reply to the sender, bundle
timetags become engine-clock times, and no packet, however broken, can stop the thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types

from rtsynth.control.addresses import DISPATCHER, ERROR_REPLY, Dispatcher, OscInputError, Request
from rtsynth.control.commands import CommandLayer, is_local, warn_if_open
from rtsynth.control.ratelimit import RateLimitedWarnings
from rtsynth.control.replies import DEFAULT_REPLY_LIMITS, ByteBudget, ReplyLimits
from rtsynth.engine.events import Event

if TYPE_CHECKING:
    from rtsynth.engine.engine import Engine

log = logging.getLogger(__name__)

Sender = tuple[str, int]  # a UDP peer: host, port

BUNDLE_PREFIX = b"#bundle\x00"
KNOWN_TYPE_TAGS = set("ihfdsbrmtTFN[]")  # what python-osc parses; others it would only log
MAX_BUNDLE_DEPTH = 8
MAX_AHEAD_S = 60.0  # a timetag further ahead than this is refused, so the queue stays bounded
RECEIVE_BUFFER = 1 << 20
POLL_S = 0.2  # how often the loop checks for stop()
INT32 = range(-(2**31), 2**31)


class PacketError(OscInputError):
    """A datagram that is not a well-formed OSC message or bundle."""


@dataclass(frozen=True)
class Timed:
    message: OscMessage
    at: float | None  # engine-clock time, None = as soon as possible


def parse_message(dgram: bytes) -> OscMessage:
    """python-osc's message parser, behind a check that makes all its failures PacketErrors."""
    if not dgram.startswith(b"/"):
        raise PacketError("not an OSC message or bundle (must start with '/' or '#bundle')")
    try:
        _, index = osc_types.get_string(dgram, 0)
        if dgram[index:]:
            tags, _ = osc_types.get_string(dgram, index)
            unknown = sorted(set(tags[1:]) - KNOWN_TYPE_TAGS)
            if unknown:
                raise PacketError(f"unsupported OSC type tag(s) {''.join(unknown)!r}")
        return OscMessage(dgram)
    except PacketError:
        raise
    except Exception as err:  # python-osc raises ParseError, but also UnicodeDecodeError etc.
        raise PacketError(f"malformed OSC message: {err}") from None


def parse_packet(dgram: bytes, clock: float, wall: float) -> list[Timed]:
    """All messages of a datagram with their engine times (bundle timetags converted)."""
    if dgram.startswith(BUNDLE_PREFIX):
        return _walk_bundle(dgram, clock, wall, None, depth=0)
    return [Timed(parse_message(dgram), None)]


def _walk_bundle(dgram: bytes, clock: float, wall: float, outer: float | None, depth: int) -> list[Timed]:
    if depth >= MAX_BUNDLE_DEPTH:
        raise PacketError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    try:
        timetag, index = osc_types.get_date(dgram, len(BUNDLE_PREFIX))
    except Exception as err:
        raise PacketError(f"malformed bundle timetag: {err}") from None
    own = None if timetag == osc_types.IMMEDIATELY else _engine_time(timetag, clock, wall)
    at = _not_before(own, outer)
    out: list[Timed] = []
    while index < len(dgram):
        if len(dgram) - index < 4:
            raise PacketError("truncated bundle element size")
        size = int.from_bytes(dgram[index : index + 4], "big", signed=True)
        index += 4
        if size <= 0 or size % 4 or index + size > len(dgram):
            raise PacketError(f"bad bundle element size {size}")
        element = dgram[index : index + size]
        index += size
        if element.startswith(BUNDLE_PREFIX):
            out += _walk_bundle(element, clock, wall, at, depth + 1)
        else:
            out.append(Timed(parse_message(element), at))
    return out


def _not_before(at: float | None, outer: float | None) -> float | None:
    """An inner bundle never plays before its outer one (OSC 1.1): an earlier timetag takes the outer's."""
    if outer is None:
        return at
    return outer if at is None else max(at, outer)


def _engine_time(timetag_unix: float, clock: float, wall: float) -> float | None:
    """NTP timetag (as Unix seconds) -> engine clock; a late one means 'as soon as possible'."""
    ahead = timetag_unix - wall
    if ahead > MAX_AHEAD_S:
        raise PacketError(f"bundle timetag {ahead:.0f} s ahead (at most {MAX_AHEAD_S:g} s)")
    return clock + ahead if ahead > 0 else None


def _osc_value(value: object) -> int | float | str:
    """A status value as an OSC argument Max, Pd and SuperCollider can all read."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if value in INT32 else float(value)
    if isinstance(value, float):
        return value
    return "none" if value is None else str(value)


def _osc_values(value: object) -> list[int | float | str]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in (str(k), _osc_value(v))]
    if isinstance(value, (list, tuple)):
        return [_osc_value(v) for v in value]
    return [_osc_value(value)]


def build_message(address: str, args: Sequence[int | float | str]) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


class OscServer:
    """UDP OSC server for one engine; replies go to the sender's address and port.

    Replies are bounded (ReplyLimits): a size cap for each, a byte budget per remote host, and
    `/reply/port` only for a client on this machine, to an unprivileged port that is not ours.
    """

    def __init__(
        self,
        engine: Engine,
        host: str = "127.0.0.1",
        port: int = 9000,
        presets_dir: str | Path = "presets",
        bundles_dir: str | Path = "bundles",
        dispatcher: Dispatcher = DISPATCHER,
        limits: ReplyLimits = DEFAULT_REPLY_LIMITS,
    ):
        self.engine = engine
        self.limits = limits
        self._remote_budget = ByteBudget(limits.remote_bytes_per_s)
        self.replies_dropped = 0
        self.host, self._requested_port = host, port
        self.commands = CommandLayer(engine, presets_dir, bundles_dir, dispatcher)
        self.warnings = RateLimitedWarnings(log)
        self.packets = 0
        self.errors = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._reply_ports: dict[tuple[str, int], int] = {}  # sender -> port it asked replies on
        self._heard: dict[Sender, float] = {}  # the latest senders -> when last heard from

    @property
    def port(self) -> int:
        """The bound port (the free one picked when port=0 was asked for)."""
        return self.address[1]

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()[:2] if self._sock else (self.host, self._requested_port)

    def start(self) -> None:
        warn_if_open(self.host, "OSC")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):  # room for bursts (the kernel may cap it lower)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as err:
            sock.close()
            raise OSError(f"cannot listen for OSC on {self.host}:{self._requested_port}: {err.strerror}") from None
        sock.settimeout(POLL_S)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="osc-server", daemon=True)
        self._thread.start()
        self.engine.on_trouble.append(self.tell_clients)
        log.info("OSC listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        if self.tell_clients in self.engine.on_trouble:
            self.engine.on_trouble.remove(self.tell_clients)
        self._stop.set()
        if self._sock is not None:  # wake the loop now rather than at its next poll
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker, contextlib.suppress(OSError):
                waker.sendto(b"", self._sock.getsockname())
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> OscServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        sock = self._sock
        assert sock is not None  # start() binds it before starting this thread
        while not self._stop.is_set():
            try:
                data, sender = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError as err:  # e.g. an ICMP error from an earlier reply; keep serving
                self.warnings.warning("OSC socket error: %s", err)
                continue
            if self._stop.is_set():
                break
            try:
                self.handle(data, sender, self.engine.clock(), time.time())
            except Exception as err:  # the last line of defence: the music goes on
                self._error(sender, "", f"internal error: {err!r}", exc_info=True)

    def handle(self, data: bytes, sender: Sender, clock: float, wall: float) -> None:
        """Parse one datagram and act on each of its messages; bad ones get /error replies."""
        self.packets += 1
        self._heard.pop(sender, None)
        self._heard[sender] = time.monotonic()
        if len(self._heard) > self.limits.told:
            del self._heard[next(iter(self._heard))]
        try:
            timed = parse_packet(data, clock, wall)
        except OscInputError as err:
            self._error(sender, "", str(err))
            return
        for item in timed:
            self._dispatch(item, sender, clock)

    def _dispatch(self, item: Timed, sender: Sender, arrival: float) -> None:
        address = item.message.address
        try:
            result = self.commands.build(address, item.message.params, item.at)
            if isinstance(result, Request):
                self._answer(result, sender)
            else:
                self._submit(result, arrival)
        except (ValueError, OSError) as err:  # OscInputError, UnsafeNameError, engine refusals
            self._error(sender, address, str(err))
        except Exception as err:  # an engine bug: report it, keep serving the other messages
            self._error(sender, address, f"internal error: {err!r}", exc_info=True)

    def _submit(self, event: Event, arrival: float) -> None:
        self.commands.submit(event, arrival)

    def _answer(self, request: Request, sender: Sender) -> None:
        if request.op == "reply_port" and request.port is not None:
            self._redirect_replies(sender, request.port)
            return
        for reply in self.commands.answer(request):
            self._send(sender, reply.address, _osc_values(reply.value))

    def tell_clients(self, trouble: str) -> None:
        """An /error to the clients heard from lately, for trouble no message of theirs caused
        (the render worker died and was replaced): the address is empty, the reason says what."""
        now = time.monotonic()
        for sender, heard in list(self._heard.items()):
            if now - heard < self.limits.told_within_s:
                self._send(sender, ERROR_REPLY, ["", trouble])

    def _redirect_replies(self, sender: Sender, port: int) -> None:
        """Replies to another port of the sender's host: for this machine's clients only, since a
        forged source address from elsewhere would aim our replies at any service of that host."""
        if not is_local(sender[0]):
            raise ValueError("/reply/port is for clients on this machine; replies go to the sending port")
        if port == self.port:
            raise ValueError(f"port {port} is this server's own")
        self._reply_ports.pop(sender[:2], None)
        self._reply_ports[sender[:2]] = port
        if len(self._reply_ports) > self.limits.redirects:
            del self._reply_ports[next(iter(self._reply_ports))]
        self._send(sender, "/reply/port/reply", [port])

    def _error(self, sender: Sender, address: str, message: str, exc_info: bool = False) -> None:
        self.errors += 1
        self.warnings.warning(
            "OSC from %s:%s: %s%s", sender[0], sender[1], f"{address}: " if address else "", message, exc_info=exc_info
        )
        self._send(sender, ERROR_REPLY, [address, message])

    def _send(self, sender: Sender, address: str, args: Sequence[int | float | str]) -> None:
        port = self._reply_ports.get(sender[:2], sender[1])
        data = build_message(address, args)
        if len(data) > self.limits.max_bytes:
            too_big = f"the reply is {len(data)} bytes, more than the {self.limits.max_bytes} a reply may carry"
            self.warnings.warning("OSC reply %s to %s: %s", address, sender, too_big)
            data = build_message(ERROR_REPLY, [address, too_big])
        if not is_local(sender[0]) and not self._remote_budget.spend(sender[0], len(data)):
            self.replies_dropped += 1
            self.warnings.warning("OSC replies to %s over their budget: %s dropped", sender[0], address)
            return
        try:
            if self._sock is None:
                raise OSError("the server is not listening")
            self._sock.sendto(data, (sender[0], port))
        except Exception as err:  # an unreachable client must not stop the server
            self.warnings.warning("OSC reply %s to %s failed: %s", address, sender, err)
