"""The render worker in its own process (see shared.py for why).

Requests go down a pipe as small pickled messages; the worker answers through the shared
voice bank (audio, and the command ring the mixer reads) and, for the few things the engine
must know (ready, model swapped or refused), back up the pipe to a listener thread.

A worker starts as a standby: imports done, model loaded and warmed up, following model swaps,
but rendering nothing until it is told to (`Activate`), so one can wait beside the live worker
and take its place at once (see supervisor.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rtsynth.bundle import SPEC_FILE, sha256_file
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.memory import MemoryTrimmer
from rtsynth.engine.mixer import VoiceBank
from rtsynth.engine.requests import (
    Activate,
    LoadModel,
    ModelRefused,
    ModelSwapped,
    NoteRequest,
    StopWorker,
    WorkerFailed,
    WorkerReady,
    WorkerReply,
    WorkerRequest,
)
from rtsynth.engine.synth import Runtime, create_runtime
from rtsynth.engine.worker import RenderWorker
from rtsynth.errors import RtsynthError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 300.0  # loading onnxruntime and warming up a model on a busy machine
STANDBY_LOAD_NICE = 10  # a standby follows a swap at low priority: the live worker is playing meanwhile
# the worker's matrix products are small: BLAS threads would only take the audio thread's core
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class WorkerError(RtsynthError, RuntimeError):
    """The render worker process could not start or died; the message says why."""


class WorkerUnavailable(OSError):
    """A request while the render worker is gone (it is being restarted): this request is lost."""


def runtime_info(runtime: Runtime) -> dict[str, str]:
    directory = Path(runtime.model.directory)
    return {
        "bundle": str(directory.resolve()),  # the folder it was loaded from: names inside may repeat
        "bundle_sha256": sha256_file(directory / SPEC_FILE),  # bundle.json, which holds every file's sum
        "name": runtime.name,
        "provider": runtime.model.provider,
        "vocoder": runtime.vocoder_name,
        "attack_vocoder": runtime.attack_vocoder_name or "none",
    }


def load_runtime(bundle_dir: str | Path, config: EngineConfig) -> Runtime:
    from rtsynth.model import load_model

    runtime = create_runtime(load_model(bundle_dir, config.providers, config.threads), config)
    runtime.warm_up(streams=config.slots + 2)  # every voice, plus re-renders in flight
    return runtime


class WorkerProcess:
    """Engine side: starts the worker process, sends it requests, relays its messages.

    The worker is a fresh interpreter (`python -P -m rtsynth.engine.process FD`) talking over a
    socket pair, not a multiprocessing child: that would re-import the caller's main module,
    which breaks scripts without a `__main__` guard.
    """

    def __init__(
        self,
        bank: VoiceBank,
        bundle_dir: str | Path,
        config: EngineConfig,
        on_message: Callable[[WorkerProcess, WorkerReply], None],
        on_exit: Callable[[WorkerProcess, int | None], None] | None = None,
    ):
        self._setup = (bank.name, bank.slots, bank.length_max, str(bundle_dir), config)
        self._on_message, self._on_exit = on_message, on_exit  # on_exit: it ended without being stopped
        self._stopping = False
        self._send_lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    def start(self) -> dict[str, Any]:
        """Start it and wait until its model is warm; it then stands by until sent `Activate`."""
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "rtsynth.engine.process", str(theirs.fileno())],  # -P: no cwd on sys.path
            pass_fds=(theirs.fileno(),),
            env={**os.environ, **ONE_BLAS_THREAD},
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send(self._setup)
        if not self._conn.poll(START_TIMEOUT_S):
            self._process.kill()
            raise WorkerError(f"the render worker did not start within {START_TIMEOUT_S:.0f} s")
        try:
            reply = self._conn.recv()
        except EOFError:
            raise WorkerError("the render worker exited while starting (see its log above)") from None
        if not isinstance(reply, WorkerReady):
            self._process.wait(5)
            reason = reply.reason if isinstance(reply, WorkerFailed) else repr(reply)
            raise WorkerError(f"the render worker could not start: {reason}")
        self._listener = threading.Thread(
            target=self._listen, args=(self._conn,), name="rtsynth-worker-listener", daemon=True
        )
        self._listener.start()
        return reply.info

    def send(self, message: WorkerRequest) -> None:
        if self._conn is None:
            raise WorkerUnavailable("the render worker is not running")
        try:
            with self._send_lock:
                self._conn.send(message)
        except OSError:
            raise WorkerUnavailable("the render worker is gone (being restarted); this request is lost") from None

    def _listen(self, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            self._on_message(self, message)
        if not self._stopping and self._on_exit is not None and self._process is not None:
            self._on_exit(self, self._process.wait(5))

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def stop(self) -> None:
        self._stopping = True
        if self._process is None:
            return
        if self.alive:
            try:
                self.send(StopWorker())
                self._process.wait(5)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(5)
        if self._conn is not None:
            self._conn.close()
        if self._listener is not None:
            self._listener.join(5)
        self._process = None


def worker_main(conn: Connection) -> None:
    """Worker process entry: load, warm up, say ready, then serve requests and render."""
    bank_name, slots, length, bundle_dir, config = conn.recv()
    os.nice(config.worker_nice)  # below the audio thread: when both want the CPU, the callback wins
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (render worker): %(message)s")
    send_lock = threading.Lock()

    def send(message: WorkerReply) -> None:
        with send_lock:
            conn.send(message)

    bank = VoiceBank(slots, length, name=bank_name)
    try:
        runtime = load_runtime(bundle_dir, config)
    except Exception as err:  # reported to the engine, which raises it
        send(WorkerFailed(f"{type(err).__name__}: {err}"))
        return
    trimmer = MemoryTrimmer()

    def swapped(runtime: Runtime) -> None:
        send(ModelSwapped(runtime_info(runtime)))

    worker = RenderWorker(bank, runtime, config, on_swap=swapped, resident_cache=True, read_ahead=True)
    loader = ModelLoader(worker, config, send)
    send(WorkerReady(runtime_info(runtime)))
    try:
        if not _stand_by(conn, worker, loader, trimmer):
            return
    except (EOFError, OSError):  # the engine went away
        return
    sys.setswitchinterval(config.switch_interval_ms * 1e-3)  # the note-start thread gets its turn soon
    stop, wake = threading.Event(), threading.Event()
    starter = threading.Thread(
        target=_serve_requests, args=(conn, worker, loader, stop, wake), name="rtsynth-note-starter", daemon=True
    )
    starter.start()
    while not stop.is_set():
        if not worker.step(starts=False):
            trimmer.idle()
            wake.wait(worker.idle_wait())
            wake.clear()
    starter.join(5)


def _stand_by(conn: Connection, worker: RenderWorker, loader: ModelLoader, trimmer: MemoryTrimmer) -> bool:
    """Until activated, keep to the playing model (a swap is taken at once: no voice holds the
    old one). True when activated, False when told to stop."""
    loader.nice = STANDBY_LOAD_NICE
    while True:
        if conn.poll(0.05):
            request = conn.recv()
            if isinstance(request, StopWorker):
                return False
            if isinstance(request, LoadModel):
                loader.request(request.bundle_dir)
            elif isinstance(request, Activate):
                loader.nice = 0
                loader.wait()  # a model still loading is the one the engine plays: finish it first
                worker.apply_swap()
                worker.take_over(request)
                return True
        worker.apply_swap()
        trimmer.idle()


def _serve_requests(
    conn: Connection, worker: RenderWorker, loader: ModelLoader, stop: threading.Event, wake: threading.Event
) -> None:
    """The note-start thread: takes every request and starts due notes at once, whatever
    long vocoding step the main loop is in; then wakes the main loop for the rest."""
    try:
        while not stop.is_set():
            if conn.poll(worker.start_wait()):
                while conn.poll():
                    request = conn.recv()
                    if isinstance(request, StopWorker):
                        return
                    _handle(worker, request, loader)
            worker.start_step()
            wake.set()
    except (EOFError, OSError):  # the engine went away
        return
    finally:
        stop.set()
        wake.set()


def _handle(worker: RenderWorker, request: NoteRequest | LoadModel | Activate, loader: ModelLoader) -> None:
    if isinstance(request, LoadModel):
        loader.request(request.bundle_dir)
    elif isinstance(request, Activate):
        worker.take_over(request)
    else:
        worker.accept(request)


class ModelLoader:
    """One model load at a time, on a thread of its own; of the requests that arrive during a
    load only the latest is loaded next, so a flood of /model/load costs one or two loads and
    the memory of one model, and the last request wins."""

    def __init__(self, worker: RenderWorker, config: EngineConfig, send: Callable[[WorkerReply], None]):
        self.worker, self.config, self.send = worker, config, send
        self._lock = threading.Lock()
        self._next: str | None = None
        self._busy = False
        self._idle = threading.Event()
        self._idle.set()
        self.nice = 0  # > 0: loads run on a thread of lower priority (Linux: niceness is per thread)

    def request(self, bundle_dir: str) -> None:
        with self._lock:
            self._next = bundle_dir
            if self._busy:
                return
            self._busy = True
            self._idle.clear()
        threading.Thread(target=self._run, name="rtsynth-model-loader", daemon=True).start()

    def wait(self) -> None:
        """Until no load is in progress."""
        self._idle.wait(START_TIMEOUT_S)

    def _run(self) -> None:
        if self.nice:
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        while True:
            with self._lock:
                bundle_dir, self._next = self._next, None
                if bundle_dir is None:
                    self._busy = False
                    self._idle.set()
                    return
            try:
                runtime = load_runtime(bundle_dir, self.config)
            except Exception as err:  # the old model keeps playing
                self.send(ModelRefused(f"{bundle_dir}: {type(err).__name__}: {err}", bundle_dir))
                continue
            with self._lock:
                superseded = self._next is not None
            if not superseded:  # a later request is waiting: it wins, this one is dropped
                self.worker.swap(runtime)


if __name__ == "__main__":
    worker_main(Connection(int(sys.argv[1])))
