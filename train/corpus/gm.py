"""GM-SOL: the 14 TinySOL instruments rendered note by note with FluidSynth (or TiMidity++).

A seeded *plan* lists every note (instrument, pitch, dynamics, take, aimed duration); the
*render* plays each one alone on a fresh-reset synth and writes one WAV per note plus
`labels.csv` (the generic folder-corpus format: path, instrument, pitch, dynamics, then
metadata columns) and `summary.json`. Duration is not a label here: prep measures the
sounding duration (held time + release tail) from the audio, exactly as for TinySOL; the
render only chooses the held time so that this measurement lands where the plan aimed.

Reproducibility: each note's aimed duration comes from its own seed, derived from the run seed
and the note's identity, so a note gets the same file whatever subset is rendered, in
whatever order, by whichever worker. Each note is rendered on a fresh synth (renderers.py) and
FluidSynth's float output is used, because its 16-bit output dithers with a per-synth
running index; either would make a note's samples depend on what was rendered before.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from rtsynth.bundle import sha256_file
from rtsynth.config import load_config
from rtsynth.dsp.audio import sounding_span
from rtsynth.dsp.pitch import midi_hz
from rtsynth.labels import (
    DYNAMICS,
    DYNAMICS_VELOCITY,
    INSTRUMENT_BY_NAME,
    INSTRUMENT_BY_TINYSOL,
    INSTRUMENTS,
    duration_class,
    duration_class_seconds,
    note_name,
)
from rtsynth.resources import config_file
from rtsynth.settings import PAPER_TRIM
from rtsynth.train.corpus.gm_coverage import (
    InstrumentCover,
    coverage_json,
    key_spans,
    log_coverage,
    soundfont_coverage,
    timidity_coverage,
)
from rtsynth.train.corpus.renderers import GmRenderError, open_player, renderer_name, renderer_version, uses_timidity
from rtsynth.train.corpus.sf2 import SoundFontReadError

log = logging.getLogger(__name__)

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
LABEL_COLUMNS = ("path", "instrument", "pitch", "dynamics", "gm_program", "velocity", "take", "aim_s", "held_s", "seed")
TAIL_GUESS_S = 0.15  # median FluidR3_GM release tail after the -40 dB trim: the first held-time guess
MAX_SHELF_DB = 48.0  # beyond this the shelf would push the rest of the note toward the mel's 80 dB floor
LOWPASS_ORDER = 4  # of the soft notes' low-pass (why: `dynamics_colour`)
SHELF_HZ = 1000.0  # corner of the loud notes' high shelf
AIM_TOLERANCE_S = 0.012  # about one trim hop (512 samples at 44.1 kHz): the search stops within this
AIM_MISS_S = 0.035  # the span moves in steps of up to 3 hops as the held time grows: further off is a miss
AIM_TRIES = 6


@dataclass(frozen=True)
class PlayableRange:
    lowest: int  # MIDI
    highest: int
    takes: int  # notes per (pitch, dynamics), as TinySOL has recordings per pitch and dynamics


# Source: TinySOL itself (Cella et al., Zenodo record 3685367, version 6.0), the lowest and
# highest MIDI pitch of each instrument's ordinario recordings, read from the track ids of
# mirdata's tinysol_index_6.0.json (all 2913 notes; every range is chromatically complete).
# `takes` = TinySOL's recordings per (pitch, dynamics) rounded (strings: one per string that
# reaches the pitch; accordion: several registers), so the default plan matches TinySOL's
# size (2916 vs. 2913 notes) and its instrument balance. Keys where a SoundFont preset has
# no sample (FluidR3_GM: contrabass above A3, violin A#6, accordion C#8) render silent and
# are skipped and listed in the summary, never written.
RANGES: dict[str, PlayableRange] = {
    "tuba": PlayableRange(30, 65, 1),  # F#1-F4
    "horn": PlayableRange(31, 77, 1),  # G1-F5
    "trombone": PlayableRange(34, 72, 1),  # A#1-C5
    "trumpet": PlayableRange(54, 86, 1),  # F#3-D6
    "accordion": PlayableRange(28, 109, 3),  # E1-C#8
    "contrabass": PlayableRange(28, 72, 2),  # E1-C5
    "violin": PlayableRange(55, 100, 2),  # G3-E7
    "viola": PlayableRange(48, 96, 2),  # C3-C7
    "cello": PlayableRange(36, 84, 2),  # C2-C6
    "bassoon": PlayableRange(34, 75, 1),  # A#1-D#5
    "clarinet": PlayableRange(50, 91, 1),  # D3-G6 (sounding)
    "flute": PlayableRange(59, 98, 1),  # B3-D7
    "oboe": PlayableRange(58, 93, 1),  # A#3-A6
    "alto_sax": PlayableRange(49, 81, 1),  # C#3-A5 (sounding)
}


@dataclass(frozen=True)
class GmRenderConfig:
    """The GM-SOL setup; the packaged gm-sol config holds the named default, CLI flags override it."""

    soundfont: str = DEFAULT_SOUNDFONT
    instruments: tuple[str, ...] = ()  # names or TinySOL abbreviations; empty: all 14
    pitch_range: tuple[int, ...] | None = None  # (lowest, highest) MIDI, intersected with each range
    dynamics: tuple[str, ...] = DYNAMICS
    takes: int | None = None  # notes per (pitch, dynamics); None: as TinySOL (RANGES)
    count: int | None = None  # seeded subsample of the plan
    seed: int = 0
    workers: int = 2
    sample_rate: int = 44100
    # FluidR3_GM at gain 1.6: ff peaks reach about -3.5 dBFS, pp sits near -30 dBFS.
    gain: float = 1.6
    # Sounding durations (prep's -40 dB trim) are aimed at the centre of a duration class
    # (uniform over these classes, 250 ms apart) +- the jitter; the held time is searched
    # per note because release tails differ (FluidR3_GM: 0.03-0.4 s). Why centres: with
    # uniform durations a tenth of the notes sit within a mel frame of a class border,
    # where no model can name the class (the duration label capped at ~0.87 accuracy).
    aim_classes: tuple[int, ...] = (1, PAPER_TRIM.max_duration_classes)  # lowest, highest
    aim_jitter_s: float = 0.05
    max_seconds: float = 8.0  # file length cap (held time + release tail)
    # Dynamics colour: a low-pass for pp, mf, ff at this many times f0 (0 = none). See
    # `dynamics_colour` for why GM-SOL needs it.
    lowpass_harmonics: tuple[float, ...] = (2.0, 5.0, 0.0)
    # ... and/or a high shelf above SHELF_HZ with this gain in dB for pp, mf, ff (+ brightens,
    # - darkens; 0 = none). Why a boost for loud notes instead of a cut for soft ones: see
    # `dynamics_shelf`.
    shelf_db: tuple[float, ...] = (0.0, 0.0, 0.0)

    def validated(self) -> GmRenderConfig:
        """This config with instrument abbreviations resolved; GmRenderError names a bad value."""
        problems = []
        if self.pitch_range is not None and (len(self.pitch_range) != 2 or self.pitch_range[0] > self.pitch_range[1]):
            problems.append(f"pitch_range must be LO HI with LO <= HI, got {list(self.pitch_range)}")
        unknown_dyn = [d for d in self.dynamics if d not in DYNAMICS_VELOCITY]
        if unknown_dyn or not self.dynamics:
            problems.append(f"dynamics must be some of {list(DYNAMICS_VELOCITY)}, got {list(self.dynamics)}")
        for name, value, low in (("takes", self.takes, 1), ("count", self.count, 1), ("workers", self.workers, 1)):
            if value is not None and value < low:
                problems.append(f"{name} must be at least {low}, got {value}")
        step = PAPER_TRIM.duration_step
        if len(self.aim_classes) != 2 or not 1 <= self.aim_classes[0] <= self.aim_classes[1]:
            problems.append(f"aim_classes must be LO HI with 1 <= LO <= HI, got {list(self.aim_classes)}")
        elif not 0 <= self.aim_jitter_s < step / 2 or self.aim_classes[1] * step + 1.0 > self.max_seconds:
            problems.append(
                f"need 0 <= aim_jitter_s < {step / 2} and the longest aimed class + 1 s "
                f"of release within max_seconds ({self.max_seconds})"
            )
        if not 0 < self.gain <= 10:
            problems.append(f"gain must be in (0, 10], got {self.gain}")
        if len(self.lowpass_harmonics) != len(DYNAMICS) or min(self.lowpass_harmonics) < 0:
            problems.append(
                f"lowpass_harmonics needs {len(DYNAMICS)} values >= 0 (pp, mf, ff), got {list(self.lowpass_harmonics)}"
            )
        if len(self.shelf_db) != len(DYNAMICS) or max(map(abs, self.shelf_db), default=0) > MAX_SHELF_DB:
            problems.append(
                f"shelf_db needs {len(DYNAMICS)} gains within +-{MAX_SHELF_DB:g} dB (pp, mf, ff), "
                f"got {list(self.shelf_db)}"
            )
        if problems:
            raise GmRenderError("; ".join(problems))
        return dataclasses.replace(self, instruments=resolve_instruments(self.instruments))


def resolve_instruments(names: tuple[str, ...]) -> tuple[str, ...]:
    """Canonical names for names or TinySOL abbreviations (any case); empty means all."""
    if not names:
        return tuple(i.name for i in INSTRUMENTS)
    by_key = {k.lower(): i.name for k, i in {**INSTRUMENT_BY_NAME, **INSTRUMENT_BY_TINYSOL}.items()}
    unknown = [n for n in names if n.lower() not in by_key]
    if unknown:
        known = ", ".join(f"{i.name} ({i.tinysol})" for i in INSTRUMENTS)
        raise GmRenderError(f"unknown instruments {unknown}; known: {known}")
    return tuple(dict.fromkeys(by_key[n.lower()] for n in names))


def load_gm_config(path: str | Path | None = None) -> GmRenderConfig:
    """The setup at `path` (a file or a packaged name), else the packaged `gm-sol`."""
    return load_config(GmRenderConfig, config_file(path or "gm-sol"))


@dataclass(frozen=True)
class PlannedNote:
    instrument: str
    gm_program: int
    pitch: int
    dynamics: str
    velocity: int
    take: int
    aim_s: float  # the sounding duration the render aims at
    seed: int  # this note's own seed (drew aim_s)

    @property
    def path(self) -> str:
        """Relative to the corpus root."""
        name = f"{self.instrument}-{self.pitch:03d}-{note_name(self.pitch)}-{self.dynamics}-{self.take}.wav"
        return f"wav/{self.instrument}/{name}"

    def row(self) -> dict:
        return {c: getattr(self, c) for c in LABEL_COLUMNS if c != "held_s"}


def reference_note(instrument: str, pitch: int, dynamics: str, velocity: int, seconds: float) -> PlannedNote:
    """The note the reference renderer plays for a request of `seconds`: its sounding length,
    release included, as for every corpus note and as the engine reads a duration."""
    return PlannedNote(instrument, INSTRUMENT_BY_NAME[instrument].gm_program, pitch, dynamics, velocity, 0, seconds, 0)


def note_seed(run_seed: int, instrument: str, pitch: int, dynamics: str, take: int) -> int:
    """A seed that depends only on the run seed and the note's identity."""
    key = (list(INSTRUMENT_BY_NAME).index(instrument), pitch, list(DYNAMICS_VELOCITY).index(dynamics), take)
    return int(np.random.SeedSequence(run_seed, spawn_key=key).generate_state(1)[0])


def aimed_seconds(seed: int, cfg: GmRenderConfig) -> float:
    """A duration-class centre, drawn uniformly, +- the jitter."""
    rng = np.random.default_rng(seed)
    centre = int(rng.integers(cfg.aim_classes[0], cfg.aim_classes[1] + 1)) * PAPER_TRIM.duration_step
    return round(centre + rng.uniform(-cfg.aim_jitter_s, cfg.aim_jitter_s), 4)


def plan_notes(cfg: GmRenderConfig) -> list[PlannedNote]:
    """Every note to render, in a fixed order (instrument table, pitch, dynamics, take)."""
    cfg = cfg.validated()
    plan = []
    for name in cfg.instruments:
        rng = RANGES[name]
        lowest, highest = rng.lowest, rng.highest
        if cfg.pitch_range is not None:
            lowest, highest = max(lowest, cfg.pitch_range[0]), min(highest, cfg.pitch_range[1])
        for pitch in range(lowest, highest + 1):
            for dynamics in cfg.dynamics:
                for take in range(cfg.takes or rng.takes):
                    seed = note_seed(cfg.seed, name, pitch, dynamics, take)
                    plan.append(
                        PlannedNote(
                            name,
                            INSTRUMENT_BY_NAME[name].gm_program,
                            pitch,
                            dynamics,
                            DYNAMICS_VELOCITY[dynamics],
                            take,
                            aimed_seconds(seed, cfg),
                            seed,
                        )
                    )
    if not plan:
        raise GmRenderError(
            f"nothing to render: pitch range {cfg.pitch_range} is outside the ranges of {list(cfg.instruments)}"
        )
    if cfg.count is not None and cfg.count < len(plan):
        keep = np.random.default_rng(cfg.seed).choice(len(plan), size=cfg.count, replace=False)
        plan = [plan[i] for i in sorted(keep)]
    return plan


# --- playing a note ---------------------------------------------------------------------


def check_soundfont(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise GmRenderError(
            f"SoundFont not found: {path}. Install a General MIDI SoundFont from Debian "
            "(sudo apt-get install fluid-soundfont-gm timgm6mb-soundfont csound-soundfont: "
            "FluidR3_GM.sf2, TimGM6mb.sf2, sf_GMbank.sf2 in /usr/share/sounds/sf2), or TiMidity++'s "
            "freepats (sudo apt-get install timidity freepats: /etc/timidity/freepats.cfg), or pass --soundfont PATH"
        )
    return path


@dataclass(frozen=True)
class AimedAudio:
    audio: np.ndarray
    held_s: float  # note-on to note-off
    sounding_s: float  # what prep will measure as the duration


class NoteSynth:
    """Renders GM-SOL notes with the synthesizer for `cfg.soundfont` (renderers.py): each note
    held so that it sounds the planned length, and coloured for its dynamics."""

    def __init__(self, cfg: GmRenderConfig):
        self.cfg = cfg
        self.sample_rate = cfg.sample_rate
        self.player = open_player(check_soundfont(cfg.soundfont), cfg.sample_rate, cfg.gain, cfg.max_seconds)

    def render(self, note: PlannedNote) -> AimedAudio | None:
        """The note with the held time whose sounding span (prep's trim rule) measures
        `note.aim_s`, as closely as the preset's release allows; a few renders, each of the
        note alone. None when the preset has no sample for the key."""
        held_s, best = note.aim_s - TAIL_GUESS_S, None
        for _ in range(AIM_TRIES):
            steps = self.player.steps_for(held_s)
            audio = self.render_held(note, steps)
            if audio is None:
                return None
            start, end = sounding_span(to_pcm16(audio) / np.float32(32768), PAPER_TRIM)  # as prep reads the file
            take = AimedAudio(audio, self.player.held_seconds(steps), (end - start) / self.sample_rate)
            error = take.sounding_s - note.aim_s
            if best is None or abs(error) < abs(best.sounding_s - note.aim_s):
                best = take
            if abs(error) <= AIM_TOLERANCE_S or (steps == 1 and error > 0):
                break
            held_s = take.held_s - error
        return best

    def sounding(self, note: PlannedNote) -> np.ndarray | None:
        """The audio of `render`: the note that sounds `note.aim_s`."""
        aimed = self.render(note)
        return None if aimed is None else aimed.audio

    def render_held(self, note: PlannedNote, steps: int) -> np.ndarray | None:
        """Mono float audio: note-on, `steps` of the player's time steps, note-off, release tail
        until silence (capped), coloured for its dynamics."""
        try:
            audio = self.player.play(note.gm_program, note.pitch, note.velocity, steps)
        except GmRenderError as err:
            raise GmRenderError(f"{note.instrument}: {err}") from None
        return None if audio is None else coloured_for(audio, self.sample_rate, note.dynamics, note.pitch, self.cfg)

    def close(self) -> None:
        self.player.close()


def coloured_for(audio: np.ndarray, sample_rate: int, dynamics: str, pitch: int, cfg: GmRenderConfig) -> np.ndarray:
    """A note's audio with the colour `cfg` gives its dynamics: the low-pass, then the shelf."""
    k = DYNAMICS.index(dynamics)
    audio = dynamics_colour(audio, sample_rate, cfg.lowpass_harmonics[k] * midi_hz(pitch), LOWPASS_ORDER)
    return dynamics_shelf(audio, sample_rate, SHELF_HZ, cfg.shelf_db[k])


def dynamics_colour(audio: np.ndarray, sample_rate: int, cutoff: float, order: int) -> np.ndarray:
    """Darken soft notes with a low-pass of `order` at `cutoff` Hz (0: unchanged).

    Why: real instruments (and TinySOL) brighten as they play louder, but FluidR3_GM's
    presets mostly change only the level with velocity. Prep normalises each note to its
    own peak (Dal Rí et al.), which would then erase dynamics for most instruments and leave
    the V latent nothing to learn. A pitch-tracked cutoff gives every register the same
    spectral tilt per dynamic; the note's energy is kept, so the level difference that the
    velocity made stays in the audio. A 2nd-order filter at 4 and 10 x f0 was too gentle to
    see within the mel's 80 dB range next to each instrument's own spectral envelope: an
    independent CNN named the dynamics of only 74 % of held-out notes. 4th order at 2 and
    5 x f0 leaves pp nearly the fundamental and mf the first few harmonics, as soft brass
    and reeds sound, but it leaves soft notes too little to tell the instrument by
    (`rtsynth data probe`: 87 % of pp instruments, 99 % of ff). Brightening loud notes instead
    (`dynamics_shelf`, the gm-sol-shelf config) keeps them.
    """
    from scipy.signal import butter, sosfilt

    if cutoff <= 0 or cutoff >= 0.45 * sample_rate:
        return audio
    sos = butter(order, cutoff, btype="low", fs=sample_rate, output="sos")
    dark = sosfilt(sos, audio)
    return with_energy_of(audio, dark)


def dynamics_shelf(audio: np.ndarray, sample_rate: int, corner_hz: float, gain_db: float) -> np.ndarray:
    """A high shelf of `gain_db` above `corner_hz` (2nd order, RBJ cookbook, slope 1); the
    note's energy is kept, as in `dynamics_colour`; 0 dB: unchanged.

    Why a boost of loud notes rather than a cut of soft ones: prep normalises each note to its
    peak, so only the shape of the spectrum can tell the dynamics, and either way the mels of
    the three dynamics differ by the same shelf. But a cut pushes a soft note's weak upper
    harmonics under the 16-bit floor and the mel's 80 dB range, where they no longer tell the
    instrument; a boost lifts a loud note's upper harmonics and lowers nothing that was near
    the floor.
    """
    from scipy.signal import lfilter

    if gain_db == 0:
        return audio
    amp, w0 = 10 ** (gain_db / 40), 2 * np.pi * corner_hz / sample_rate
    cos_w0, root = np.cos(w0), 2 * np.sqrt(amp) * np.sin(w0) / np.sqrt(2)  # 2 sqrt(A) alpha at slope 1
    b = amp * np.array(
        [
            (amp + 1) + (amp - 1) * cos_w0 + root,
            -2 * ((amp - 1) + (amp + 1) * cos_w0),
            (amp + 1) + (amp - 1) * cos_w0 - root,
        ]
    )
    a = np.array(
        [
            (amp + 1) - (amp - 1) * cos_w0 + root,
            2 * ((amp - 1) - (amp + 1) * cos_w0),
            (amp + 1) - (amp - 1) * cos_w0 - root,
        ]
    )
    shaped = lfilter(b / a[0], a / a[0], audio.astype(np.float64))
    return with_energy_of(audio, shaped)


def with_energy_of(original: np.ndarray, shaped: np.ndarray) -> np.ndarray:
    """`shaped` (float32) scaled to the energy of `original`: a dynamics colour changes the
    spectrum, while the level of each dynamic stays the one the velocity gave."""
    gain = np.sqrt(np.sum(np.square(original, dtype=np.float64)) / max(np.sum(np.square(shaped)), 1e-30))
    return (shaped * gain).astype(np.float32)


# --- rendering --------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteResult:
    index: int  # position in the plan
    status: str  # "rendered" | "kept" (identical file from an earlier run) | "silent" (no sample)
    peak: float  # linear, before 16-bit quantisation (kept: from the file)
    seconds: float
    held_s: float = 0.0
    sounding_s: float = 0.0


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Round and clip ourselves so the bytes never depend on libsndfile's conversion."""
    return np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)


def write_wav_atomic(path: Path, pcm: np.ndarray, sample_rate: int, comment: str) -> None:
    """Temp file + rename, so an interrupted render leaves no half-written WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with sf.SoundFile(tmp, "w", sample_rate, 1, "PCM_16", format="WAV") as f:
        f.comment = comment  # the render key: what made this file (plan row + render settings)
        f.write(pcm)
    os.replace(tmp, path)


def existing_matches(path: Path, key: dict) -> tuple[np.ndarray, dict] | None:
    """(audio, what its render measured) of an earlier run's file made from the same key, else None."""
    try:
        with sf.SoundFile(path) as f:
            made = json.loads(f.comment or "null")
            if not isinstance(made, dict) or made.get("key") != key:
                return None
            return f.read(dtype="float32"), made["measured"]
    except (OSError, RuntimeError, ValueError, KeyError):  # unreadable, half-written or foreign: render again
        return None


def render_key(note: PlannedNote, render_info: dict) -> dict:
    """What makes a note's file: its plan row and the render settings (JSON round-trip safe)."""
    return json.loads(json.dumps({"plan": note.row(), "render": render_info}))


def render_one(synth: NoteSynth, note: PlannedNote, index: int, out: Path, render_info: dict) -> NoteResult:
    path, key = out / note.path, render_key(note, render_info)
    old = existing_matches(path, key) if path.exists() else None
    if old is not None:
        audio, measured = old
        return NoteResult(
            index, "kept", float(np.abs(audio).max(initial=0.0)), len(audio) / synth.sample_rate, **measured
        )
    aimed = synth.render(note)
    peak = 0.0 if aimed is None else float(np.abs(aimed.audio).max(initial=0.0))
    if aimed is None or peak == 0.0:
        return NoteResult(index, "silent", 0.0, 0.0)
    measured = {"held_s": aimed.held_s, "sounding_s": aimed.sounding_s}
    comment = json.dumps({"key": key, "measured": measured}, sort_keys=True, separators=(",", ":"))
    write_wav_atomic(path, to_pcm16(aimed.audio), synth.sample_rate, comment)
    return NoteResult(index, "rendered", peak, len(aimed.audio) / synth.sample_rate, **measured)


@dataclass(frozen=True)
class RenderJob:
    """A planned note rendered and written by this process's synthesizer (made once per process)."""

    cfg: GmRenderConfig
    out: Path
    render_info: dict

    def __call__(self, item: tuple[int, PlannedNote]) -> NoteResult:
        index, note = item
        return render_one(_process_synth(self.cfg), note, index, self.out, self.render_info)


_synth: list[tuple[GmRenderConfig, NoteSynth]] = []  # this process's synthesizer and its config, at most one


def _process_synth(cfg: GmRenderConfig) -> NoteSynth:
    if _synth and _synth[0][0] != cfg:
        _close_process_synth()
    if not _synth:
        _synth.append((cfg, NoteSynth(cfg)))
    return _synth[0][1]


def _close_process_synth() -> None:
    while _synth:
        _synth.pop()[1].close()


def _render_all(plan: list[PlannedNote], cfg: GmRenderConfig, out: Path, render_info: dict, progress: bool):
    """NoteResults in plan order, from `cfg.workers` processes (rtsynth.train.jobs)."""
    from tqdm import tqdm

    from rtsynth.train.jobs import ordered_map

    rendered = ordered_map(RenderJob(cfg, out, render_info), list(enumerate(plan)), cfg.workers)
    try:
        return list(tqdm(rendered, total=len(plan), unit="note", desc="GM-SOL", disable=not progress, mininterval=1.0))
    finally:
        _close_process_synth()  # the one this process made when it rendered alone


def remove_partial_files(out: Path) -> None:
    """Temp files an interrupted run left behind (only ours: *.wav.part under out/wav)."""
    for tmp in (out / "wav").glob("*/*.wav.part"):
        tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)


def labels_csv(written: list[tuple[PlannedNote, NoteResult]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(note.row() | {"held_s": result.held_s} for note, result in written)
    return buf.getvalue()


def planned_coverage(soundfont: Path, plan: list[PlannedNote]) -> dict[str, InstrumentCover]:
    """What the SoundFont gives each planned instrument's planned keys (logged per instrument)."""
    keys: dict[str, set[int]] = {}
    for note in plan:
        keys.setdefault(note.instrument, set()).add(note.pitch)
    cover = timidity_coverage if uses_timidity(soundfont) else soundfont_coverage
    try:
        coverage = cover(soundfont, keys)
    except SoundFontReadError as err:
        raise GmRenderError(str(err)) from None
    log_coverage(coverage)
    return coverage


def render_corpus(cfg: GmRenderConfig, out: str | Path, progress: bool = True) -> dict:
    """Render the plan of `cfg` into `out`; returns the summary (also written to summary.json)."""
    started = time.perf_counter()
    cfg = cfg.validated()
    plan = plan_notes(cfg)
    soundfont = check_soundfont(cfg.soundfont)
    render_info = {
        **renderer_version(soundfont),
        "soundfont_sha256": sha256_file(soundfont),
        "gain": cfg.gain,
        "sample_rate": cfg.sample_rate,
        "max_seconds": cfg.max_seconds,
        "lowpass_harmonics": list(cfg.lowpass_harmonics),
        "lowpass_order": LOWPASS_ORDER,
        # only when set: renders made before the option keep their keys (and are kept)
        **({"shelf_db": list(cfg.shelf_db), "shelf_hz": SHELF_HZ} if any(cfg.shelf_db) else {}),
        "aim_tolerance_s": AIM_TOLERANCE_S,
    }
    coverage = planned_coverage(soundfont, plan)
    playable = [n for n in plan if coverage[n.instrument].preset is not None]
    if not playable:
        raise GmRenderError(f"{soundfont} has no General MIDI preset for any of {list(cfg.instruments)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_partial_files(out)
    log.info("GM-SOL: %d notes planned, %d worker(s), SoundFont %s", len(plan), cfg.workers, soundfont)
    results = _render_all(playable, cfg, out, render_info, progress)
    written = [(playable[r.index], r) for r in results if r.status != "silent"]
    write_text_atomic(out / "labels.csv", labels_csv(written))
    summary = summarize(cfg, playable, results, render_info, time.perf_counter() - started)
    summary |= {"notes_planned": len(plan), "notes_without_preset": len(plan) - len(playable)}
    summary["coverage"] = coverage_json(coverage)
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    log_summary(summary)
    return summary


# --- summary ----------------------------------------------------------------------------


def _dbfs(peaks: list[float]) -> dict:
    if not peaks:
        return {}
    db = 20 * np.log10(np.asarray(peaks))
    return {name: round(float(f(db)), 1) for name, f in (("min", np.min), ("median", np.median), ("max", np.max))}


def summarize(cfg, plan, results, render_info, wall_seconds) -> dict:
    done = [(plan[r.index], r) for r in results if r.status != "silent"]
    counts = {name: {d: 0 for d in cfg.dynamics} for name in cfg.instruments}
    pitches: dict[str, list[int]] = {}
    for note, _ in done:
        counts[note.instrument][note.dynamics] += 1
        pitches.setdefault(note.instrument, []).append(note.pitch)
    classes = Counter(duration_class(r.sounding_s) for _, r in done)
    missed = [n.path for n, r in done if abs(r.sounding_s - n.aim_s) > AIM_MISS_S]
    clipped = [n.path for n, r in done if r.peak > 1.0]
    return {
        "corpus": "gm-sol",
        "notes_planned": len(plan),
        "notes_written": len(done),
        "rendered_now": sum(r.status == "rendered" for r in results),
        "kept_from_earlier_run": sum(r.status == "kept" for r in results),
        "silent_skipped": [plan[r.index].path for r in results if r.status == "silent"],
        "clipped": clipped,
        "counts": counts,
        "pitch_ranges": {k: [min(v), max(v)] for k, v in pitches.items()},
        "duration_classes": {f"{duration_class_seconds(c):.2f}": classes[c] for c in sorted(classes)},
        "missed_aim": missed,
        "peak_dbfs": {d: _dbfs([r.peak for n, r in done if n.dynamics == d]) for d in cfg.dynamics},
        "audio_seconds": round(sum(r.seconds for _, r in done), 1),
        "wall_seconds": round(wall_seconds, 1),
        "renderer": renderer_name(render_info),
        "soundfont": str(cfg.soundfont),
        "soundfont_sha256": render_info["soundfont_sha256"],
        "config": dataclasses.asdict(cfg),
    }


def _silent_keys(paths: list[str]) -> str:
    """'contrabass 58-72, violin 94' from the skipped notes' paths."""
    keys: dict[str, set[int]] = {}
    for path in paths:
        instrument, pitch = Path(path).stem.split("-")[:2]
        keys.setdefault(instrument, set()).add(int(pitch))
    return ", ".join(f"{instrument} {key_spans(pitches)}" for instrument, pitches in keys.items())


def log_summary(summary: dict) -> None:
    dynamics = list(next(iter(summary["counts"].values())))
    log.info(
        "GM-SOL: %d notes written (%d rendered, %d kept) of %d planned in %.1f s; %s",
        summary["notes_written"],
        summary["rendered_now"],
        summary["kept_from_earlier_run"],
        summary["notes_planned"],
        summary["wall_seconds"],
        summary["renderer"],
    )
    log.info("%-11s %s  pitches", "instrument", " ".join(f"{d:>4}" for d in dynamics))
    for name, per_dyn in summary["counts"].items():
        lo_hi = summary["pitch_ranges"].get(name)
        span = f"{note_name(lo_hi[0])}-{note_name(lo_hi[1])}" if lo_hi else "-"
        log.info("%-11s %s  %s", name, " ".join(f"{per_dyn[d]:>4}" for d in dynamics), span)
    log.info("notes per duration class (s): %s", ", ".join(f"{k}: {v}" for k, v in summary["duration_classes"].items()))
    if summary["missed_aim"]:
        log.info(
            "%d notes sound longer than aimed (a release tail longer than the aimed duration); "
            "prep labels them by what they measure",
            len(summary["missed_aim"]),
        )
    log.info("peak dBFS: %s", "; ".join(f"{d} {v}" for d, v in summary["peak_dbfs"].items()))
    if summary["silent_skipped"]:
        log.warning(
            "%d notes rendered silent, skipped (no sample for the key in the SoundFont: %s; listed in summary.json)",
            len(summary["silent_skipped"]),
            _silent_keys(summary["silent_skipped"]),
        )
    if summary["clipped"]:
        log.warning(
            "%d notes clipped at 16 bit (lower the gain): %s", len(summary["clipped"]), ", ".join(summary["clipped"])
        )
