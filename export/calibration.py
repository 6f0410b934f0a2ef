"""Per-key level calibration: play every key a timbre covers at each dynamics through the offline
engine (what `rtsynth render` does) and through the reference renderer (FluidSynth, the GM-SOL
settings at the engine's rate), and store the level difference per timbre, dynamics and pitch
class in the bundle's `key_level_db`; and the same keys at other lengths up to 2 s (`level_lengths`),
whose level differences from the 1 s ones go to `duration_level_db`. A harmonic-noise bundle
also gets, from the same notes, the density the reference has above the decoder's bands and
the model lacks (`air_db`, rtsynth.dsp.air: played as noise, or by a high key's partials), and
the level that adds taken back; and for every bundle how much longer than asked each timbre's
notes sound at each dynamics and length once fitted (`length_error_s`), which the engine's
length fit then takes off.

Why: the decoder writes each note relative to its own peak and the loudness table gives one
level per timbre and dynamics, but a real instrument's level also follows the key (a flute's low
notes are soft, a tuba's high ones loud). The velocity curve follows the reference at the
dynamics' velocities, the spread across timbres follows it too. Measured levels are the sounding
part's RMS (rtsynth.dsp.fidelity.rms_db), the same measure the fidelity bench judges.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rtsynth.bundle import KEY_LEVEL_LIMIT_DB, LENGTH_ERROR_LIMIT_S, BundleSpec, read_spec, write_spec
from rtsynth.dsp.air import AIR_BANDS_HZ, AIR_RANGE_DB, AIR_SILENT_DB, band_density_db, density_from_db
from rtsynth.dsp.fidelity import rms_db, sounding_length_s
from rtsynth.engine.backends import OfflineRenderer
from rtsynth.engine.config import EngineConfig
from rtsynth.errors import RtsynthError
from rtsynth.export.staging import check_target, copy_files, staged_bundle
from rtsynth.labels import INSTRUMENT_BY_NAME
from rtsynth.render import NoteRequest, note_events
from rtsynth.synthesis import parse_synthesis

log = logging.getLogger(__name__)

SILENT_DB = -120.0  # a model note this quiet is broken, not soft: left for the bench to report, not amplified
LENGTHS_UP_TO_S = 2.0  # duration classes measured; longer ones keep the longest measured one's value
FINE_FROM_S, FINE_UP_TO_S = 0.1, 0.75  # here lengths between the classes are measured too (`level_lengths`)
FINE_STEP_S = 0.05
SWITCH_SIDE_S = 0.01  # measured this far each side of where the played duration class changes


class CalibrationError(RtsynthError):
    """The bundle cannot be calibrated (no timbre the reference renderer knows)."""


@dataclass(frozen=True)
class CalibrationOptions:
    samplerate: int = 48000
    seconds: float = 1.0  # each note's sounding length, model and reference alike
    force: bool = False
    timbres: tuple[str, ...] = ()  # only these (the rest keep their table); empty: every one
    air_only: bool = False  # only the air, from the notes at `seconds`: the level tables kept but for the air's own


@dataclass(frozen=True)
class Probe:
    """One note to measure."""

    timbre: str
    dynamics: str
    pitch_index: int
    seconds: float


@dataclass(frozen=True)
class KeyLevel:
    """One measured note: the model's and the reference's level (dB RMS of the sounding part),
    and their density in each air band (dB per kHz relative to the note's power; empty: not
    measured)."""

    probe: Probe
    model_db: float
    reference_db: float
    model_air_db: tuple[float, ...] = ()
    reference_air_db: tuple[float, ...] = ()
    model_length_s: float = float("nan")  # how long the model's note sounds (the bench's measure)

    @property
    def difference(self) -> float:
        return self.reference_db - self.model_db


def calibrate(source: str | Path, out: str | Path, options: CalibrationOptions = CalibrationOptions()) -> Path:
    """Write a copy of the bundle at `source` to `out` with `key_level_db`, `duration_level_db`
    and (direct synthesis) `air_db` measured, each on top of what the bundle had, so
    calibrating twice refines rather than starts over."""
    source, out = Path(source), Path(out)
    spec = read_spec(source)
    check_target(out, options.force)
    direct = air_centres(spec) is not None
    if options.air_only and not direct:
        raise CalibrationError(f"{source} has no air to calibrate: it does not play by harmonic-noise synthesis")
    levels = measure_levels(source, spec, options)
    keys = [m for m in levels if m.probe.seconds == options.seconds]
    calibrated = spec if options.air_only else _with_levels(spec, levels, options)
    if direct:
        first = air_table(spec, first_air(spec, keys))
        calibrated = replace(calibrated, air_bands_hz=list(air_bands(spec)), air_db=first)
    with staged_bundle(out, options.force) as staging:
        copy_files(source, staging)
        write_spec(staging, calibrated)
        if direct:  # the air as it plays, measured again and set once more; the level it adds taken back
            played = measure_air(staging, calibrated, keys, options.samplerate)
            refined = air_table(spec, refined_air(spec, calibrated, keys, played))
            write_spec(staging, replace(calibrated, air_db=refined, key_level_db=key_level_table(calibrated, played)))
            added = np.array([row for t in refined.values() for rows in t.values() for row in rows]) > AIR_SILENT_DB
            log.info(
                "air above %.0f Hz: %.0f %% of the key and band entries play some (noise, or resolved partials)",
                air_bands(spec)[0],
                100 * added.mean(),
            )
    errors = np.array([m.difference for m in keys])
    log.info(
        "calibrated %d keys: level error before %.1f dB median, %.1f dB at the 95th percentile",
        len(keys),
        np.median(np.abs(errors)),
        np.percentile(np.abs(errors), 95),
    )
    return out


def _with_levels(spec: BundleSpec, levels: list[KeyLevel], options: CalibrationOptions) -> BundleSpec:
    """`spec` with its key and per-length level tables from these measured notes."""
    table = key_level_table(spec, [m for m in levels if m.probe.seconds == options.seconds])
    lengths, by_length = duration_level_table(spec, levels, options.seconds)
    facts = {**spec.model, "key_levels": f"rtsynth calibrate, {len(levels)} notes at {options.samplerate} Hz"}
    errors = length_error_table(spec, levels, lengths)
    return replace(
        spec,
        key_level_db=table,
        duration_level_db=by_length,
        duration_level_s=lengths,
        length_error_s=errors,
        model=facts,
    )


def length_error_table(
    spec: BundleSpec, levels: list[KeyLevel], lengths: list[float]
) -> dict[str, dict[str, list[float]]]:
    """The bundle's length errors (taken to `lengths`) plus, per timbre, dynamics and measured
    length, the median over its keys of how much longer than asked the note sounded:
    interpolated between the measured lengths, held beyond them. One value for all keys: a
    timbre's release is what the frame levels miss, and a key's own error is mostly the
    measure's 10 ms step."""
    found: dict[tuple[str, str], dict[float, list[float]]] = {}
    for m in levels:
        if m.model_db > SILENT_DB and np.isfinite(m.model_length_s):
            by_length = found.setdefault((m.probe.timbre, m.probe.dynamics), {})
            by_length.setdefault(m.probe.seconds, []).append(m.model_length_s - m.probe.seconds)
    table: dict[str, dict[str, list[float]]] = {}
    for timbre in spec.descriptors["timbre"].classes:
        table[timbre] = {}
        for dyn in spec.descriptors["dynamics"].classes:
            old = spec.length_error_s.get(timbre, {}).get(dyn)
            row = np.zeros(len(lengths)) if old is None else np.interp(lengths, spec.level_lengths, old)
            measured = found.get((timbre, dyn))
            if measured:
                at = sorted(measured)
                row = row + np.interp(lengths, at, [float(np.median(measured[s])) for s in at])
            table[timbre][dyn] = np.round(np.clip(row, -LENGTH_ERROR_LIMIT_S, LENGTH_ERROR_LIMIT_S), 4).tolist()
    return table


def measure_levels(bundle: Path, spec: BundleSpec, options: CalibrationOptions) -> list[KeyLevel]:
    """Every key of every timbre the reference renderer knows, at each dynamics' velocity, at
    `options.seconds` and at the other `level_lengths` (`probes`)."""
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
    sr = options.samplerate
    renderer = OfflineRenderer(bundle, EngineConfig(samplerate=sr))
    reference = NoteSynth(replace(load_gm_config(), sample_rate=sr))
    pitches = [int(p) for p in spec.descriptors["pitch"].classes]
    covered = {t: [i for i, p in enumerate(pitches) if RANGES[t].lowest <= p <= RANGES[t].highest] for t in timbres}
    centres = air_centres(spec)
    out = []
    wanted_probes = probes(spec, covered, options.seconds, other_lengths=not options.air_only)
    for probe in tqdm(wanted_probes, desc="calibrate", unit="note"):
        velocity, pitch = spec.velocity_to_dynamics[probe.dynamics], pitches[probe.pitch_index]
        ref = reference.sounding(reference_note(probe.timbre, pitch, probe.dynamics, velocity, probe.seconds))
        if ref is None:
            continue  # the SoundFont has no sample there
        model = render_probe(renderer, spec, probe)
        measured = KeyLevel(probe, rms_db(model, sr), rms_db(ref, sr), model_length_s=sounding_length_s(model, sr))
        if centres is not None and probe.seconds == options.seconds:
            all_hz, picks = centres
            model_air, ref_air = (tuple(band_density_db(y, sr, all_hz, picks).tolist()) for y in (model, ref))
            measured = replace(measured, model_air_db=model_air, reference_air_db=ref_air)
        out.append(measured)
    return out


def air_bands(spec: BundleSpec) -> tuple[float, ...]:
    """The bundle's air bands if it has some (a refinement keeps them), else those of
    AIR_BANDS_HZ above its decoder's noise bands; none for a bundle that plays through a mel
    and vocoder, or whose decoder's noise already reaches past them."""
    synthesis = parse_synthesis(spec.synthesis)
    if synthesis is None:
        return ()
    return tuple(spec.air_bands_hz) or tuple(f for f in AIR_BANDS_HZ if f > synthesis.noise_bands_hz[-1])


def air_centres(spec: BundleSpec) -> tuple[tuple[float, ...], slice] | None:
    """The decoder's noise band centres, the air bands after them, and which of them are the
    air bands (those above Nyquist measure as none); None for a bundle with no air bands."""
    synthesis, air = parse_synthesis(spec.synthesis), air_bands(spec)
    if synthesis is None or not air:
        return None
    decoder = synthesis.noise_bands_hz
    return (*decoder, *air), slice(len(decoder), None)


Densities = dict[tuple[str, str], dict[int, np.ndarray]]  # (timbre, dynamics) -> pitch index -> per band
MAX_AIR_STEP = 4.0  # the refinement moves a band at most this many times what the first table added


def first_air(spec: BundleSpec, keys: list[KeyLevel]) -> Densities:
    """Each measured key's table entry: what it had plus the density the reference has and the
    model lacks (linear, per kHz), played as noise or, where the key's partials are resolved, by
    them (rtsynth.dsp.air)."""
    wanted: Densities = {}
    for m in keys:
        if not m.model_air_db:
            continue
        lacking = _density(m.reference_air_db) - _density(m.model_air_db)
        _put(wanted, m.probe, _entry(spec, m.probe) + lacking)
    return wanted


def refined_air(before: BundleSpec, first: BundleSpec, keys: list[KeyLevel], played: list[KeyLevel]) -> Densities:
    """Each key's entry moved along the line through what the model measured with the entry it
    had (`keys`) and with the first table's (`played`), to where it meets the reference. A noise
    band's density is set at its centre, but a measure over the band also hears its neighbours
    (the decoder's band below, the other air bands), so the first table falls short or over."""
    was = {m.probe: _density(m.model_air_db) for m in keys}
    wanted: Densities = {}
    for m in played:
        old, new = _entry(before, m.probe), _entry(first, m.probe)
        moved = _density(m.model_air_db) - was[m.probe]
        lacking = _density(m.reference_air_db) - was[m.probe]
        step = np.clip(lacking / np.where(moved > 0, moved, np.inf), 0.0, MAX_AIR_STEP)
        _put(wanted, m.probe, np.where(moved > 0, old + (new - old) * step, new))
    return wanted


def _put(wanted: Densities, probe: Probe, entry: np.ndarray) -> None:
    wanted.setdefault((probe.timbre, probe.dynamics), {})[probe.pitch_index] = entry


def measure_air(bundle: Path, spec: BundleSpec, keys: list[KeyLevel], samplerate: int) -> list[KeyLevel]:
    """The measured keys again, their level and air as the bundle at `bundle` plays them."""
    from tqdm import tqdm

    centres = air_centres(spec)
    assert centres is not None
    renderer = OfflineRenderer(bundle, EngineConfig(samplerate=samplerate))
    out = []
    for m in tqdm([m for m in keys if m.model_air_db], desc="calibrate air", unit="note"):
        model = render_probe(renderer, spec, m.probe)
        air = tuple(band_density_db(model, samplerate, *centres).tolist())
        out.append(replace(m, model_db=rms_db(model, samplerate), model_air_db=air))
    return out


def air_table(spec: BundleSpec, wanted: Densities) -> dict[str, dict[str, list[list[float]]]]:
    """The bundle's air table with the measured keys' entries set (never below none); keys not
    measured take their neighbours' (interpolated in dB), timbres not measured keep theirs."""
    n, bands = len(spec.descriptors["pitch"].classes), len(air_bands(spec))
    table: dict[str, dict[str, list[list[float]]]] = {}
    for timbre in spec.descriptors["timbre"].classes:
        table[timbre] = {}
        for dyn in spec.descriptors["dynamics"].classes:
            rows = np.asarray(spec.air_db.get(timbre, {}).get(dyn, np.full((n, bands), AIR_SILENT_DB)))
            found = {k: _density_db(v) for k, v in wanted.get((timbre, dyn), {}).items()}
            if found:
                rows = np.stack([_fill({k: v[b] for k, v in found.items()}, n) for b in range(bands)], axis=1)
            table[timbre][dyn] = np.round(np.clip(rows, *AIR_RANGE_DB), 1).tolist()
    return table


def _entry(spec: BundleSpec, probe: Probe) -> np.ndarray:
    """The bundle's air densities (linear) at a probe's timbre, dynamics and key; none without a table."""
    rows = spec.air_db.get(probe.timbre, {}).get(probe.dynamics)
    return _density(rows[probe.pitch_index]) if rows else np.zeros(len(air_bands(spec)))


def _density(db: object) -> np.ndarray:
    return density_from_db(np.asarray(db, dtype=np.float64))


def _density_db(density: np.ndarray) -> np.ndarray:
    out: np.ndarray = 10 * np.log10(np.maximum(density, 10 ** (AIR_SILENT_DB / 10)))
    return out


def render_probe(renderer: OfflineRenderer, spec: BundleSpec, probe: Probe) -> np.ndarray:
    """The model's note for a probe, the way `rtsynth render` plays it."""
    pitch = int(spec.descriptors["pitch"].classes[probe.pitch_index])
    velocity = spec.velocity_to_dynamics[probe.dynamics]
    return renderer.render(note_events(NoteRequest(pitch, velocity, probe.seconds, probe.timbre)))


def level_lengths(durations: tuple[float, ...]) -> list[float]:
    """The lengths the per-length levels are measured at: every duration class up to
    LENGTHS_UP_TO_S, and from FINE_FROM_S to FINE_UP_TO_S every FINE_STEP_S and each side of
    where the played class changes. A short note's reference level climbs steeply with its
    length (a slow attack cut short: violin mf -48 dB at 0.3 s, -30 at 0.5), while the model's
    steps where the note switches class; measured at the classes alone, of every key asked
    0.33 s (mf) 32 % were within 2 dB, asked 0.13 s 26 %, the worst 25 dB off."""
    classes = sorted(float(d) for d in durations if float(d) <= LENGTHS_UP_TO_S)
    if not classes:
        return []
    fine = np.arange(FINE_FROM_S, FINE_UP_TO_S, FINE_STEP_S).tolist()
    switches = [(a + b) / 2 for a, b in itertools.pairwise(classes) if (a + b) / 2 < FINE_UP_TO_S]
    sides = [s + d for s in switches for d in (-SWITCH_SIDE_S, SWITCH_SIDE_S)]
    return sorted({round(x, 3) for x in (*classes, *fine, *sides)})


def probes(spec: BundleSpec, covered: dict[str, list[int]], seconds: float, other_lengths: bool = True) -> list[Probe]:
    """Every key of each timbre at each dynamics, at `seconds` (the key levels and the air) and,
    with `other_lengths`, at every other of the `level_lengths` (the per-length levels). Every
    key, because the model's level along the keyboard is not smooth at every length
    (interpolating from every third key left a fifth of the keys between them 2 dB off at
    0.5 s); every dynamics, because how far a short note falls short of a long one's level
    depends on how softly it is played."""
    others = [d for d in level_lengths(spec.vocab.duration) if d != seconds] if other_lengths else []
    return [
        Probe(timbre, dyn, i, d)
        for timbre, indices in covered.items()
        for dyn in spec.velocity_to_dynamics
        for i in indices
        for d in (seconds, *others)
    ]


def duration_level_table(
    spec: BundleSpec, levels: list[KeyLevel], seconds: float
) -> tuple[list[float], dict[str, dict[str, list[list[float]]]]]:
    """The per-length rows' lengths, and the bundle's table (taken to those lengths) plus, per
    timbre, dynamics, length and key, how much more the reference's level differs from the
    model's there than at `seconds` (0 there); interpolated between the measured keys and
    lengths, held beyond them."""
    lengths = np.asarray(level_lengths(spec.vocab.duration), dtype=np.float64)
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
            rows = _at_lengths(spec, spec.duration_level_db.get(timbre, {}).get(dyn), lengths)
            measured = found.get((timbre, dyn))
            if measured:
                rows = rows + _length_change(measured, seconds, lengths, n)
            table[timbre][dyn] = np.round(np.clip(rows, -KEY_LEVEL_LIMIT_DB, KEY_LEVEL_LIMIT_DB), 2).tolist()  # 0.01 dB
    return lengths.tolist(), table


def _at_lengths(spec: BundleSpec, rows: list[list[float]] | None, lengths: np.ndarray) -> np.ndarray:
    """[lengths, keys]: a bundle's per-length rows taken to `lengths` (interpolated, held beyond); none: zeros."""
    n = len(spec.descriptors["pitch"].classes)
    if rows is None:
        return np.zeros((len(lengths), n))
    had, values = np.asarray(spec.level_lengths), np.asarray(rows, dtype=np.float64)
    return np.stack([np.interp(lengths, had, values[:, k]) for k in range(n)], axis=1)


def _length_change(found: dict[float, dict[int, float]], seconds: float, lengths: np.ndarray, n: int) -> np.ndarray:
    """[lengths, keys] from the differences measured at some lengths and keys (0 at `seconds`)."""
    measured = sorted({seconds, *found})
    rows = np.stack([_fill(found[d], n) if d in found else np.zeros(n) for d in measured])  # [lengths, keys]
    return np.stack([np.interp(lengths, measured, rows[:, k]) for k in range(n)], axis=1)


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
