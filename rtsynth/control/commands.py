"""The command layer every control surface shares: OSC, the browser page (and MIDI's events).

A surface hands over an address and its arguments; the one dispatcher table validates them,
events go to the engine and requests (status, presets, models) are answered here. Replies are
typed values that each transport encodes its own way (OSC arguments, JSON), so what one
surface changes, every other one sees in `/status`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rtsynth.control.addresses import (
    DISPATCHER,
    LATENCY_REPLY,
    MODEL_INFO_REPLY_PREFIX,
    STATUS_REPLY,
    Dispatcher,
    Request,
)
from rtsynth.engine.events import Event
from rtsynth.paths import resolve_name

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from rtsynth.engine.engine import Engine


@dataclass(frozen=True)
class Reply:
    """One answer message: an address and its value (a dict, a list or a scalar)."""

    address: str
    value: object


class CommandLayer:
    """Builds and applies one message for any surface; raises ValueError/OSError for bad input."""

    def __init__(
        self,
        engine: Engine,
        presets_dir: str | Path = "presets",
        bundles_dir: str | Path = "bundles",
        dispatcher: Dispatcher = DISPATCHER,
    ):
        self.engine = engine
        self.presets_dir, self.bundles_dir = Path(presets_dir), Path(bundles_dir)
        self.dispatcher = dispatcher
        self._answers: dict[str, Callable[[str | None], list[Reply]]] = {
            "status": self._status,
            "latency": self._latency,
            "model_info": self._model_info,
            "preset_save": self._preset_save,
            "preset_load": self._preset_load,
            "model_load": self._model_load,
        }

    def build(self, address: str, params: Sequence[object], at: float | None = None) -> Event | Request:
        """The event or Request for a message (OscInputError when the table refuses it)."""
        return self.dispatcher.build(address, params, at)

    def submit(self, event: Event, arrival: float) -> None:
        self.engine.submit(event, arrival)

    def answer(self, request: Request) -> list[Reply]:
        handler = self._answers.get(request.op)
        if handler is None:
            raise ValueError(f"{request.op} is not available on this surface")
        return handler(request.name)

    def _status(self, _name: str | None) -> list[Reply]:
        return [Reply(STATUS_REPLY, self.engine.status())]

    def _latency(self, _name: str | None) -> list[Reply]:
        p50, p99 = self.engine.latency()
        return [Reply(LATENCY_REPLY, [float(p50), float(p99)])]

    def _model_info(self, _name: str | None) -> list[Reply]:
        info = self.engine.model_info()
        return [Reply(MODEL_INFO_REPLY_PREFIX + str(key), value) for key, value in info.items()]

    def _preset_save(self, name: str | None) -> list[Reply]:
        path = resolve_name(self.presets_dir, name, ".json")
        self.presets_dir.mkdir(parents=True, exist_ok=True)
        self.engine.save_preset(path)
        return [Reply("/preset/save/reply", [name])]

    def _preset_load(self, name: str | None) -> list[Reply]:
        path = resolve_name(self.presets_dir, name, ".json")
        if not path.is_file():
            raise FileNotFoundError(f"no preset {name!r}")  # the folder's contents are not the network's business
        self.engine.load_preset(path)
        return [Reply("/preset/load/reply", [name])]

    def _model_load(self, name: str | None) -> list[Reply]:
        path = resolve_name(self.bundles_dir, name)
        if not path.is_dir():
            raise FileNotFoundError(f"no bundle {name!r}")
        self.engine.load_model(path)
        return [Reply("/model/load/reply", [name])]

    def names(self, dirs: bool) -> list[str]:
        """Bundle folders (dirs) or preset names a client may ask for."""
        folder = self.bundles_dir if dirs else self.presets_dir
        if not folder.is_dir():
            return []
        return sorted(
            p.name if dirs else p.stem
            for p in folder.iterdir()
            if (p.is_dir() if dirs else p.suffix == ".json") and not p.name.startswith(".")
        )


def is_local(host: str) -> bool:
    """Whether a listen address reaches this machine only (OSC and the page warn otherwise)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def warn_if_open(host: str, surface: str) -> None:
    """One warning, the same for every surface, when it listens beyond this machine."""
    if not is_local(host):
        log.warning(
            "%s listens on %s: anyone who can reach this machine can play and change it (no password); "
            "use the default 127.0.0.1 unless that is what you want",
            surface,
            host,
        )
