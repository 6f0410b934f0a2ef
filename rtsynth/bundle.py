"""The model bundle: the contract between `export` (torch side) and the runtime.

A bundle is a directory with `decoder.onnx` (z [batch, layout size] -> mel [batch, n_mels,
n_frames] in [0, 1]; the layout says which latents the model has, T8 P4 V4 D4 for paper
000's), an optional `vocoder.onnx`, and `bundle.json` (this module's `BundleSpec`).
The runtime validates everything at load and refuses a bundle that does not match, with an
error that says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from rtsynth.dsp.air import AIR_RANGE_DB
from rtsynth.dsp.colour import COLOUR_RANGE_DB
from rtsynth.errors import RtsynthError
from rtsynth.labels import DESCRIPTORS, MIDI_MAX, STANDARD_LAYOUT, LatentLayout, Vocabulary
from rtsynth.settings import MelSettings
from rtsynth.synthesis import SynthesisError, parse_synthesis

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "rtsynth-bundle"
BUNDLE_VERSION = 1
MAX_TUNING_CENTS = 1200.0  # a class measured more than an octave off is a failed measurement
LOUDNESS_DB_RANGE = (-150.0, 150.0)  # peak dB of a note's mel power (shipped: 4-32): far outside is broken
KEY_LEVEL_LIMIT_DB = 60.0  # a per-key correction larger than this is a broken calibration, not an instrument
KEY_LEVEL_RANGE_DB = (-KEY_LEVEL_LIMIT_DB, KEY_LEVEL_LIMIT_DB)
LENGTH_ERROR_LIMIT_S = 0.25  # a fitted note this far off the length asked is a broken calibration
MEL_FIELDS_POSITIVE = ("sample_rate", "note_seconds", "n_fft", "hop_length", "n_mels", "db_range")
DECODER_FILE = "decoder.onnx"
SPEC_FILE = "bundle.json"


class BundleError(RtsynthError, ValueError):
    """A bundle that cannot be used; the message names the problem."""


class BundleFileError(BundleError):
    pass


class BundleChecksumError(BundleError):
    pass


class BundleVersionError(BundleError):
    pass


class BundleShapeError(BundleError):
    pass


@dataclass(frozen=True)
class DescriptorSpec:
    """One descriptor's classes and its latent prior: a mean per class and a shared sigma."""

    classes: list[Any]  # as read from bundle.json: str, int or float by descriptor, checked by Vocabulary
    means: list[list[float]]  # [n_classes, dims]
    sigma: float = 1.0


@dataclass(frozen=True)
class BundleSpec:
    name: str
    mel: MelSettings
    descriptors: dict[str, DescriptorSpec]
    velocity_to_dynamics: dict[str, int]  # dynamics class -> the MIDI velocity it stands for
    loudness_db: dict[str, dict[str, float]]  # timbre -> dynamics -> mean peak dB of the mel
    corpus: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    vocoder: dict[str, Any] = field(default_factory=dict)  # {"kind": ...} and, if neural, {"file": ...}
    # timbre -> cents each pitch class plays off when decoded from the class means, measured by
    # the export (rtsynth.tuning); None: not measured (outside the timbre's range, or silent).
    # The engine plays each key from the class that decodes nearest it and resamples the rest
    # (LatentSpace.pitch). Empty: no measurement, every class taken at its label.
    tuning_cents: dict[str, list[float | None]] = field(default_factory=dict)
    # optional (older bundles have neither): the encoder as ONNX ({"file": ...}: mel -> posterior
    # means z), and the 2-D timbre map fitted at export (rtsynth.timbremap.TimbreMap.to_dict)
    encoder: dict[str, Any] = field(default_factory=dict)
    timbre_map: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    # the latents the decoder takes, in order; a descriptor without one keeps its classes (the
    # corpus has them) with 0-dim means, and the engine plays it without a latent
    layout: LatentLayout = STANDARD_LAYOUT
    synthesis: dict[str, Any] = field(default_factory=dict)  # how the decoder becomes sound (rtsynth.synthesis)
    # timbre -> dynamics -> dB added at each pitch class (class order), measured against the
    # reference renderer by `rtsynth calibrate`: the loudness table is one level per timbre and
    # dynamics, a real instrument's level also follows the key. Empty: not calibrated.
    key_level_db: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # timbre -> dynamics -> length -> dB added at each pitch class (class order), measured the
    # same way: a note's level is its peak, and a short note of a slow-attack instrument never
    # reaches the peak a long one does, the more so played softly. Empty: not calibrated. The
    # lengths (s, increasing) are `duration_level_s`; empty: the duration classes.
    duration_level_db: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    duration_level_s: list[float] = field(default_factory=list)
    # timbre -> dynamics -> length of `level_lengths` -> s at each pitch class (class order),
    # measured the same way: how much longer than asked a fitted note sounds (the decoder's
    # releases differ from timbre to timbre and register to register in ways its frame levels do
    # not show); the engine fits the note to that much less. Empty: not calibrated.
    length_error_s: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    # noise above the decoder's top band (rtsynth.dsp.air), measured the same way: the bands'
    # centres, and timbre -> dynamics -> per pitch class, each band's density in dB relative to
    # the note's power per kHz. Empty: none (a mel-trained decoder has nothing above 11 kHz).
    air_bands_hz: list[float] = field(default_factory=list)
    air_db: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    # the spectrum's shape below the air (rtsynth.dsp.colour), measured the same way: the bands'
    # centres, and timbre -> dynamics -> per pitch class, the dB each band's partials and noise
    # take. Empty: none.
    colour_bands_hz: list[float] = field(default_factory=list)
    colour_db: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    format: str = BUNDLE_FORMAT
    format_version: int = BUNDLE_VERSION

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary.from_dict({d: self.descriptors[d].classes for d in DESCRIPTORS})

    @property
    def level_lengths(self) -> list[float]:
        """The lengths (s) of the per-length level rows."""
        return [float(s) for s in self.duration_level_s or self.descriptors["duration"].classes]

    def means(self, descriptor: str) -> np.ndarray:
        return np.asarray(self.descriptors[descriptor].means, dtype=np.float32)

    def latent_layout(self) -> list[dict[str, str | int]]:
        return [{"descriptor": d, "dims": n} for d, n in self.layout.dims]

    def to_json(self) -> str:
        data = asdict(self)
        del data["layout"]
        data["mel"] = self.mel.to_dict()
        data["latent"] = {"size": self.layout.size, "layout": self.latent_layout()}
        return _NUMBER_LIST.sub(_one_line, json.dumps(data, indent=2))

    @classmethod
    def from_json(cls, text: str) -> BundleSpec:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise BundleError(f"bundle.json must be a JSON object, got {type(data).__name__}")
        if data.get("format") != BUNDLE_FORMAT:
            raise BundleVersionError(f"not an rtsynth bundle (format {data.get('format')!r})")
        if data.get("format_version") != BUNDLE_VERSION:
            raise BundleVersionError(
                f"bundle format version {data.get('format_version')} is not supported "
                f"(this rtsynth reads version {BUNDLE_VERSION}); re-export it"
            )
        data["layout"] = _read_layout(data.pop("latent", {}))
        try:
            data["mel"] = MelSettings.from_dict(data["mel"])
            data["descriptors"] = {d: DescriptorSpec(**data["descriptors"][d]) for d in DESCRIPTORS}
            return cls(**data)
        except (KeyError, TypeError, ValueError) as err:
            raise BundleError(f"bundle.json is incomplete or malformed: {err!r}") from None

    def check_shapes(self) -> None:
        """Every table the engine reads: shapes, types, finite values within their ranges."""
        self._check_settings()
        self._check_loudness()
        self._check_key_levels()
        self._check_duration_levels()
        self._check_length_errors()
        self._check_air()
        self._check_colour()
        for d in DESCRIPTORS:
            means = self.means(d)
            expected = (len(self.descriptors[d].classes), self.layout.dim(d))
            if means.shape != expected:
                raise BundleShapeError(f"{d} prior means have shape {means.shape}, expected {expected}")
            if not np.isfinite(means).all():
                raise BundleShapeError(f"{d} prior means contain NaN or inf")
            sigma = self.descriptors[d].sigma
            if not _number(sigma) or not sigma > 0:
                raise BundleShapeError(f"descriptors.{d}.sigma must be a positive number, got {sigma!r}")
        if self.encoder and self.encoder.get("file") not in self.files:
            raise BundleFileError(f"the encoder file {self.encoder.get('file')!r} is not among the bundle's files")
        try:
            parse_synthesis(self.synthesis)
        except SynthesisError as err:
            raise BundleShapeError(str(err)) from None
        n_pitches = len(self.descriptors["pitch"].classes)
        for timbre, cents in self.tuning_cents.items():
            if timbre not in self.descriptors["timbre"].classes or len(cents) != n_pitches:
                raise BundleShapeError(f"tuning_cents[{timbre!r}] must be {n_pitches} entries for a known timbre")
            numbers = [c for c in cents if c is not None]
            if not all(isinstance(c, (int, float)) and abs(c) <= MAX_TUNING_CENTS for c in numbers):
                raise BundleShapeError(
                    f"tuning_cents[{timbre!r}] must be numbers within "
                    f"+-{MAX_TUNING_CENTS:g} cents, or null where not measured"
                )

    def _check_settings(self) -> None:
        if not isinstance(self.name, str):
            raise BundleShapeError(f"name must be a string, got {self.name!r}")
        for key in MEL_FIELDS_POSITIVE:
            value = getattr(self.mel, key)
            if not _number(value) or not value > 0:
                raise BundleShapeError(f"mel.{key} must be a positive number, got {value!r}")
        dynamics = self.descriptors["dynamics"].classes
        for name in dynamics:
            velocity = self.velocity_to_dynamics.get(name) if isinstance(self.velocity_to_dynamics, dict) else None
            if isinstance(velocity, bool) or not isinstance(velocity, int) or not 1 <= velocity <= MIDI_MAX:
                raise BundleShapeError(
                    f"velocity_to_dynamics[{name!r}] must be a MIDI velocity 1-127, got {velocity!r}"
                )

    def _check_key_levels(self) -> None:
        """Per-key levels, when calibrated: every timbre and dynamics, one finite value per pitch class."""
        if not self.key_level_db:
            return
        if not isinstance(self.key_level_db, dict):
            raise BundleShapeError("key_level_db must be a table timbre -> dynamics -> dB per pitch class")
        for where, row in self._entries("key_level_db", self.key_level_db):
            _check_row(where, row, len(self.descriptors["pitch"].classes), "pitch class", KEY_LEVEL_RANGE_DB)

    def _check_duration_levels(self) -> None:
        """Per-length levels, when calibrated: increasing positive lengths, and for every timbre,
        dynamics and length one finite value per pitch class."""
        lengths = self.duration_level_s
        if not isinstance(lengths, list) or not all(_number(s) and s > 0 for s in lengths):
            raise BundleShapeError(f"duration_level_s must be a list of positive lengths (s), got {lengths!r}")
        if np.any(np.diff(lengths) <= 0):
            raise BundleShapeError(f"duration_level_s must be increasing, got {lengths!r}")
        if not self.duration_level_db:
            return
        if not isinstance(self.duration_level_db, dict):
            raise BundleShapeError(
                "duration_level_db must be a table timbre -> dynamics -> length -> dB per pitch class"
            )
        n_lengths, n_pitches = len(self.level_lengths), len(self.descriptors["pitch"].classes)
        what = "length of duration_level_s" if lengths else "duration class"
        for where, entry in self._entries("duration_level_db", self.duration_level_db):
            for k, row in enumerate(_rows(where, entry, n_lengths, what)):
                _check_row(f"{where}[{k}]", row, n_pitches, "pitch class", KEY_LEVEL_RANGE_DB)

    def _check_length_errors(self) -> None:
        """Length errors, when calibrated: for every timbre, dynamics and level length one finite
        value per pitch class, within LENGTH_ERROR_LIMIT_S."""
        if not self.length_error_s:
            return
        if not isinstance(self.length_error_s, dict):
            raise BundleShapeError("length_error_s must be a table timbre -> dynamics -> length -> s per pitch class")
        limits = (-LENGTH_ERROR_LIMIT_S, LENGTH_ERROR_LIMIT_S)
        n_pitches = len(self.descriptors["pitch"].classes)
        for where, entry in self._entries("length_error_s", self.length_error_s):
            if isinstance(entry, list) and entry and all(_number(v) for v in entry):
                raise BundleShapeError(
                    f"{where} holds one value per length, not one per pitch class: calibrated by an older "
                    "rtsynth; run `rtsynth calibrate` on the bundle again"
                )
            for k, row in enumerate(_rows(where, entry, len(self.level_lengths), "level length")):
                _check_row(f"{where}[{k}]", row, n_pitches, "pitch class", limits, unit="s")

    def _check_air(self) -> None:
        """Air bands, when calibrated: increasing finite centres, and for every timbre and
        dynamics a density in range per pitch class and band."""
        self._check_bands("air", self.air_bands_hz, self.air_db, AIR_RANGE_DB)

    def _check_colour(self) -> None:
        """Colour bands, when calibrated: as the air's, a correction in range per pitch class and band."""
        self._check_bands("colour", self.colour_bands_hz, self.colour_db, COLOUR_RANGE_DB)

    def _check_bands(self, name: str, bands: object, table: object, limits: tuple[float, float]) -> None:
        if not table and not bands:
            return
        if not isinstance(bands, list) or not bands or not all(_number(f) and f > 0 for f in bands):
            raise BundleShapeError(f"{name}_bands_hz must be a list of positive frequencies, got {bands!r}")
        if np.any(np.diff(bands) <= 0):
            raise BundleShapeError(f"{name}_bands_hz must be increasing, got {bands!r}")
        if not isinstance(table, dict):
            raise BundleShapeError(f"{name}_db must be a table timbre -> dynamics -> dB per pitch class and band")
        for where, entry in self._entries(f"{name}_db", table):
            for k, row in enumerate(_rows(where, entry, len(self.descriptors["pitch"].classes), "pitch class")):
                _check_row(f"{where}[{k}]", row, len(bands), f"{name} band", limits)

    def _entries(self, name: str, table: dict[str, Any]) -> Iterator[tuple[str, object]]:
        """Each timbre x dynamics entry of a calibration table, named for an error message."""
        for timbre in self.descriptors["timbre"].classes:
            by_dynamics = table.get(timbre)
            for dyn in self.descriptors["dynamics"].classes:
                yield f"{name}[{timbre!r}][{dyn!r}]", by_dynamics.get(dyn) if isinstance(by_dynamics, dict) else None

    def _check_loudness(self) -> None:
        """The level of every timbre at every dynamics: a NaN here would silence every later note."""
        low, high = LOUDNESS_DB_RANGE
        if not isinstance(self.loudness_db, dict):
            raise BundleShapeError(f"loudness_db must be a table timbre -> dynamics -> dB, got {self.loudness_db!r}")
        for timbre in self.descriptors["timbre"].classes:
            row = self.loudness_db.get(timbre)
            for dyn in self.descriptors["dynamics"].classes:
                value = row.get(dyn) if isinstance(row, dict) else None
                if not _number(value) or not low <= value <= high:
                    raise BundleShapeError(
                        f"loudness_db[{timbre!r}][{dyn!r}] must be a finite dB value within {low:g}..{high:g}, "
                        f"got {value!r}"
                    )


def _rows(where: str, rows: object, n: int, per: str) -> list[Any]:
    """`rows` if it is a list of n rows, else the error naming `where`."""
    if not isinstance(rows, list) or len(rows) != n:
        raise BundleShapeError(f"{where} must hold {n} rows, one per {per}")
    return rows


def _check_row(where: str, values: object, n: int, per: str, limits: tuple[float, float], unit: str = "dB") -> None:
    low, high = limits
    if not isinstance(values, list) or len(values) != n:
        raise BundleShapeError(f"{where} must be a list of {n} {unit} values (one per {per}), got {values!r}")
    wrong = [v for v in values if not _number(v) or not low <= v <= high]
    if wrong:
        raise BundleShapeError(
            f"{where} holds {wrong[0]!r}: each value must be a finite {unit} within {low:g}..{high:g}"
        )


_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9][-+0-9.eE]*(?:,\s*-?[0-9][-+0-9.eE]*)*)\s*\]")


def _one_line(match: re.Match[str]) -> str:
    """A list of numbers on one line: the calibration tables would be a number per line."""
    return "[" + ", ".join(v.strip() for v in match.group(1).split(",")) + "]"


def _number(value: object) -> TypeGuard[int | float]:
    """A finite int or float (not a bool, not NaN or inf)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _read_layout(latent: dict[str, Any]) -> LatentLayout:
    """bundle.json's latent layout; it must name timbre and pitch (what the engine plays from)."""
    try:
        layout = LatentLayout(tuple((entry["descriptor"], int(entry["dims"])) for entry in latent["layout"]))
    except (KeyError, TypeError, ValueError) as err:
        raise BundleShapeError(f"bundle latent layout {latent} is malformed: {err}") from None
    if latent.get("size") != layout.size or not (layout.has("timbre") and layout.has("pitch")):
        raise BundleShapeError(
            f"bundle latent layout {latent} must have timbre and pitch latents and their sum as size"
        )
    return layout


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_spec(bundle_dir: str | Path, spec: BundleSpec) -> Path:
    """Write bundle.json with the sha256 of every file already in the bundle directory."""
    bundle_dir = Path(bundle_dir)
    files = {p.name: sha256_file(p) for p in sorted(bundle_dir.iterdir()) if p.is_file() and p.name != SPEC_FILE}
    spec = BundleSpec(**{**spec.__dict__, "files": files})
    tmp = bundle_dir / f".{SPEC_FILE}.tmp"
    tmp.write_text(spec.to_json())
    os.replace(tmp, bundle_dir / SPEC_FILE)
    return bundle_dir / SPEC_FILE


def read_spec(bundle_dir: str | Path) -> BundleSpec:
    """Read and check bundle.json and the files it lists (presence and sha256)."""
    bundle_dir = Path(bundle_dir)
    spec_path = bundle_dir / SPEC_FILE
    if not bundle_dir.is_dir():
        raise BundleFileError(f"bundle directory not found: {bundle_dir}")
    if not spec_path.is_file():
        raise BundleFileError(f"{bundle_dir} has no {SPEC_FILE}; is it a bundle?")
    try:
        spec = BundleSpec.from_json(spec_path.read_text())
    except json.JSONDecodeError as err:
        raise BundleError(f"{spec_path} is not valid JSON: {err}") from None
    if DECODER_FILE not in spec.files:
        raise BundleFileError(f"{spec_path} lists no {DECODER_FILE}")
    for name, digest in spec.files.items():
        path = bundle_dir / name
        if Path(name).name != name:
            raise BundleFileError(f"bundle file name {name!r} must be a plain name inside the bundle")
        if not path.is_file():
            raise BundleFileError(f"bundle file missing: {path}")
        if sha256_file(path) != digest:
            raise BundleChecksumError(f"{path} is damaged: its sha256 does not match bundle.json")
    spec.check_shapes()
    return spec
