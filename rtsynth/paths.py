"""Safe resolution of user-given names (presets, bundles) inside our own folders.

Names arrive from the network (OSC) and must never reach outside their folder: no path
separators, no '..', no absolute or drive paths, no hidden files. A symlink the user put
inside the folder is followed; that is the user's own choice, not the network's.
"""

from __future__ import annotations

from pathlib import Path

from rtsynth.errors import RtsynthError

MAX_NAME_LENGTH = 128
_FORBIDDEN = set('/\\:*?"<>|')


class UnsafeNameError(RtsynthError, ValueError):
    """A name that is not a plain file name inside its folder."""


def check_name(name: object) -> str:
    """Return `name` if it is a plain, safe file name; raise UnsafeNameError saying why not."""
    if not isinstance(name, str):
        raise UnsafeNameError(f"a name must be a string, got {type(name).__name__}")
    if not name or not name.strip():
        raise UnsafeNameError("empty name")
    if len(name) > MAX_NAME_LENGTH:
        raise UnsafeNameError(f"name longer than {MAX_NAME_LENGTH} characters")
    if name.startswith("."):
        raise UnsafeNameError(f"name {name!r} starts with '.' (no '..' or hidden files)")
    if name != name.strip():
        raise UnsafeNameError(f"name {name!r} has leading or trailing spaces")
    bad = sorted({c for c in name if c in _FORBIDDEN or not c.isprintable()})
    if bad:
        raise UnsafeNameError(f"name {name!r} contains {''.join(bad)!r}: names only, no paths")
    return name


def resolve_name(folder: str | Path, name: object, suffix: str = "") -> Path:
    """The path of `name` (+ `suffix` unless already there) directly inside `folder`."""
    name = check_name(name)
    if suffix and not name.endswith(suffix):
        name += suffix
    path = Path(folder) / name
    if path.parent != Path(folder):  # belt and braces: check_name already rules this out
        raise UnsafeNameError(f"name {name!r} leaves its folder")
    return path
