"""The browser control page: static files over HTTP and one WebSocket into the command layer.

Every message the page sends that changes the engine is an OSC address with its arguments
(`{"address": "/morph/xy", "args": [0.2, 0.7]}`, or several at one time as a `bundle`) and
goes through the same `CommandLayer` as OSC: the same validation, the same `/error` replies,
the same state in `/status`. The few page-only operations (the map, a dropped recording,
MIDI-learn) are typed messages of their own. A bad message gets an `/error` and the music
goes on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import tempfile
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response

from rtsynth.control.addresses import ERROR_REPLY, OscInputError, Request
from rtsynth.control.commands import CommandLayer, Reply, warn_if_open
from rtsynth.control.pageview import map_view, meters, plain
from rtsynth.control.ratelimit import RateLimitedWarnings

if TYPE_CHECKING:
    from rtsynth.control.midi import MidiInput
    from rtsynth.engine.engine import Engine

log = logging.getLogger(__name__)

SOCKET_PATH = "/ws"
METERS_EVERY_S = 0.1
MAX_MESSAGE = 32 << 20  # a dropped recording travels base64-encoded in one message
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


def page_files() -> dict[str, bytes]:
    """The page's static files (package data in rtsynth/web), by URL path."""
    folder = resources.files("rtsynth") / "web"
    files = {
        f"/{item.name}": item.read_bytes() for item in folder.iterdir() if item.name.endswith(tuple(CONTENT_TYPES))
    }
    files["/"] = files["/index.html"]
    return files


@dataclass(frozen=True)
class Learn:
    descriptor: str
    index: int


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


class WebServer:
    """Serves the page on host:port; `midi` (a MidiInput or None) is what MIDI-learn binds."""

    def __init__(
        self,
        engine: Engine,
        commands: CommandLayer,
        host: str = "127.0.0.1",
        port: int = 8000,
        midi: MidiInput | None = None,
    ):
        self.engine, self.commands, self.midi = engine, commands, midi
        self.host, self._requested_port = host, port
        self.warnings = RateLimitedWarnings(log)
        self.errors = 0
        self._files = page_files()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1] if self._server else self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        warn_if_open(self.host, "the control page")
        self._thread = threading.Thread(target=self._run, name="web-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise OSError(f"cannot serve the page on {self.host}:{self._requested_port}: {self._failure}")
        log.info("control page at %s", self.url)

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        try:
            self._server = await serve(
                self._connection, self.host, self._requested_port, process_request=self._http, max_size=MAX_MESSAGE
            )
        except OSError as err:
            self._failure = err
            self._ready.set()
            return
        self._ready.set()
        await self._server.wait_closed()

    # --- HTTP: the static page ---------------------------------------------------------------

    def _http(self, connection: ServerConnection, request: HttpRequest) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == SOCKET_PATH:
            return None  # go on to the WebSocket handshake
        body = self._files.get(path)
        if body is None:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no {path} here\n")
        kind = CONTENT_TYPES[Path("index.html" if path == "/" else path).suffix]
        headers = Headers([("Content-Type", kind), ("Content-Length", str(len(body))), ("Cache-Control", "no-cache")])
        return Response(HTTPStatus.OK.value, "OK", headers, body)

    # --- the WebSocket ------------------------------------------------------------------------

    async def _connection(self, connection: ServerConnection) -> None:
        pushing = asyncio.create_task(self._push_meters(connection))
        try:
            await self._send(connection, [Reply("/map/reply", map_view(self.engine, self.commands))])
            async for message in connection:
                replies = await self._handle(message)
                await self._send(connection, replies)
        except ConnectionClosed:
            pass
        finally:
            pushing.cancel()

    async def _push_meters(self, connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                learned = self.midi.bindings() if self.midi is not None else None
                await self._send(connection, [Reply("/meters", {**meters(self.engine), "midi_cc": learned})])
                await asyncio.sleep(METERS_EVERY_S)

    async def _send(self, connection: ServerConnection, replies: list[Reply]) -> None:
        for reply in replies:
            await connection.send(json.dumps({"address": reply.address, "value": plain(reply.value)}))

    async def _handle(self, message: str | bytes) -> list[Reply]:
        """One message from the page -> its replies; every refusal becomes an /error reply.

        `{"bundle": [command, ...]}` applies its commands at one time, like an OSC bundle
        (the map sends a class and the offsets from it together, so no mix of old and new
        is ever aimed at)."""
        arrival = self.engine.clock()
        try:
            data = _decode(message)
        except OscInputError as err:
            return self._error("", str(err))
        if "op" in data:
            return await self._guarded(str(data["op"]), self._page_op(data))
        items = data.get("bundle", [data]) if "bundle" in data else [data]
        if not isinstance(items, list):
            return self._error("bundle", "a bundle is a list of {address, args}")
        replies: list[Reply] = []
        for item in items:
            where = str(item.get("address", "")) if isinstance(item, dict) else ""
            replies += await self._guarded(where, self._command(item, arrival))
        return replies

    async def _guarded(self, where: str, action: Awaitable[list[Reply]]) -> list[Reply]:
        try:
            return await action
        except (ValueError, OSError) as err:  # OscInputError, UnsafeNameError, engine refusals
            return self._error(where, str(err))
        except Exception as err:  # an engine bug: report it, keep serving
            return self._error(where, f"internal error: {err!r}", exc_info=True)

    async def _command(self, data: object, arrival: float) -> list[Reply]:
        address = data.get("address") if isinstance(data, dict) else None
        args = data.get("args", []) if isinstance(data, dict) else None
        if not isinstance(address, str) or not isinstance(args, list):
            raise OscInputError("a command is {address: string, args: list}")
        result = self.commands.build(address, args)
        if isinstance(result, Request):
            return self.commands.answer(result)
        self.commands.submit(result, arrival)
        return []

    async def _page_op(self, data: dict[str, Any]) -> list[Reply]:
        op = data.get("op")
        if op == "map":
            return [Reply("/map/reply", map_view(self.engine, self.commands))]
        if op == "audio":
            upload = Upload(_name(data), _blob(data))
            return [await asyncio.to_thread(self._preset_from_upload, upload)]
        if op == "learn":
            return [self._learn(Learn(str(data.get("descriptor")), _index(data)))]
        raise OscInputError(f"unknown message {op!r}: send {{address, args}} or an op of map, audio, learn")

    def _preset_from_upload(self, upload: Upload) -> Reply:
        from rtsynth.from_audio import preset_from_audio

        bundle = Path(self.engine.info["bundle"])
        with tempfile.TemporaryDirectory(prefix="rtsynth-drop-") as folder:
            recording = Path(folder) / "recording"
            recording.write_bytes(upload.data)
            preset_from_audio(bundle, recording, self.commands.presets_dir, upload.name)
        return Reply("/preset/audio/reply", [upload.name])

    def _learn(self, learn: Learn) -> Reply:
        if self.midi is None:
            raise ValueError("no MIDI input to learn from: start the server with --midi-in")
        self.midi.learn(learn.descriptor, learn.index)
        return Reply("/learn/reply", [learn.descriptor, learn.index])

    def _error(self, address: str, message: str, exc_info: bool = False) -> list[Reply]:
        self.errors += 1
        self.warnings.warning("page: %s%s", f"{address}: " if address else "", message, exc_info=exc_info)
        return [Reply(ERROR_REPLY, [address, message])]


def _decode(message: str | bytes) -> dict[str, Any]:
    if isinstance(message, bytes):
        raise OscInputError("binary messages are not understood; send JSON text")
    try:
        data = json.loads(message)
    except json.JSONDecodeError as err:
        raise OscInputError(f"malformed message: not JSON ({err})") from None
    if not isinstance(data, dict):
        raise OscInputError(f"malformed message: expected a JSON object, got {type(data).__name__}")
    return data


def _name(data: dict[str, Any]) -> str:
    name = data.get("name")
    if not isinstance(name, str):
        raise OscInputError("audio: a preset name (string) is needed")
    return name


def _blob(data: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(str(data.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise OscInputError("audio: data must be the file's bytes in base64") from None


def _index(data: dict[str, Any]) -> int:
    index = data.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise OscInputError("learn: index must be a whole number")
    return index
