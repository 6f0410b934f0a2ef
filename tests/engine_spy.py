"""The real engine for control-layer tests, with every accepted event recorded.

Test modules import the `real_engine` and `engine` fixtures from here.

`EngineSpy` is not a mock: it forwards to a real Engine (offline, no audio device) that
validates and applies each event; it only remembers what was submitted, so a test can
check that an OSC or MIDI message became the right event.
"""

from __future__ import annotations

import queue

import pytest
from bundle_factory import make_bundle

from rtsynth.engine.engine import Engine
from rtsynth.engine.events import Event


class EngineSpy:
    def __init__(self, engine):
        self.engine = engine
        self.submitted: queue.Queue[tuple[Event, float | None]] = queue.Queue()

    def submit(self, event: Event, arrival: float | None = None) -> None:
        self.engine.submit(event, arrival)  # a refused event raises here and is not recorded
        self.submitted.put((event, arrival))

    def next_event(self, timeout: float = 10.0) -> tuple[Event, float | None]:
        """The next submitted event; a generous timeout, since the machine may be loaded."""
        return self.submitted.get(timeout=timeout)

    def drain(self) -> list[Event]:
        out = []
        while True:
            try:
                out.append(self.submitted.get_nowait()[0])
            except queue.Empty:
                return out

    def __getattr__(self, name: str):
        return getattr(self.engine, name)


@pytest.fixture(scope="module")
def real_engine(tmp_path_factory):
    """One offline engine (no audio device, no worker thread) per test module: building one
    warms up its model, so sharing it keeps the suite fast; each test gets its own spy."""
    bundle = make_bundle(tmp_path_factory.mktemp("engine") / "test")
    engine = Engine(bundle, realtime=False).start()
    yield engine
    engine.stop()


@pytest.fixture
def engine(real_engine):
    return EngineSpy(real_engine)
