"""What the browser page is sent besides command replies: the timbre map and the meters."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from rtsynth.control.commands import CommandLayer
from rtsynth.presets import preset_points
from rtsynth.timbremap import bundle_map

if TYPE_CHECKING:
    from rtsynth.engine.engine import Engine

LATENCY_EDGES_MS = (0, 2, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200)


def map_view(engine: Engine, commands: CommandLayer) -> dict[str, Any]:
    """Cluster centroids and presets as labelled points with their timbre latents, the
    training-note cloud when the bundle has one, and the bundles and presets to pick from."""
    spec, space = engine.spec, engine.controller.space
    tmap = bundle_map(spec)
    points: list[dict[str, Any]] = [
        {"name": name, "kind": "cluster", "index": i, "z": z}
        for i, (name, z) in enumerate(zip(space.timbres, space.timbre_means.astype(float), strict=True))
    ]
    points += [{"name": p.name, "kind": "preset", "z": p.timbre_z} for p in preset_points(commands.presets_dir, space)]
    for point in points:
        point["xy"] = tmap.project(point["z"]).round(4).tolist()
        point["z"] = np.asarray(point["z"]).round(5).tolist()
    return {
        "model": spec.name,
        "fitted_on": tmap.fitted_on,
        "projection": {"mean": tmap.mean.round(6).tolist(), "axes": tmap.axes.round(6).tolist()},
        "cloud": tmap.notes.round(3).tolist(),
        "points": points,
        "bundles": commands.names(dirs=True),
        "presets": commands.names(dirs=False),
        "has_encoder": bool(spec.encoder),
    }


def meters(engine: Engine) -> dict[str, Any]:
    """The engine status plus a histogram of the recent event-to-sound latencies."""
    status = dict(engine.status())
    latencies = engine.mixer.latencies() * 1e3
    counts, _ = np.histogram(latencies, bins=[*LATENCY_EDGES_MS, math.inf])
    status["latency_edges_ms"] = list(LATENCY_EDGES_MS)
    status["latency_counts"] = counts.tolist()
    return status


def plain(value: object) -> object:
    """JSON-safe: NaN and inf become null (JSON has neither), numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
