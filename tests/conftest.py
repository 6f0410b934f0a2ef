import os
import sys
import time
from pathlib import Path

import pytest

# keep torch and BLAS to one thread per process in tests, as on the real-time path
os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).parent))  # test helpers such as bundle_factory

# what the tests start and must stop again: JACK servers, `rtsynth serve`, render workers
OUR_PROCESSES = ("rtsynth-test-", "rtsynth serve", "rtsynth.engine.process")
_SESSION_START = time.time()


def _started_by_this_session() -> list[str]:
    """Our kind of process, started since this session began, still running."""
    ticks, boot = os.sysconf("SC_CLK_TCK"), time.time() - float(Path("/proc/uptime").read_text().split()[0])
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            started = boot + int((entry / "stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        except (OSError, IndexError, ValueError):
            continue
        if started >= _SESSION_START - 1 and any(mark in command for mark in OUR_PROCESSES):
            found.append(f"{entry.name}: {command.strip()[:120]}")
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """As supriya's CI does: no server the tests started may outlive them."""
    deadline = time.monotonic() + 10  # a server stopping in the background gets a moment
    while (left := _started_by_this_session()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        print("\nprocesses the tests left running:\n  " + "\n  ".join(left), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
