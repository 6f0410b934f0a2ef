"""Per-key level calibration: play every key a timbre covers at each dynamics through the offline
engine (what `rtsynth render` does) and through the reference renderer (FluidSynth, the GM-SOL
settings at the engine's rate), and store the level difference per timbre, dynamics and pitch
class in the bundle's `key_level_db`; and the same keys at every other duration class up to 2 s,
whose level differences from the 1 s ones go to `duration_level_db`.

Why: the decoder writes each note relative to its own peak and the loudness table gives one
level per timbre and dynamics, but a real instrument's level also follows the key (a flute's low
notes are soft, a tuba's high ones loud). The velocity curve follows the reference at the
dynamics' velocities, the spread across timbres follows it too. Measured levels are the sounding
part's RMS (rtsynth.dsp.fidelity.rms_db), the same measure the fidelity bench judges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rtsynth.bundle import KEY_LEVEL_LIMIT_DB, BundleSpec, read_spec, write_spec
from rtsynth.dsp.fidelity import rms_db
from rtsynth.engine.backends import OfflineRenderer
from rtsynth.engine.config import EngineConfig
from rtsynth.errors import RtsynthError
from rtsynth.export.staging import check_target, copy_files, staged_bundle
from rtsynth.labels import INSTRUMENT_BY_NAME
from rtsynth.render import NoteRequest, note_events

log = logging.getLogger(__name__)

SILENT_DB = -120.0  # a model note this quiet is broken, not soft: left for the bench to report, not amplified
LENGTHS_UP_TO_S = 2.0  # duration classes measured; longer ones keep the longest measured one's value


class CalibrationError(RtsynthError):
    """The bundle cannot be calibrated (no timbre the reference renderer knows)."""


@dataclass(frozen=True)
class CalibrationOptions:
    samplerate: int = 48000
    seconds: float = 1.0  # each note's sounding length, model and reference alike
    force: bool = False
    timbres: tuple[str, ...] = ()  # only these (the rest keep their table); empty: every one


@dataclass(frozen=True)
class Probe:
    """One note to measure."""

    timbre: str
    dynamics: str
    pitch_index: int
    seconds: float


@dataclass(frozen=True)
class KeyLevel:
    """One measured note: the model's and the reference's level (dB RMS of the sounding part)."""

    probe: Probe
    model_db: float
    reference_db: float

    @property
    def difference(self) -> float:
        return self.reference_db - self.model_db


def calibrate(source: str | Path, out: str | Path, options: CalibrationOptions = CalibrationOptions()) -> Path:
    """Write a copy of the bundle at `source` to `out` with `key_level_db` measured (added to
    any calibration it already had, so calibrating twice refines rather than starts over)."""
    source, out = Path(source), Path(out)
    spec = read_spec(source)
    check_target(out, options.force)
    levels = measure_levels(source, spec, options)
    keys = [m for m in levels if m.probe.seconds == options.seconds]
    table = key_level_table(spec, keys)
    lengths = duration_level_table(spec, levels, options.seconds)
    with staged_bundle(out, options.force) as staging:
        copy_files(source, staging)
        facts = {**spec.model, "key_levels": f"rtsynth calibrate, {len(levels)} notes at {options.samplerate} Hz"}
        write_spec(staging, replace(spec, key_level_db=table, duration_level_db=lengths, model=facts))
    errors = np.array([m.difference for m in keys])
    log.info(
        "calibrated %d keys: level error before %.1f dB median, %.1f dB at the 95th percentile",
        len(keys),
        np.median(np.abs(errors)),
        np.percentile(np.abs(errors), 95),
    )
    return out


def measure_levels(bundle: Path, spec: BundleSpec, options: CalibrationOptions) -> list[KeyLevel]:
    """Every key of every timbre the reference renderer knows, at each dynamics' velocity, at
    `options.seconds` and every other duration class up to LENGTHS_UP_TO_S (`probes`)."""
    from tqdm import tqdm

    from rtsynth.train.corpus.gm import RANGES, NoteSynth, load_gm_config, reference_note

    wanted = options.timbres or tuple(spec.descriptors["timbre"].classes)
    unknown = [t for t in wanted if t not in spec.descriptors["timbre"].classes]
    if unknown:
        raise CalibrationError(f"{bundle} has no timbre {unknown[0]!r}")
    timbres = [t for t in wanted if t in INSTRUMENT_BY_NAME and t in RANGES]
    if not timbres:
        raise CalibrationError(f"{bundle}: none of its timbres is a GM-SOL instrument the reference renderer plays")
    skipped = [t for t in wanted if t not in timbres]
    if skipped:
        log.warning("not calibrated (no reference instrument): %s", ", ".join(map(str, skipped)))
    renderer = OfflineRenderer(bundle, EngineConfig(samplerate=options.samplerate))
    reference = NoteSynth(replace(load_gm_config(), sample_rate=options.samplerate))
    pitches = [int(p) for p in spec.descriptors["pitch"].classes]
    covered = {t: [i for i, p in enumerate(pitches) if RANGES[t].lowest <= p <= RANGES[t].highest] for t in timbres}
    out = []
    for probe in tqdm(probes(spec, covered, options.seconds), desc="calibrate", unit="note"):
        velocity, pitch = spec.velocity_to_dynamics[probe.dynamics], pitches[probe.pitch_index]
        ref = reference.sounding(reference_note(probe.timbre, pitch, probe.dynamics, velocity, probe.seconds))
        if ref is None:
            continue  # the SoundFont has no sample there
        model = renderer.render(note_events(NoteRequest(pitch, velocity, probe.seconds, probe.timbre)))
        out.append(KeyLevel(probe, rms_db(model, options.samplerate), rms_db(ref, options.samplerate)))
    return out


def probes(spec: BundleSpec, covered: dict[str, list[int]], seconds: float) -> list[Probe]:
    """Every key of each timbre at each dynamics, at `seconds` (the key levels) and at every
    other duration class up to LENGTHS_UP_TO_S (the per-length levels). Every key, because the model's
    level along the keyboard is not smooth at every length (interpolating from every third key
    left a fifth of the keys between them 2 dB off at 0.5 s); every dynamics, because how far a
    short note falls short of a long one's level depends on how softly it is played."""
    others = [float(d) for d in spec.vocab.duration if float(d) <= LENGTHS_UP_TO_S and float(d) != seconds]
    return [
        Probe(timbre, dyn, i, d)
        for timbre, indices in covered.items()
        for dyn in spec.velocity_to_dynamics
        for i in indices
        for d in (seconds, *others)
    ]


def duration_level_table(
    spec: BundleSpec, levels: list[KeyLevel], seconds: float
) -> dict[str, dict[str, list[list[float]]]]:
    """The bundle's table plus, per timbre, dynamics, duration class and key, how much more the
    reference's level differs from the model's there than at `seconds` (0 there); interpolated
    between the measured keys and lengths, held beyond them."""
    durations = np.asarray(spec.vocab.duration, dtype=np.float64)
    n = len(spec.descriptors["pitch"].classes)
    at_base = {replace(m.probe, seconds=0.0): m.difference for m in levels if m.probe.seconds == seconds}
    found: dict[tuple[str, str], dict[float, dict[int, float]]] = {}
    for m in levels:
        key = replace(m.probe, seconds=0.0)  # the same key at the key levels' length
        if m.probe.seconds != seconds and key in at_base and m.model_db > SILENT_DB:
            by_length = found.setdefault((m.probe.timbre, m.probe.dynamics), {})
            by_length.setdefault(m.probe.seconds, {})[m.probe.pitch_index] = m.difference - at_base[key]
    table: dict[str, dict[str, list[list[float]]]] = {}
    for timbre in spec.descriptors["timbre"].classes:
        table[timbre] = {}
        for dyn in spec.descriptors["dynamics"].classes:
            rows = np.asarray(spec.duration_level_db.get(timbre, {}).get(dyn, np.zeros((len(durations), n))))
            measured = found.get((timbre, dyn))
            if measured:
                rows = rows + _length_change(measured, seconds, durations, n)
            table[timbre][dyn] = np.round(np.clip(rows, -KEY_LEVEL_LIMIT_DB, KEY_LEVEL_LIMIT_DB), 2).tolist()  # 0.01 dB
    return table


def _length_change(found: dict[float, dict[int, float]], seconds: float, durations: np.ndarray, n: int) -> np.ndarray:
    """[durations, keys] from the differences measured at some lengths and keys (0 at `seconds`)."""
    measured = sorted({seconds, *found})
    rows = np.stack([_fill(found[d], n) if d in found else np.zeros(n) for d in measured])  # [lengths, keys]
    return np.stack([np.interp(durations, measured, rows[:, k]) for k in range(n)], axis=1)


def key_level_table(spec: BundleSpec, levels: list[KeyLevel]) -> dict[str, dict[str, list[float]]]:
    """The bundle's table plus the measured differences; a key not measured (outside the
    timbre's range, or silent in the reference) takes its nearest measured neighbour's value."""
    n = len(spec.descriptors["pitch"].classes)
    table: dict[str, dict[str, list[float]]] = {}
    for timbre in spec.descriptors["timbre"].classes:
        table[timbre] = {}
        for dyn in spec.descriptors["dynamics"].classes:
            old = np.asarray(spec.key_level_db.get(timbre, {}).get(dyn, [0.0] * n), dtype=np.float64)
            found = {
                m.probe.pitch_index: m.difference
                for m in levels
                if (m.probe.timbre, m.probe.dynamics) == (timbre, dyn) and m.model_db > SILENT_DB
            }
            if not found:  # not measured: keeps what it had
                table[timbre][dyn] = [float(v) for v in old]
                continue
            table[timbre][dyn] = [
                float(v) for v in np.clip(old + _fill(found, n), -KEY_LEVEL_LIMIT_DB, KEY_LEVEL_LIMIT_DB)
            ]
    return table


def _fill(found: dict[int, float], n: int) -> np.ndarray:
    """Values at the measured indices, interpolated between them and held beyond them."""
    index = np.array(sorted(found))
    return np.interp(np.arange(n), index, [found[i] for i in index])
