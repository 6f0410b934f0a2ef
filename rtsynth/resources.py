"""Files that ship inside the package: the default bundle and the named configs.

Found through `importlib.resources`, so an installed wheel plays and trains without the
source tree. A config is given as a path or by name (`md-gmvae-c-r`, `train/tiny`, `serve`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from rtsynth.errors import RtsynthError


class ResourceError(RtsynthError, FileNotFoundError):
    """A packaged file that is not there; the message names it."""


def _packaged(*parts: str) -> Path:
    return Path(str(files("rtsynth").joinpath(*parts)))


def default_bundle() -> Path:
    """The shipped model's bundle folder."""
    return _packaged("bundles", "default")


def configs_dir() -> Path:
    """The folder of named configs (TOML), with train/ below it."""
    return _packaged("configs")


def config_names(kind: str = "") -> list[str]:
    """Names of the packaged configs of one kind ("" for the top level, "train")."""
    return sorted(p.stem for p in (configs_dir() / kind).glob("*.toml"))


def config_file(spec: str | Path, kind: str = "") -> Path:
    """`spec` if it is a file, else the packaged config of that name (in `kind`'s folder first)."""
    path = Path(spec)
    if path.is_file():
        return path
    name = path.name if path.suffix == ".toml" else path.name + ".toml"
    for folder in (configs_dir() / kind, configs_dir() / path.parent, configs_dir()):
        if (folder / name).is_file():
            return folder / name
    known = ", ".join(config_names(kind)) or "none"
    raise ResourceError(f"no config file {str(spec)!r} and no packaged config of that name (packaged: {known})")
