"""From musical requests to latent vectors, using a bundle's class means.

A note's z is the concatenation (T, P, V, D) of
- z_T: a weighted sum of timbre cluster means (one cluster, a 2-way or a 4-way morph),
- z_P: the mean of the note's pitch class, or of the nearest class with the remaining
  semitones left to the resampler,
- z_V: interpolated between dynamics means by velocity,
- z_D: the duration class nearest to the duration asked for (none: the longest),
plus the channel's latent offsets. The timbre weights and the offsets form one "control
vector" that the engine smooths over time; z and the note's peak level are both linear in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rtsynth.bundle import BundleSpec
from rtsynth.dsp.air import AIR_SILENT_DB, density_from_db
from rtsynth.labels import DESCRIPTORS, MIDI_MAX, LatentLayout

MAX_LEVEL_EXTRAPOLATION_DB = 24.0  # velocities beyond the table: at most this far past its ends
MIN_VELOCITY = 1 / 127  # the softest velocity a level is computed for (log velocity below it is unbounded)


@dataclass(frozen=True)
class NotePitch:
    z: np.ndarray  # z_P [4]
    transpose: float  # semitones the resampler adds (note - the class's decoded pitch)


class LatentSpace:
    """The bundle's latent geometry: class means and the loudness table as arrays."""

    def __init__(self, spec: BundleSpec):
        vocab = spec.vocab
        self.layout = spec.layout
        self.slices = spec.layout.slices()
        self.timbres: tuple[str, ...] = vocab.timbre
        self.pitches = np.asarray(vocab.pitch, dtype=np.int64)
        self.durations = np.asarray(vocab.duration, dtype=np.float64)
        self.note_seconds = spec.mel.note_seconds  # the decoded window: a note asked longer outlasts it
        self.timbre_means = spec.means("timbre")
        self.pitch_means = spec.means("pitch")
        self.duration_means = spec.means("duration")
        dynamics = [d for d in vocab.dynamics]
        missing = [d for d in dynamics if d not in spec.velocity_to_dynamics]
        if missing:
            raise ValueError(f"bundle velocity_to_dynamics lacks dynamics {missing}")
        order = sorted(range(len(dynamics)), key=lambda i: spec.velocity_to_dynamics[dynamics[i]])
        self.dynamics = tuple(dynamics[i] for i in order)
        self.dynamics_velocity = np.asarray([spec.velocity_to_dynamics[d] for d in self.dynamics], float) / MIDI_MAX
        self.dynamics_means = spec.means("dynamics")[order]
        self.loudness = self._loudness_table(spec)  # [n_timbres, n_dynamics] dB, dynamics sorted
        n_pitches = len(self.pitches)
        self.key_level = self._by_dynamics(spec.key_level_db, (n_pitches,))  # [timbres, dynamics, pitches] dB
        self.level_lengths = np.asarray(spec.level_lengths, dtype=np.float64)  # s, the rows of:
        # [timbres, dynamics, lengths, pitches] dB
        self.duration_level = self._by_dynamics(spec.duration_level_db, (len(self.level_lengths), n_pitches))
        # [timbres, dynamics, lengths, pitches] s by which a fitted note sounds longer than asked
        self.length_error = self._by_dynamics(spec.length_error_s, (len(self.level_lengths), n_pitches))
        self.air_bands_hz = tuple(float(f) for f in spec.air_bands_hz)
        # [timbres, dynamics, pitches, air bands] linear density per kHz (rtsynth.dsp.air)
        air_db = self._by_dynamics(spec.air_db, (n_pitches, len(self.air_bands_hz)), AIR_SILENT_DB)
        self.air = density_from_db(air_db) if spec.air_db else None
        self.colour_bands_hz = tuple(float(f) for f in spec.colour_bands_hz)
        # [timbres, dynamics, pitches, colour bands] dB (rtsynth.dsp.colour); None: not calibrated
        colour = self._by_dynamics(spec.colour_db, (n_pitches, len(self.colour_bands_hz)))
        self.colour = colour if spec.colour_db else None
        # [n_timbres, n_pitches] semitones each class mean decodes off its label; NaN: not
        # measured (no table at all: every class taken at its label)
        self.tuning = np.full((len(self.timbres), len(self.pitches)), np.nan if spec.tuning_cents else 0.0)
        for timbre, cents in spec.tuning_cents.items():
            self.tuning[self.timbres.index(timbre)] = np.asarray(cents, dtype=np.float64) / 100.0

    def _loudness_table(self, spec: BundleSpec) -> np.ndarray:
        table = np.zeros((len(self.timbres), len(self.dynamics)))
        for i, timbre in enumerate(self.timbres):
            row = spec.loudness_db.get(timbre)
            if row is None or any(d not in row for d in self.dynamics):
                raise ValueError(f"bundle loudness table lacks {timbre!r} x {list(self.dynamics)}")
            table[i] = [row[d] for d in self.dynamics]
        return table

    def _by_dynamics(
        self, by_timbre: Mapping[str, Mapping[str, Any]], shape: tuple[int, ...], missing: float = 0.0
    ) -> np.ndarray:
        """A calibration table timbre -> dynamics -> values as [n_timbres, n_dynamics, *shape],
        dynamics sorted (`missing` where the bundle has no entry)."""
        table = np.full((len(self.timbres), len(self.dynamics), *shape), missing)
        for i, timbre in enumerate(self.timbres):
            row = by_timbre.get(timbre, {})
            for j, dyn in enumerate(self.dynamics):
                if dyn in row:
                    table[i, j] = row[dyn]
        return table

    @property
    def n_timbres(self) -> int:
        return len(self.timbres)

    @property
    def control_size(self) -> int:
        """Length of the control vector: timbre weights, then a latent offset of the layout's size."""
        return self.n_timbres + self.layout.size

    def timbre_index(self, ref: str | int) -> int:
        """A cluster by name or index; ValueError naming the choices otherwise."""
        if isinstance(ref, str):
            if ref in self.timbres:
                return self.timbres.index(ref)
            raise ValueError(f"unknown timbre {ref!r}; this model has {list(self.timbres)}")
        if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool) and 0 <= ref < self.n_timbres:
            return int(ref)
        raise ValueError(
            f"timbre index {ref!r} out of range: this model has {self.n_timbres} timbres (0-{self.n_timbres - 1})"
        )

    def pitch(self, note: int, control: np.ndarray | None = None) -> NotePitch:
        """The pitch class to decode for `note`, and the semitones left to the resampler.

        Like a multisampled instrument: the class whose decoded pitch (its label plus the
        measured error at the control's timbre weights; a morph blends its timbres' errors)
        lies nearest the note, resampled by the rest. With no errors measured this is the
        nearest trained pitch; a model whose classes decode a few semitones off still plays
        every key from a class that sounds close to it.
        """
        usable: np.ndarray | bool
        if control is None or not self.tuning.any():  # no errors: every class at its label, whatever the timbres
            decoded, usable = self.pitches.astype(np.float64), True
        else:
            decoded, usable = self._decoded_pitches(np.clip(control[: self.n_timbres], 0.0, None))
        nearest = int(np.argmin(np.where(usable, np.abs(decoded - note), np.inf)))
        return NotePitch(self.pitch_means[nearest], float(note - decoded[nearest]))

    def _decoded_pitches(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each class's expected pitch at these timbre weights, and whether it was measured
        for at least half of their weight (a class no timbre here was measured on is unknown)."""
        known = ~np.isnan(self.tuning)
        mass = weights @ known
        error = (weights @ np.where(known, self.tuning, 0.0)) / np.maximum(mass, 1e-12)
        usable = mass >= 0.5 * weights.sum() - 1e-9
        if not usable.any():
            return self.pitches.astype(np.float64), np.ones(len(self.pitches), dtype=bool)
        return self.pitches + error, usable

    def velocity_weights(self, velocity: float) -> tuple[int, int, float]:
        """Neighbouring dynamics classes and the blend between them (clamped at the ends)."""
        v = self.dynamics_velocity
        if velocity <= v[0] or len(v) == 1:
            return 0, 0, 0.0
        if velocity >= v[-1]:
            return len(v) - 1, len(v) - 1, 0.0
        hi = int(np.searchsorted(v, velocity, side="right"))
        return hi - 1, hi, float((velocity - v[hi - 1]) / (v[hi] - v[hi - 1]))

    def dynamics_z(self, velocity: float) -> np.ndarray:
        lo, hi, t = self.velocity_weights(velocity)
        z: np.ndarray = (1 - t) * self.dynamics_means[lo] + t * self.dynamics_means[hi]
        return z

    def level_db(self, velocity: float, note: int | None = None, duration: float | None = None) -> np.ndarray:
        """Peak dB per timbre at this velocity [n_timbres] (and key and length, where the bundle
        is calibrated: the pitch class nearest the key, the per-length rows interpolated at the
        length, a held note with no length asked the longest); extrapolated a little past the table.

        Between and beyond the table's velocities the level is linear in log velocity: General
        MIDI's curve (level 40·log10(v/127) dB), which the reference renderer follows, is a line
        there, so three dynamics place every velocity from 1 to 127.
        """
        table = self.loudness
        if note is not None:
            key = self.key_index(note)
            table = table + self.key_level[:, :, key]
            if len(self.level_lengths):
                lo, hi, t = self._length_rows(self.level_lengths[-1] if duration is None else duration)
                by_length = self.duration_level[:, :, :, key]  # [n_timbres, n_dynamics, n_lengths]
                table = table + (1 - t) * by_length[:, :, lo] + t * by_length[:, :, hi]
        if len(self.dynamics_velocity) == 1:
            return table[:, 0].copy()
        v = np.log(self.dynamics_velocity)
        x = float(np.log(max(velocity, MIN_VELOCITY)))
        hi = int(np.clip(np.searchsorted(v, x), 1, len(v) - 1))
        t = (x - v[hi - 1]) / (v[hi] - v[hi - 1])
        level: np.ndarray = (1 - t) * table[:, hi - 1] + t * table[:, hi]
        if x < v[0] or x > v[-1]:  # the end segment's line, at most MAX_LEVEL_EXTRAPOLATION_DB past the end
            end = table[:, 0] if x < v[0] else table[:, -1]
            level = end + np.clip(level - end, -MAX_LEVEL_EXTRAPOLATION_DB, MAX_LEVEL_EXTRAPOLATION_DB)
        return level

    def _length_rows(self, seconds: float) -> tuple[int, int, float]:
        """The per-length rows around a length and the blend between them (held beyond them)."""
        at = float(np.interp(seconds, self.level_lengths, np.arange(len(self.level_lengths))))
        lo = int(at)
        return lo, min(lo + 1, len(self.level_lengths) - 1), at - lo

    def length_error_s(self, velocity: float, note: int, duration: float, weights: np.ndarray) -> float:
        """How much longer than `duration` a note fitted to it sounds at this key, for timbre
        weights [n_timbres] (a blend: their weighted mean), between the dynamics as the air is and
        between the calibrated lengths as the levels are; 0 where the bundle is not calibrated."""
        if not len(self.level_lengths):
            return 0.0
        lo, hi, t = self.velocity_weights(velocity)
        a, b, u = self._length_rows(duration)
        errors = self.length_error[:, :, :, self.key_index(note)]  # [n_timbres, n_dynamics, n_lengths]
        at = (1 - u) * errors[:, :, a] + u * errors[:, :, b]  # [n_timbres, n_dynamics]
        share = np.clip(weights, 0.0, None)
        return float(share @ ((1 - t) * at[:, lo] + t * at[:, hi]) / max(float(share.sum()), 1e-12))

    def key_index(self, note: int) -> int:
        """The pitch class a key's calibration entries are read from: the nearest one."""
        return int(np.argmin(np.abs(self.pitches - note)))

    def air_density(self, velocity: float, note: int) -> np.ndarray | None:
        """Air density per timbre at this velocity and key [n_timbres, air bands] (linear in
        velocity between the dynamics, held beyond them); None when the bundle has none."""
        return None if self.air is None else self._at_key(self.air, velocity, note)

    def colour_db(self, velocity: float, note: int) -> np.ndarray | None:
        """Colour per timbre at this velocity and key [n_timbres, colour bands] dB, between the
        dynamics as the air is; None when the bundle has none."""
        return None if self.colour is None else self._at_key(self.colour, velocity, note)

    def _at_key(self, table: np.ndarray, velocity: float, note: int) -> np.ndarray:
        """[n_timbres, ...] of a [timbres, dynamics, pitches, ...] table at a key, linear in
        velocity between the dynamics and held beyond them."""
        key = self.key_index(note)
        lo, hi, t = self.velocity_weights(velocity)
        out: np.ndarray = (1 - t) * table[:, lo, key] + t * table[:, hi, key]
        return out

    def duration_index(self, seconds: float | None) -> int:
        """The duration class a note of `seconds` plays (none given: the longest)."""
        return len(self.durations) - 1 if seconds is None else int(np.argmin(np.abs(self.durations - seconds)))

    def duration_z(self, seconds: float | None) -> np.ndarray:
        z: np.ndarray = self.duration_means[self.duration_index(seconds)]
        return z

    def note_base(
        self, note: int, velocity: float, duration: float | None, control: np.ndarray | None = None
    ) -> tuple[np.ndarray, float]:
        """z with zero timbre part, and the transposition left to the resampler."""
        pitch = self.pitch(note, control)
        z = np.zeros(self.layout.size, dtype=np.float32)
        z[self.slices["pitch"]] = pitch.z
        z[self.slices["dynamics"]] = self.dynamics_z(velocity)  # empty without a dynamics latent
        z[self.slices["duration"]] = self.duration_z(duration)
        return z, pitch.transpose

    def apply_control(self, base: np.ndarray, control: np.ndarray) -> np.ndarray:
        """base z [..., size] + control vectors [..., n_timbres + size] -> z [..., size]."""
        weights, offsets = control[..., : self.n_timbres], control[..., self.n_timbres :]
        z = base + offsets
        z[..., self.slices["timbre"]] += weights @ self.timbre_means
        out: np.ndarray = z.astype(np.float32)
        return out

    def control_level(self, level_per_timbre: np.ndarray, control: np.ndarray) -> np.ndarray:
        """Peak dB for control vectors [..., n_timbres + size]: the timbre-weighted level."""
        level: np.ndarray = control[..., : self.n_timbres] @ level_per_timbre
        return level


@dataclass(frozen=True)
class TimbrePoint:
    """Where a channel sits in timbre space: one cluster, or a morph between corner clusters.

    x None: the cluster itself; y None: a-b by x; both set: bilinear over a b / c d.
    """

    cluster: int = 0
    corners: tuple[int, ...] = (0, 1, 2, 3)  # four: a, b, c, d
    x: float | None = None
    y: float | None = None

    def weights(self, n_timbres: int) -> np.ndarray:
        w = np.zeros(n_timbres)
        if self.x is None:
            w[self.cluster] = 1.0
            return w
        a, b, c, d = self.corners
        x = float(np.clip(self.x, 0.0, 1.0))
        if self.y is None:
            w[a] += 1 - x
            w[b] += x
            return w
        y = float(np.clip(self.y, 0.0, 1.0))
        for corner, share in ((a, (1 - x) * (1 - y)), (b, x * (1 - y)), (c, (1 - x) * y), (d, x * y)):
            w[corner] += share
        return w

    @staticmethod
    def default(n_timbres: int) -> TimbrePoint:
        return TimbrePoint(0, tuple(i % n_timbres for i in range(4)))


def offsets_vector(offsets: dict[str, np.ndarray], layout: LatentLayout) -> np.ndarray:
    z = np.zeros(layout.size)
    slices = layout.slices()
    for name in DESCRIPTORS:
        z[slices[name]] = offsets.get(name, np.zeros(layout.dim(name)))
    return z
