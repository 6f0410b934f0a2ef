"""Per-key level calibration: play every key a timbre covers at each dynamics through the offline
engine (what `rtsynth render` does) and through the reference renderer (FluidSynth, the GM-SOL
settings at the engine's rate), and store the level difference per timbre, dynamics and pitch
class in the bundle's `key_level_db`; and the same keys at other lengths up to 2 s (`level_lengths`),
whose level differences from the 1 s ones go to `duration_level_db`. A harmonic-noise bundle
also gets, from the same notes, the density the reference has above the decoder's bands and
the model lacks (`air_db`, rtsynth.dsp.air: played as noise, or by a high key's partials), and
the level that adds taken back, and how far each log-mel band below that lies from the
reference's (`colour_db`, rtsynth.dsp.colour); and for every bundle how
much longer than asked each timbre's notes sound at each dynamics, length and key once fitted
(`length_error_s`), which the engine's length fit then takes off; with that in place, the
shortest notes' levels are measured once more and their per-length rows set again.

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
from typing import Literal

import numpy as np

from rtsynth.bundle import KEY_LEVEL_LIMIT_DB, LENGTH_ERROR_LIMIT_S, BundleSpec, read_spec, write_spec
from rtsynth.dsp.air import AIR_BANDS_HZ, AIR_RANGE_DB, AIR_SILENT_DB, band_density_db, density_from_db
from rtsynth.dsp.colour import COLOUR_BANDS_HZ, COLOUR_RANGE_DB, ColourReach, colour_change_db
from rtsynth.dsp.fidelity import rms_db, sounding_length_s, sounding_length_step_s
from rtsynth.errors import RtsynthError
from rtsynth.export.players import PlayedNote, bundle_spec, forget_bundles, play_model, play_reference
from rtsynth.export.staging import check_target, copy_files, staged_bundle
from rtsynth.labels import INSTRUMENT_BY_NAME
from rtsynth.synthesis import parse_synthesis

log = logging.getLogger(__name__)

SILENT_DB = -120.0  # a model note this quiet is broken, not soft: left for the bench to report, not amplified
LENGTHS_UP_TO_S = 2.0  # duration classes measured; longer ones keep the longest measured one's value
FINE_FROM_S, FINE_UP_TO_S = 0.1, 0.75  # here lengths between the classes are measured too (`level_lengths`)
FINE_STEP_S = 0.05
SHORT_UP_TO_S = 0.2  # up to here every SHORT_STEP_S, and measured once more as they finally play (`with_short_levels`)
SHORT_STEP_S = 0.01
SWITCH_SIDE_S = 0.01  # measured this far each side of where the played duration class changes
LENGTH_REGISTER_KEYS = 6  # a key's length error is the mean of the measured keys this near it


class CalibrationError(RtsynthError):
    """The bundle cannot be calibrated (no timbre the reference renderer knows)."""


@dataclass(frozen=True)
class CalibrationOptions:
    samplerate: int = 48000
    seconds: float = 1.0  # each note's sounding length, model and reference alike
    force: bool = False
    timbres: tuple[str, ...] = ()  # only these (the rest keep their table); empty: every one
    # "air": only the air, from the notes at `seconds` (the level tables kept but for the air's
    # own); "outside": only the keys outside each timbre's range (`held_outside`); "": everything
    only: Literal["", "air", "outside"] = ""
    workers: int = 2  # processes that render and measure the notes


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
    colour_change_db: tuple[float, ...] = ()  # what each colour band needs (rtsynth.dsp.colour)
    model_length_s: float = float("nan")  # how long the model's note sounds (the bench's measure)

    @property
    def difference(self) -> float:
        return self.reference_db - self.model_db


def calibrate(source: str | Path, out: str | Path, options: CalibrationOptions = CalibrationOptions()) -> Path:
    """Write a copy of the bundle at `source` to `out` with `key_level_db`, `duration_level_db`
    and (direct synthesis) `air_db` and `colour_db` measured, each on top of what the bundle
    had, so calibrating twice refines rather than starts over; then the keys outside each
    timbre's range held at its nearest key's level."""
    source, out = Path(source), Path(out)
    spec = read_spec(source)
    check_target(out, options.force)
    if options.only == "air" and air_centres(spec) is None:
        raise CalibrationError(f"{source} has no air to calibrate: it does not play by harmonic-noise synthesis")
    covered = covered_keys(source, spec, options)
    with staged_bundle(out, options.force) as staging:
        copy_files(source, staging)
        write_spec(staging, spec)
        if options.only != "outside":
            spec = against_reference(source, staging, spec, covered, options)
        if options.only != "air":
            write_spec(staging, held_outside(staging, spec, covered, options))
    return out


def against_reference(
    source: Path, staging: Path, spec: BundleSpec, covered: dict[str, list[int]], options: CalibrationOptions
) -> BundleSpec:
    """What the reference renderer sets (the levels, lengths, air and colour of the keys each
    timbre covers), written at `staging`, a copy of `source`."""
    direct = air_centres(spec) is not None
    air_only = options.only == "air"
    levels = measure_levels(source, spec, covered, options)
    keys = [m for m in levels if m.probe.seconds == options.seconds]
    calibrated = spec if air_only else _with_levels(spec, levels, options)
    if direct:
        first = air_table(spec, first_air(spec, keys))
        calibrated = replace(calibrated, air_bands_hz=list(air_bands(spec)), air_db=first)
        if not air_only:
            calibrated = replace(calibrated, colour_bands_hz=list(COLOUR_BANDS_HZ), colour_db=colour_table(spec, keys))
    write_spec(staging, calibrated)
    if direct:  # the air as it plays, measured again and set once more; the level it adds taken back
        played = measure_again(staging, [m for m in keys if m.model_air_db], options, "air")
        refined = air_table(spec, refined_air(spec, calibrated, keys, played))
        calibrated = replace(calibrated, air_db=refined, key_level_db=key_level_table(calibrated, played))
        write_spec(staging, calibrated)
        added = np.array([row for t in refined.values() for rows in t.values() for row in rows]) > AIR_SILENT_DB
        log.info(
            "air above %.0f Hz: %.0f %% of the key and band entries play some (noise, or resolved partials)",
            air_bands(spec)[0],
            100 * added.mean(),
        )
    if not air_only:
        calibrated = with_short_levels(staging, calibrated, levels, options)
        write_spec(staging, calibrated)
    errors = np.array([m.difference for m in keys])
    log.info(
        "calibrated %d keys: level error before %.1f dB median, %.1f dB at the 95th percentile",
        len(keys),
        np.median(np.abs(errors)),
        np.percentile(np.abs(errors), 95),
    )
    return calibrated


def held_outside(
    bundle: Path, spec: BundleSpec, covered: dict[str, list[int]], options: CalibrationOptions
) -> BundleSpec:
    """`spec`, written at `bundle`, with each key outside a timbre's range (none in the
    reference, but a keyboard has them) playing at the level of the nearest key the timbre
    covers, as a sampler stretches its last sample. The decoder's own level drifts where it
    never heard the timbre, and the key tables held the nearest key's correction: the shipped
    tuba's 108 sounded 7 dB over its 65, the oboe's 11 dB over its 93 (at 0 dBFS past 108)."""
    wanted = outside_probes(spec, covered, options.seconds)
    if not wanted:
        return spec
    unmeasured = [KeyLevel(p, float("nan"), float("nan")) for p in wanted]
    level = {m.probe: m.model_db for m in measure_again(bundle, unmeasured, options, "outside the ranges")}
    n = len(spec.descriptors["pitch"].classes)
    table = {
        t: {d: list(spec.key_level_db.get(t, {}).get(d, [0.0] * n)) for d in spec.descriptors["dynamics"].classes}
        for t in spec.descriptors["timbre"].classes
    }
    off = []
    for probe in wanted:
        edge = replace(probe, pitch_index=nearest_covered(covered[probe.timbre], probe.pitch_index))
        if probe == edge or min(level[probe], level[edge]) <= SILENT_DB:
            continue
        row = table[probe.timbre][probe.dynamics]
        change = level[edge] - level[probe]
        row[probe.pitch_index] = float(
            np.clip(row[probe.pitch_index] + change, -KEY_LEVEL_LIMIT_DB, KEY_LEVEL_LIMIT_DB)
        )
        off.append(abs(change))
    if off:
        log.info(
            "%d keys outside the timbres' ranges set to their nearest covered key's level (up to %.1f dB off)",
            len(off),
            max(off),
        )
    return replace(spec, key_level_db=table)


def outside_probes(spec: BundleSpec, covered: dict[str, list[int]], seconds: float) -> list[Probe]:
    """Each timbre's keys outside its range and the two ends of its range, at each dynamics."""
    n = len(spec.descriptors["pitch"].classes)
    wanted = []
    for timbre, indices in covered.items():
        if not indices:
            continue
        keys = [i for i in range(n) if not indices[0] <= i <= indices[-1]]
        if keys:
            wanted += [
                Probe(timbre, dyn, i, seconds)
                for dyn in spec.velocity_to_dynamics
                for i in (indices[0], indices[-1], *keys)
            ]
    return wanted


def nearest_covered(indices: list[int], index: int) -> int:
    """The end of a timbre's range nearest a key (the key itself inside it)."""
    return int(np.clip(index, indices[0], indices[-1]))


def _with_levels(spec: BundleSpec, levels: list[KeyLevel], options: CalibrationOptions) -> BundleSpec:
    """`spec` with its key and per-length level tables from these measured notes."""
    table = key_level_table(spec, [m for m in levels if m.probe.seconds == options.seconds])
    lengths, by_length = duration_level_table(spec, levels, options.seconds)
    facts = {**spec.model, "key_levels": f"rtsynth calibrate, {len(levels)} notes at {options.samplerate} Hz"}
    errors = length_error_table(spec, levels, lengths, sounding_length_step_s(options.samplerate))
    return replace(
        spec,
        key_level_db=table,
        duration_level_db=by_length,
        duration_level_s=lengths,
        length_error_s=errors,
        model=facts,
    )


def with_short_levels(
    bundle: Path, spec: BundleSpec, levels: list[KeyLevel], options: CalibrationOptions
) -> BundleSpec:
    """`spec`, written at `bundle`, with its per-length levels up to SHORT_UP_TO_S set once more
    from those notes as it plays them. A note this short is its attack cut off, its level
    climbing steeply with its length, and this pass has just moved the length the engine's fit
    takes off it: measured before that move alone, a flute's 0.1 s notes ended 1.3-1.9 dB over
    the reference and 2 dB over its 0.11 s ones."""
    short = [
        m
        for m in levels
        if m.probe.seconds <= SHORT_UP_TO_S and m.probe.seconds != options.seconds and m.model_db > SILENT_DB
    ]
    if not short:
        return spec
    again = measure_again(bundle, short, options, "short notes")
    log.info(
        "notes up to %.2f s as they now play: %.1f dB median from the reference before set once more",
        SHORT_UP_TO_S,
        np.median([abs(m.difference) for m in again]),
    )
    return replace(spec, duration_level_db=short_level_table(spec, again))


def short_level_table(spec: BundleSpec, again: list[KeyLevel]) -> dict[str, dict[str, list[list[float]]]]:
    """The bundle's per-length table plus, at each length measured again, each key's remaining
    difference (interpolated between the measured keys, held beyond them)."""
    n, lengths = len(spec.descriptors["pitch"].classes), np.asarray(spec.level_lengths, dtype=np.float64)
    row_at = {round(float(s), 3): i for i, s in enumerate(lengths)}
    found: dict[tuple[str, str, float], dict[int, float]] = {}
    for m in again:
        if m.model_db > SILENT_DB:
            found.setdefault((m.probe.timbre, m.probe.dynamics, m.probe.seconds), {})[m.probe.pitch_index] = (
                m.difference
            )
    changes: dict[tuple[str, str], np.ndarray] = {}
    for (timbre, dyn, seconds), differences in found.items():
        change = changes.setdefault((timbre, dyn), np.zeros((len(lengths), n)))
        change[row_at[round(seconds, 3)]] = _fill(differences, n)
    return _per_length_table(spec, spec.duration_level_db, changes, lengths, KEY_LEVEL_LIMIT_DB, 2)


def length_error_table(
    spec: BundleSpec, levels: list[KeyLevel], lengths: list[float], step_s: float
) -> dict[str, dict[str, list[list[float]]]]:
    """The bundle's length errors (taken to `lengths`) plus, per timbre, dynamics, measured
    length and key, how much longer than asked the note sounded (`_key_errors`, read in
    `step_s` steps): interpolated between the measured lengths, held beyond them and beyond
    the measured keys."""
    n = len(spec.descriptors["pitch"].classes)
    found: dict[tuple[str, str], dict[float, dict[int, float]]] = {}
    for m in levels:
        if m.model_db > SILENT_DB and np.isfinite(m.model_length_s):
            by_length = found.setdefault((m.probe.timbre, m.probe.dynamics), {})
            by_length.setdefault(m.probe.seconds, {})[m.probe.pitch_index] = m.model_length_s - m.probe.seconds
    at = np.asarray(lengths, dtype=np.float64)
    changes = {}
    for group, measured in found.items():
        done = sorted(measured)
        change = np.stack([_fill(_key_errors(measured[d], step_s), n) for d in done])  # [measured lengths, keys]
        changes[group] = _between_lengths(done, change, at)
    return _per_length_table(spec, spec.length_error_s, changes, at, LENGTH_ERROR_LIMIT_S, 4)


def _key_errors(errors: dict[int, float], step_s: float) -> dict[int, float]:
    """Each measured key's length error: the mean over the measured keys within
    LENGTH_REGISTER_KEYS of it, plus whatever of the key's own error lies more than one
    measure step from that mean. Per register, because a timbre's release changes along the
    keyboard (the accordion's keys above 80 sounded 23-27 ms long where its lower ones were
    right, with one value for the timbre); a mean of neighbours, because one key's own error
    is mostly the measure's step (its trim hop, 10.7 ms at 48 kHz); and the key's own beyond
    a step, because a key can sit two steps off its register (flute 96 and 97 ff: 23-27 ms
    long between keys 1-5 ms off)."""
    keys = np.array(sorted(errors))
    values = np.clip([errors[k] for k in keys], -LENGTH_ERROR_LIMIT_S, LENGTH_ERROR_LIMIT_S)
    register = np.array([values[np.abs(keys - k) <= LENGTH_REGISTER_KEYS].mean() for k in keys])
    own = values - register
    beyond = np.sign(own) * np.maximum(np.abs(own) - step_s, 0.0)
    return {int(k): float(v) for k, v in zip(keys, register + beyond, strict=True)}


def covered_keys(bundle: Path, spec: BundleSpec, options: CalibrationOptions) -> dict[str, list[int]]:
    """The pitch-class indices of the keys GM-SOL gives each timbre calibrated (`options.timbres`,
    else every one the reference renderer knows)."""
    from rtsynth.train.corpus.gm import RANGES

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
    pitches = [int(p) for p in spec.descriptors["pitch"].classes]
    return {t: [i for i, p in enumerate(pitches) if RANGES[t].lowest <= p <= RANGES[t].highest] for t in timbres}


def measure_levels(
    bundle: Path, spec: BundleSpec, covered: dict[str, list[int]], options: CalibrationOptions
) -> list[KeyLevel]:
    """Every covered key, at each dynamics' velocity, at `options.seconds` and at the other
    `level_lengths` (`probes`), over `options.workers` processes (the same numbers whatever
    their count: a render does not depend on the ones before it)."""
    from tqdm import tqdm

    from rtsynth.train.jobs import ordered_map

    wanted_probes = probes(spec, covered, options.seconds, other_lengths=options.only != "air")
    job = ProbeJob(bundle, options.samplerate, options.seconds)
    measured = ordered_map(job, wanted_probes, options.workers)
    try:
        return [m for m in tqdm(measured, total=len(wanted_probes), desc="calibrate", unit="note") if m is not None]
    finally:
        forget_bundles()  # a later call may find other files at the same path


@dataclass(frozen=True)
class ProbeJob:
    """One probe measured against the reference, in whichever process runs it; the air and the
    colour too for the probes at `bands_at_s`."""

    bundle: Path
    samplerate: int
    bands_at_s: float

    def __call__(self, probe: Probe) -> KeyLevel | None:
        """None where the SoundFont has no sample for the note."""
        sr, spec = self.samplerate, bundle_spec(self.bundle)
        note = played_note(spec, probe)
        ref = play_reference(sr, note)
        if ref is None:
            return None
        model = play_model(self.bundle, sr, note)
        measured = KeyLevel(probe, rms_db(model, sr), rms_db(ref, sr), model_length_s=sounding_length_s(model, sr))
        centres = air_centres(spec)
        if centres is not None and probe.seconds == self.bands_at_s:
            model_air, ref_air = (tuple(band_density_db(y, sr, *centres).tolist()) for y in (model, ref))
            colour = tuple(colour_change_db(model, ref, sr).tolist())
            measured = replace(measured, model_air_db=model_air, reference_air_db=ref_air, colour_change_db=colour)
        return measured


@dataclass(frozen=True)
class ReplayJob:
    """A measured note played again by the bundle at `bundle`: its level and length, and its air
    where that was measured, as this bundle plays them."""

    bundle: Path
    samplerate: int

    def __call__(self, m: KeyLevel) -> KeyLevel:
        spec, sr = bundle_spec(self.bundle), self.samplerate
        model = play_model(self.bundle, sr, played_note(spec, m.probe))
        again = replace(m, model_db=rms_db(model, sr), model_length_s=sounding_length_s(model, sr))
        centres = air_centres(spec)
        if m.model_air_db and centres is not None:
            again = replace(again, model_air_db=tuple(band_density_db(model, sr, *centres).tolist()))
        return again


def played_note(spec: BundleSpec, probe: Probe) -> PlayedNote:
    """A probe as a note: its key, and the velocity of its dynamics."""
    key = int(spec.descriptors["pitch"].classes[probe.pitch_index])
    return PlayedNote(probe.timbre, key, probe.dynamics, spec.velocity_to_dynamics[probe.dynamics], probe.seconds)


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


def measure_again(bundle: Path, measured: list[KeyLevel], options: CalibrationOptions, what: str) -> list[KeyLevel]:
    """These measured notes again, as the bundle at `bundle` plays them (`what` names the pass)."""
    from tqdm import tqdm

    from rtsynth.train.jobs import ordered_map

    played = ordered_map(ReplayJob(bundle, options.samplerate), measured, options.workers)
    try:
        return list(tqdm(played, total=len(measured), desc=f"calibrate {what}", unit="note"))
    finally:
        forget_bundles()


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


def colour_table(spec: BundleSpec, keys: list[KeyLevel]) -> dict[str, dict[str, list[list[float]]]]:
    """The bundle's colour table plus, per timbre, dynamics and key, what its bands lack against
    the reference's (`colour_change_db`), each key its own (a semitone moves a high note's
    partials into other mel bands); keys not measured take their neighbours', timbres not
    measured keep theirs."""
    n, bands = len(spec.descriptors["pitch"].classes), len(COLOUR_BANDS_HZ)
    found: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    off = []
    for m in keys:
        if m.colour_change_db and m.model_db > SILENT_DB:
            change = np.asarray(m.colour_change_db)
            found.setdefault((m.probe.timbre, m.probe.dynamics), {})[m.probe.pitch_index] = change
            off.append(np.mean(np.abs(change)))
    if off:
        log.info(
            "colour: the bands' log-mel %.1f dB from the reference's before (mean over bands, median note)",
            np.median(off),
        )
    table: dict[str, dict[str, list[list[float]]]] = {}
    for timbre in spec.descriptors["timbre"].classes:
        table[timbre] = {}
        for dyn in spec.descriptors["dynamics"].classes:
            old = spec.colour_db.get(timbre, {}).get(dyn)
            rows = np.zeros((n, bands)) if old is None else _at_colour_bands(old, spec.colour_bands_hz)
            if measured := found.get((timbre, dyn)):
                rows = rows + np.stack([_fill({k: v[b] for k, v in measured.items()}, n) for b in range(bands)], axis=1)
            table[timbre][dyn] = np.round(np.clip(rows, *COLOUR_RANGE_DB), 1).tolist()
    return table


def _at_colour_bands(rows: list[list[float]], bands_hz: list[float]) -> np.ndarray:
    """A colour table's rows [keys, bands] at COLOUR_BANDS_HZ: a table measured in other bands
    (an earlier calibration's) read between its centres as the engine reads it, so a new pass
    adds to the colour the note was measured with."""
    old = np.asarray(rows, dtype=np.float64)
    if len(bands_hz) == len(COLOUR_BANDS_HZ) and np.allclose(bands_hz, COLOUR_BANDS_HZ):
        return old
    out: np.ndarray = ColourReach.at(np.asarray(COLOUR_BANDS_HZ), tuple(bands_hz)).db(old.T).T
    return out


def _entry(spec: BundleSpec, probe: Probe) -> np.ndarray:
    """The bundle's air densities (linear) at a probe's timbre, dynamics and key; none without a table."""
    rows = spec.air_db.get(probe.timbre, {}).get(probe.dynamics)
    return _density(rows[probe.pitch_index]) if rows else np.zeros(len(air_bands(spec)))


def _density(db: object) -> np.ndarray:
    return density_from_db(np.asarray(db, dtype=np.float64))


def _density_db(density: np.ndarray) -> np.ndarray:
    out: np.ndarray = 10 * np.log10(np.maximum(density, 10 ** (AIR_SILENT_DB / 10)))
    return out


def level_lengths(durations: tuple[float, ...]) -> list[float]:
    """The lengths the per-length levels are measured at: every duration class up to
    LENGTHS_UP_TO_S, from FINE_FROM_S to FINE_UP_TO_S every FINE_STEP_S (up to SHORT_UP_TO_S
    every SHORT_STEP_S) and each side of where the played class changes. A short note's
    reference level climbs steeply with its length (a slow attack cut short: violin mf -48 dB at
    0.3 s, -30 at 0.5), while the model's steps where the note switches class; measured at the
    classes alone, of every key asked 0.33 s (mf) 32 % were within 2 dB, asked 0.13 s 26 %, the
    worst 25 dB off. Below 0.2 s a note is the 0.25 s one squeezed into a few 23 ms frames, and
    its level bends within 10 ms of length: with rows 50 ms apart, of every key asked 0.175 s
    (mf) 73 % were within 2 dB of the reference, with rows 10 ms apart 97 %."""
    classes = sorted(float(d) for d in durations if float(d) <= LENGTHS_UP_TO_S)
    if not classes:
        return []
    fine = np.arange(FINE_FROM_S, FINE_UP_TO_S, FINE_STEP_S).tolist()
    short = np.arange(FINE_FROM_S, SHORT_UP_TO_S, SHORT_STEP_S).tolist()
    switches = [(a + b) / 2 for a, b in itertools.pairwise(classes) if (a + b) / 2 < FINE_UP_TO_S]
    sides = [s + d for s in switches for d in (-SWITCH_SIDE_S, SWITCH_SIDE_S)]
    return sorted({round(x, 3) for x in (*classes, *fine, *short, *sides)})


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
    changes = {group: _length_change(measured, seconds, lengths, n) for group, measured in found.items()}
    return lengths.tolist(), _per_length_table(spec, spec.duration_level_db, changes, lengths, KEY_LEVEL_LIMIT_DB, 2)


def _per_length_table(
    spec: BundleSpec,
    old: dict[str, dict[str, list[list[float]]]],
    changes: dict[tuple[str, str], np.ndarray],
    lengths: np.ndarray,
    limit: float,
    decimals: int,
) -> dict[str, dict[str, list[list[float]]]]:
    """A table timbre -> dynamics -> length -> value per key: the bundle's `old` one taken to
    `lengths` plus each measured (timbre, dynamics)'s change [lengths, keys], within +-limit."""
    table: dict[str, dict[str, list[list[float]]]] = {}
    for timbre in spec.descriptors["timbre"].classes:
        table[timbre] = {}
        for dyn in spec.descriptors["dynamics"].classes:
            rows = _at_lengths(spec, old.get(timbre, {}).get(dyn), lengths)
            if (timbre, dyn) in changes:
                rows = rows + changes[(timbre, dyn)]
            table[timbre][dyn] = np.round(np.clip(rows, -limit, limit), decimals).tolist()
    return table


def _at_lengths(spec: BundleSpec, rows: list[list[float]] | None, lengths: np.ndarray) -> np.ndarray:
    """[lengths, keys]: a bundle's per-length rows taken to `lengths` (interpolated, held beyond); none: zeros."""
    n = len(spec.descriptors["pitch"].classes)
    if rows is None:
        return np.zeros((len(lengths), n))
    return _between_lengths(spec.level_lengths, np.asarray(rows, dtype=np.float64), lengths)


def _length_change(found: dict[float, dict[int, float]], seconds: float, lengths: np.ndarray, n: int) -> np.ndarray:
    """[lengths, keys] from the differences measured at some lengths and keys (0 at `seconds`)."""
    measured = sorted({seconds, *found})
    rows = np.stack([_fill(found[d], n) if d in found else np.zeros(n) for d in measured])  # [lengths, keys]
    return _between_lengths(measured, rows, lengths)


def _between_lengths(had: list[float], rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """[lengths, keys] from rows [had, keys]: each key interpolated between them, held beyond."""
    return np.stack([np.interp(lengths, had, rows[:, k]) for k in range(rows.shape[1])], axis=1)


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
