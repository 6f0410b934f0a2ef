"""Presets as points of timbre space: where each saved preset sits, and presets made from a
timbre latent (a recording's, encoded by the bundle's encoder).

A preset file is what the engine saves (`Controller.preset`); this module only reads the
channel-0 timbre point of each and writes new ones in the same format, so /preset/load plays
them like any other.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtsynth.engine.channels import ChannelState
from rtsynth.engine.latent import LatentSpace

log = logging.getLogger(__name__)

PRESET_FORMAT, PRESET_VERSION = "rtsynth-preset", 1


@dataclass(frozen=True)
class PresetPoint:
    name: str
    timbre_z: np.ndarray  # [8]: the timbre latent channel 0 plays


def preset_points(folder: Path, space: LatentSpace) -> list[PresetPoint]:
    """Every readable preset in `folder` for this model; unreadable ones are logged and left out."""
    points = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            data = json.loads(path.read_text())
            state = ChannelState.from_json(data["channels"]["0"], space)
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("preset %s left off the map: %s", path.name, err)
            continue
        points.append(PresetPoint(path.stem, state.timbre_z(space)))
    return points


def timbre_preset(z: np.ndarray, space: LatentSpace, morph_time_ms: float) -> dict[str, object]:
    """A preset that plays timbre latent `z` [8]: the nearest class mean plus the offset to `z`."""
    z = np.asarray(z, dtype=np.float64)
    nearest = int(np.argmin(np.linalg.norm(space.timbre_means - z, axis=1)))
    name = space.timbres[nearest]
    offset = z - space.timbre_means[nearest]
    channel = {"cluster": name, "corners": [name] * 4, "x": None, "y": None, "offsets": {"timbre": offset.tolist()}}
    return {
        "format": PRESET_FORMAT,
        "version": PRESET_VERSION,
        "morph_time_ms": morph_time_ms,
        "timbres": list(space.timbres),
        "channels": {"0": channel},
    }


def write_preset(path: Path, data: dict[str, object]) -> Path:
    """Atomically write a preset file (a crash never leaves half a preset)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
    return path
