"""The render worker in the engine's own process, for offline rendering: the caller steps it
between blocks (`drain`), so a render does not depend on the machine's speed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtsynth.engine.config import EngineConfig
from rtsynth.engine.mixer import VoiceBank
from rtsynth.engine.process import load_runtime, runtime_info
from rtsynth.engine.requests import Activate, LoadModel, ModelSwapped, StopWorker, WorkerReply, WorkerRequest
from rtsynth.engine.synth import Runtime
from rtsynth.engine.worker import RenderWorker


class LocalWorker:
    def __init__(
        self,
        bank: VoiceBank,
        bundle_dir: str | Path,
        config: EngineConfig,
        on_message: Callable[[WorkerReply], None],
        clock: Callable[[], float],
        kill_now: Callable[[int], None],
    ):
        self._bank, self._bundle_dir, self._config = bank, bundle_dir, config
        self._on_message, self._clock, self._kill_now = on_message, clock, kill_now
        self._worker: RenderWorker | None = None

    @property
    def worker(self) -> RenderWorker:
        if self._worker is None:
            raise RuntimeError("the offline render worker is not started")
        return self._worker

    def start(self) -> dict[str, Any]:
        runtime = load_runtime(self._bundle_dir, self._config)
        self._worker = RenderWorker(self._bank, runtime, self._config, self._swapped, self._clock, self._kill_now)
        return runtime_info(runtime)

    def _swapped(self, runtime: Runtime) -> None:
        self._on_message(ModelSwapped(runtime_info(runtime)))

    def send(self, request: WorkerRequest) -> None:
        """Offline a model loads at once: a bad one raises here, to the caller."""
        if isinstance(request, LoadModel):
            self.worker.swap(load_runtime(request.bundle_dir, self._config))
            self.worker.drain()
        elif isinstance(request, Activate):
            self.worker.take_over(request)
        elif not isinstance(request, StopWorker):
            self.worker.accept(request)

    @property
    def alive(self) -> bool:
        return self._worker is not None

    def stop(self) -> None:
        self._worker = None
