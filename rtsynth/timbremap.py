"""The 2-D map of the timbre space the browser page draws: a linear projection of z_T.

A principal-component plane of the timbre latent, fitted at export on the training notes'
posterior means (and stored in the bundle with a sample of those notes as the map's cloud),
or, for bundles without one, fitted at load on the timbre class means. Being linear, it
places any timbre latent, a preset's or a recording's, on the same map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rtsynth.bundle import BundleError, BundleSpec
from rtsynth.labels import LATENT_DIMS

T_DIMS = LATENT_DIMS["timbre"]


@dataclass(frozen=True)
class TimbreMap:
    mean: np.ndarray  # [8]
    axes: np.ndarray  # [2, 8], orthonormal rows
    notes: np.ndarray  # [n, 3]: x, y, timbre class of training notes (empty: no cloud)
    fitted_on: str  # "training notes" or "class means"

    def project(self, z: np.ndarray) -> np.ndarray:
        """[..., 8] timbre latents -> [..., 2] map coordinates."""
        projected: np.ndarray = (np.asarray(z, dtype=np.float64) - self.mean) @ self.axes.T
        return projected

    def to_dict(self) -> dict[str, object]:
        return {
            "mean": self.mean.round(6).tolist(),
            "axes": self.axes.round(6).tolist(),
            "notes": self.notes.round(4).tolist(),
            "fitted_on": self.fitted_on,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> TimbreMap:
        try:
            mean, axes = np.asarray(data["mean"], float), np.asarray(data["axes"], float)
            notes = np.asarray(data.get("notes", []), float).reshape(-1, 3)
        except (KeyError, TypeError, ValueError) as err:
            raise BundleError(f"bundle timbre_map is malformed: {err!r}") from None
        if mean.shape != (T_DIMS,) or axes.shape != (2, T_DIMS):
            raise BundleError(f"bundle timbre_map needs mean [{T_DIMS}] and axes [2, {T_DIMS}]")
        if not (np.isfinite(mean).all() and np.isfinite(axes).all() and np.isfinite(notes).all()):
            raise BundleError("bundle timbre_map holds NaN or inf")
        return TimbreMap(mean, axes, notes, str(data.get("fitted_on", "training notes")))


def fit_map(z: np.ndarray, classes: np.ndarray | None = None, fitted_on: str = "training notes") -> TimbreMap:
    """The plane of the two largest principal components of z [n, 8]; `classes` keeps the notes."""
    z = np.asarray(z, dtype=np.float64)
    mean = z.mean(axis=0)
    _, _, vt = np.linalg.svd(z - mean, full_matrices=True)  # full: two axes even from two points
    axes = vt[:2] * np.where(vt[:2].sum(axis=1, keepdims=True) < 0, -1.0, 1.0)  # a sign stable run to run
    empty = np.zeros((0, 3))
    notes = empty if classes is None else np.column_stack([(z - mean) @ axes.T, classes])
    return TimbreMap(mean, axes, notes, fitted_on)


def bundle_map(spec: BundleSpec) -> TimbreMap:
    """The bundle's stored map, or one fitted on its timbre class means (without a cloud)."""
    if spec.timbre_map:
        return TimbreMap.from_dict(spec.timbre_map)
    return fit_map(spec.means("timbre"), fitted_on="class means")
