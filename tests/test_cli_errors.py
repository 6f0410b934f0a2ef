"""User errors at the command line: one line naming the problem, a nonzero exit, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "args, named",
    [
        (["train", "--config", "no-such-config", "--out", "runs/x"], "no config file 'no-such-config'"),
        (["render", "--bundle", "/nonexistent/bundle", "--note", "60"], "no bundle at /nonexistent/bundle"),
        (["serve", "--config", "no-such-serve.toml"], "no config file 'no-such-serve.toml'"),
        (["eval", "/nonexistent/run"], "/nonexistent/run"),
        (["render", "--note", "60", "--velocity", "0"], "--velocity"),
    ],
)
def test_a_user_error_is_one_line_and_a_nonzero_exit(tmp_path, args, named):
    result = subprocess.run(
        [sys.executable, "-m", "rtsynth", *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert len([line for line in lines if line.startswith("ERROR")]) == 1 and named in result.stderr, result.stderr
