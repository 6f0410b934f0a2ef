"""Writing a bundle directory all at once: built in a hidden sibling, checked, then renamed into
place, so a failed or interrupted export never leaves a half-written bundle where one was."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rtsynth.bundle import SPEC_FILE, read_spec
from rtsynth.errors import RtsynthError


class BundleExistsError(RtsynthError, FileExistsError):
    """The output directory holds something that must not be replaced."""


@contextmanager
def staged_bundle(out: Path, force: bool) -> Iterator[Path]:
    """A fresh directory to build the bundle in; on success it is checked and becomes `out`
    (an old bundle there is replaced only with `force`)."""
    check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would make a shipped bundle unreadable to others
    try:
        yield staging
        read_spec(staging)
        _move_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_target(out: Path, force: bool) -> None:
    """Only an empty directory or, with force, an existing bundle may be replaced: --force
    must never wipe a directory that merely happens to be named."""
    if out.exists() and not out.is_dir():
        raise BundleExistsError(f"{out} exists and is not a directory; choose another --out")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / SPEC_FILE).is_file():
        raise BundleExistsError(
            f"{out} is a non-empty directory that is not a bundle (no {SPEC_FILE}); choose another --out"
        )
    if not force:
        raise BundleExistsError(f"{out} already exists; pass --force to replace it")


def copy_files(source: Path, staging: Path, skip: tuple[str, ...] = ()) -> None:
    """The bundle's files (not bundle.json, which the caller writes) into the staging directory."""
    for path in source.iterdir():
        if path.is_file() and path.name != SPEC_FILE and path.name not in skip:
            shutil.copy2(path, staging / path.name)


def _move_into_place(staging: Path, out: Path) -> None:
    """Rename the finished bundle to `out`; an old bundle there is moved aside first and
    restored if the rename fails."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    try:
        os.replace(staging, out)
    except OSError:
        if old is not None:
            os.replace(old / out.name, out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
