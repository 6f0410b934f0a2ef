"""What a SoundFont offers each GM-SOL instrument, said before rendering.

A General MIDI bank may lack a preset, have no sample for some keys of a preset (those render
silent), or give two instruments the same recordings (small banks: viola plays the violin's
samples). Rendering would then either fail, skip notes, or label one sound with two instrument
names; the corpus report names each case per instrument, so a corpus from another SoundFont is
never silently something else.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from rtsynth.labels import INSTRUMENT_BY_NAME, INSTRUMENTS
from rtsynth.train.corpus.renderers import config_programs
from rtsynth.train.corpus.sf2 import PresetCover, read_presets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstrumentCover:
    preset: str | None  # the bank-0 preset's name (TiMidity++: its patch); None: none for the GM program
    gm_program: int
    keys_without_sample: str  # planned keys no zone of the preset covers (they render silent), as spans
    shares_samples_with: tuple[str, ...]  # other GM-SOL instruments whose presets play some of the same samples


def key_spans(pitches: set[int]) -> str:
    """'58-72' for a contiguous set, '[94, 96]' otherwise, '' for none."""
    if not pitches:
        return ""
    lo, hi = min(pitches), max(pitches)
    if lo == hi:
        return str(lo)
    return f"{lo}-{hi}" if len(pitches) == hi - lo + 1 else str(sorted(pitches))


def instrument_cover(name: str, planned_keys: set[int], presets: dict[int, PresetCover]) -> InstrumentCover:
    program = INSTRUMENT_BY_NAME[name].gm_program
    preset = presets.get(program)
    if preset is None:
        return InstrumentCover(None, program, key_spans(planned_keys), ())
    sharing = tuple(
        other.name
        for other in INSTRUMENTS
        if other.name != name and other.gm_program in presets and presets[other.gm_program].samples & preset.samples
    )
    return InstrumentCover(preset.name, program, key_spans(planned_keys - preset.keys), sharing)


def soundfont_coverage(soundfont: str | Path, planned: dict[str, set[int]]) -> dict[str, InstrumentCover]:
    """instrument -> its cover, for each planned instrument and its planned keys.

    Raises SoundFontReadError when the file is not an SF2 SoundFont."""
    presets = read_presets(soundfont)
    return {name: instrument_cover(name, keys, presets) for name, keys in planned.items()}


def timidity_coverage(config: Path, planned: dict[str, set[int]]) -> dict[str, InstrumentCover]:
    """The same for a TiMidity++ config: the patch (or SoundFont preset) bank 0 plays for each
    instrument's program. TiMidity++ plays every key of a patch, so no key is without a sample."""
    programs = config_programs(config)
    covers = {}
    for name, keys in planned.items():
        program = INSTRUMENT_BY_NAME[name].gm_program
        patch = programs.get(program)
        if patch is None:
            covers[name] = InstrumentCover(None, program, key_spans(keys), ())
            continue
        sharing = tuple(
            other.name for other in INSTRUMENTS if other.name != name and programs.get(other.gm_program) == patch
        )
        covers[name] = InstrumentCover(patch, program, "", sharing)
    return covers


def log_coverage(coverage: dict[str, InstrumentCover]) -> None:
    """One warning per instrument the SoundFont does not fully give."""
    for name, cover in coverage.items():
        if cover.preset is None:
            log.warning("%s: the SoundFont has no preset for GM program %d: not rendered", name, cover.gm_program)
            continue
        if cover.keys_without_sample:
            log.warning(
                "%s: preset '%s' has no sample for keys %s: they render silent and are skipped",
                name,
                cover.preset,
                cover.keys_without_sample,
            )
        if cover.shares_samples_with:
            log.warning(
                "%s: preset '%s' plays some of the same samples as %s: these labels may not differ in timbre",
                name,
                cover.preset,
                ", ".join(cover.shares_samples_with),
            )


def coverage_json(coverage: dict[str, InstrumentCover]) -> dict[str, dict[str, object]]:
    return {
        name: asdict(cover) | {"shares_samples_with": list(cover.shares_samples_with)}
        for name, cover in coverage.items()
    }
