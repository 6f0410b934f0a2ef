"""The live render worker and a warm standby beside it.

Starting a worker takes seconds (imports, onnxruntime sessions, warm-up), far too long for a
show, so a second one is kept loaded and waiting on the playing model. When the live worker
dies the standby takes its place at once, carrying on its notes (ledger.py: the held ones play
on in their slots, the scheduled ones start at their times), and a new standby is started in
the background. Model swaps reach the standby too, once the live worker has made them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtsynth.engine.config import EngineConfig
from rtsynth.engine.ledger import NoteLedger
from rtsynth.engine.mixer import Census, VoiceBank
from rtsynth.engine.process import START_TIMEOUT_S, WorkerError, WorkerProcess, WorkerUnavailable
from rtsynth.engine.requests import (
    Activate,
    LoadModel,
    ModelRefused,
    ModelSwapped,
    WorkerReply,
    WorkerRequest,
)

log = logging.getLogger(__name__)

RESPAWN_AFTER_S = 2.0  # after a takeover: the new worker catches up on its notes before a standby loads beside it


@dataclass(frozen=True)
class Restart:
    """A live worker died and another took its place."""

    exit_code: int | None
    seconds: float  # from noticing the death to the new worker rendering
    standby: bool  # a warm standby took over (else one had to be started)
    resumed: int  # notes playing on in their slots
    replayed: int  # notes not started yet, sent again
    overdue: int  # notes never started that were already too late to play (Takeover)
    info: dict[str, Any]  # the new worker's model
    error: str = ""  # no worker could be started: the engine is silent, and says why


class Supervisor:
    """A WorkerLink (requests.py) over two worker processes: the live one and its standby."""

    def __init__(
        self,
        bank: VoiceBank,
        bundle_dir: str | Path,
        config: EngineConfig,
        on_message: Callable[[WorkerReply], None],
        on_restart: Callable[[Restart], None],
        census: Callable[[], Census],
        clock: Callable[[], float] = time.monotonic,
    ):
        self._bank, self._config = bank, config
        self._on_message, self._on_restart, self._census, self._clock = on_message, on_restart, census, clock
        self._bundle = str(Path(bundle_dir).resolve())  # what the live worker plays ...
        self._info: dict[str, Any] = {}  # ... and its description (process.runtime_info)
        self._loading: str | None = None  # a LoadModel the live worker has not answered yet
        self._ledger = NoteLedger()
        self._lock = threading.RLock()  # requests, promotion and the standby's arrival
        self._active: WorkerProcess | None = None
        self._standby: WorkerProcess | None = None  # set once warm
        self._standby_info: dict[str, Any] = {}  # the model it holds
        self._starting: WorkerProcess | None = None  # a standby on its way
        self._starter: threading.Thread | None = None
        self._stopping = False

    # --- WorkerLink ---------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        active = self._new_worker(self._bundle)
        info = active.start()
        active.send(Activate())
        with self._lock:
            self._active, self._info = active, info
        self._start_standby()
        return info

    def send(self, request: WorkerRequest) -> None:
        """Recorded, then sent; while the live worker is gone (dead, not yet replaced) what it
        misses is carried over from the ledger, so nothing is refused for it."""
        with self._lock:
            self._ledger.record(request, self._clock())
            if isinstance(request, LoadModel):
                self._loading = request.bundle_dir
            if self._active is None:
                raise WorkerUnavailable("the render worker is not running")
            try:
                self._active.send(request)
            except WorkerUnavailable:
                if not self._active.alive and not self._stopping:
                    return  # it died: the takeover carries this over
                raise

    @property
    def alive(self) -> bool:
        return self._active is not None and self._active.alive

    @property
    def standby_ready(self) -> bool:
        return self._standby is not None and self._standby.alive

    @property
    def pid(self) -> int | None:
        """The live worker's process id."""
        return None if self._active is None else self._active.pid

    def stop(self) -> None:
        """Stop both workers, and one still starting (before the engine frees the voice bank)."""
        with self._lock:
            self._stopping = True
            workers = [w for w in (self._active, self._standby, self._starting) if w is not None]
            self._active = self._standby = None
        for worker in workers:
            worker.stop()
        if self._starter is not None:
            self._starter.join(START_TIMEOUT_S)

    # --- messages and deaths --------------------------------------------------------------------

    def _new_worker(self, bundle: str) -> WorkerProcess:
        return WorkerProcess(self._bank, bundle, self._config, self._from_worker, self._exited)

    def _from_worker(self, worker: WorkerProcess, message: WorkerReply) -> None:
        with self._lock:
            live = worker is self._active
            if not live:
                if isinstance(message, ModelSwapped):
                    self._standby_info = message.info
                elif isinstance(message, ModelRefused):
                    log.warning("the standby render worker could not load %s", message.bundle_dir)
                return
            # a worker that took over catches up with the playing model: nothing new to the engine
            repeat = isinstance(message, ModelSwapped) and self._bundle == message.info["bundle"] != self._loading
            if isinstance(message, ModelSwapped | ModelRefused) and message_bundle(message) == self._loading:
                self._loading = None
            if isinstance(message, ModelSwapped):
                self._bundle, self._info = message.info["bundle"], message.info
                self._follow(self._standby)
            if repeat:
                return
        self._on_message(message)

    def _follow(self, standby: WorkerProcess | None) -> None:
        """The standby loads what the live worker plays (with the lock held)."""
        if standby is not None and self._standby_info.get("bundle") != self._bundle:
            try:
                standby.send(LoadModel(self._bundle))
            except WorkerUnavailable:
                log.warning("the standby render worker is gone; a new one starts when it is needed")

    def _exited(self, worker: WorkerProcess, code: int | None) -> None:
        with self._lock:
            if self._stopping:
                return
            if worker is self._standby:
                log.error("the standby render worker died (exit code %s); starting another", code)
                self._standby = None
                self._start_standby()
                return
            if worker is not self._active:
                return
            restart = self._take_over(code)
        self._on_restart(restart)
        if not restart.error:
            self._start_standby(RESPAWN_AFTER_S)

    def _take_over(self, code: int | None) -> Restart:
        """The standby (or, if none is warm, a worker started now) replaces the dead live worker
        and carries on its notes (with the lock held: requests wait, then go to the new one)."""
        began = time.monotonic()
        worker, standby, info = self._standby, self._standby is not None, self._info  # it plays that once active
        self._active = self._standby = None
        if worker is None:
            worker = self._new_worker(self._bundle)
            try:
                info = self._info = worker.start()
            except WorkerError as err:
                seconds = time.monotonic() - began
                return Restart(code, seconds, standby=False, resumed=0, replayed=0, overdue=0, info={}, error=str(err))
        late = self._clock() - self._config.late_drop_ms * 1e-3
        taken = self._ledger.takeover(self._census(), late)
        worker.send(taken.activate)
        self._active = worker
        for request in (self._ledger.prerender, LoadModel(self._loading) if self._loading else None):
            if request is not None:
                worker.send(request)
        seconds = time.monotonic() - began
        return Restart(
            code,
            seconds,
            standby=standby,
            resumed=len(taken.activate.resume),
            replayed=len(taken.activate.replay),
            overdue=taken.overdue,
            info=info,
        )

    def _start_standby(self, after_s: float = 0.0) -> None:
        self._starter = threading.Thread(
            target=self._warm_standby, args=(after_s,), name="rtsynth-standby-starter", daemon=True
        )
        self._starter.start()

    def _warm_standby(self, after_s: float) -> None:
        time.sleep(after_s)
        with self._lock:
            if self._stopping:
                return
            worker = self._starting = self._new_worker(self._bundle)
        try:
            info = worker.start()
        except (WorkerError, OSError) as err:  # OSError: stopped while it started
            if not self._stopping:
                log.error("no standby render worker (a crash of the live one will take seconds): %s", err)
            return
        finally:
            with self._lock:
                self._starting = None
        with self._lock:
            if self._stopping or self._standby is not None:
                worker.stop()
                return
            self._standby, self._standby_info = worker, info
            self._follow(worker)


def message_bundle(message: ModelSwapped | ModelRefused) -> str:
    return str(message.info["bundle"]) if isinstance(message, ModelSwapped) else message.bundle_dir
