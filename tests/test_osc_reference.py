"""docs/osc.md is generated from the dispatcher's table; it must match what the code says now."""

import subprocess
import sys
from pathlib import Path

from rtsynth.control.addresses import DISPATCHER
from rtsynth.control.reference import render_reference

COMMITTED = Path(__file__).parents[1] / "docs" / "osc.md"
REGENERATE = "python -m rtsynth.control.reference > docs/osc.md"


def test_committed_reference_is_up_to_date():
    assert COMMITTED.read_text() == render_reference(), f"docs/osc.md is stale: run `{REGENERATE}`"


def test_the_module_prints_the_same_reference():
    printed = subprocess.run(
        [sys.executable, "-m", "rtsynth.control.reference"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == render_reference()


def test_every_address_and_argument_has_a_row():
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in render_reference().splitlines()
        if line.startswith("| `/")
    }
    assert set(rows) == {a.path for a in DISPATCHER.addresses}
    for address in DISPATCHER.addresses:
        assert address.doc in rows[address.path].replace("\\|", "|")
        for arg in address.args:
            assert f"`{arg.name}` {arg.kind.tags}".replace("|", "\\|") in rows[address.path]
