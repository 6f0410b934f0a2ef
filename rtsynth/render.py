"""`rtsynth render`: one note or a standard MIDI file to WAV, through the offline engine.

The offline backend runs the live engine's own voices, latent mapping and mixer on a
virtual clock, so a render is what `rtsynth serve` would play, sample for sample.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rtsynth.bundle import read_spec
from rtsynth.control.midi import MidiMapper, UnmappedProgram
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.events import Event, MorphCorner, MorphPosition, MorphTime, NoteOn, SelectTimbre
from rtsynth.errors import RtsynthError
from rtsynth.labels import MIDI_MAX, velocity_unit
from rtsynth.resources import default_bundle

log = logging.getLogger(__name__)

OUTPUT_RATES = (44100, 48000)
MAX_RENDER_SECONDS = 3600.0  # an hour: longer input is refused, not cut short
SILENCE_DBFS = -120.0  # a render whose peak stays below this played nothing


class RenderError(RtsynthError, ValueError):
    """A render request that cannot be done; the message says what to change."""


def resolve_bundle(bundle: str | None) -> Path:
    """The bundle to use: the one given, else the shipped default; RenderError if absent."""
    path = Path(bundle) if bundle else default_bundle()
    if not path.is_dir():
        hint = "" if bundle else " (the default model is not installed; pass --bundle DIR or export one)"
        raise RenderError(f"no bundle at {path}{hint}")
    return path


@dataclass(frozen=True)
class NoteRequest:
    note: int
    velocity: int  # MIDI 1-127
    duration: float  # seconds held
    timbre: str | None = None
    morph: tuple[str, ...] = ()  # 1 more timbre: a-b by x; 3 more: bilinear a b / c d by x, y
    x: float = 0.5
    y: float = 0.5


def note_events(request: NoteRequest) -> list[Event]:
    """Events that play one note, held `duration` seconds, at the requested timbre point."""
    if not 0 <= request.note <= MIDI_MAX:
        raise RenderError(f"--note must be a MIDI note 0-127, got {request.note}")
    if not 1 <= request.velocity <= MIDI_MAX:
        raise RenderError(f"--velocity must be 1-127, got {request.velocity}")
    if not request.duration > 0:
        raise RenderError(f"--duration must be positive seconds, got {request.duration}")
    events: list[Event] = [MorphTime(0.0, at=0.0)]  # the asked-for timbre from the first sample, no glide
    timbre = _timbre_ref(request.timbre) if request.timbre is not None else None
    if request.morph:
        if len(request.morph) not in (1, 3):
            raise RenderError("--morph takes one timbre (a-b morph by --x) or three (a b / c d by --x --y)")
        corners = [timbre if timbre is not None else 0, *(_timbre_ref(t) for t in request.morph)]
        events += [MorphCorner(c, t, at=0.0) for c, t in zip("abcd", corners)]
        events.append(MorphPosition(request.x, request.y if len(corners) == 4 else None, at=0.0))
    elif timbre is not None:
        events.append(SelectTimbre(timbre, at=0.0))
    events.append(NoteOn(request.note, velocity_unit(request.velocity), request.duration, at=0.01, one_shot=True))
    return events


def _timbre_ref(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def midi_events(path: str | Path, timbres: Sequence[str], mapper: MidiMapper | None = None) -> list[Event]:
    """A standard MIDI file as engine events, each message through the live MIDI mapper (so a
    file renders as the same messages from a keyboard would play) at its time in the file.
    A program change to an instrument the model lacks is skipped with a warning."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError) as err:
        reason = str(err) or ("the file is empty" if Path(path).stat().st_size == 0 else type(err).__name__)
        raise RenderError(f"cannot read MIDI file {path}: {reason}") from None
    mapper = mapper or MidiMapper()
    events: list[Event] = []
    now = 0.0
    for message in midi:  # merged tracks, delta times in seconds with the tempo map applied
        now += message.time
        if message.is_meta or message.type == "sysex":
            continue
        try:
            mapped = mapper.events(tuple(message.bytes()), timbres)
        except UnmappedProgram as err:
            log.warning("skipping %s at %.2f s", err, now)
            continue
        events.extend(replace(event, at=now) for event in mapped)
    return events


def render(bundle: str | Path, events: list[Event], config: EngineConfig) -> np.ndarray:
    """Events through the offline engine; ValueError for an event that cannot apply, and
    RenderError for input longer than an hour or a render that comes out silent."""
    from rtsynth.engine.backends import OfflineRenderer

    last = max((e.at for e in events if e.at is not None), default=0.0)
    if last > MAX_RENDER_SECONDS:
        raise RenderError(f"the input lasts {last:.0f} s; rtsynth render renders at most {MAX_RENDER_SECONDS:.0f} s")
    audio = OfflineRenderer(bundle, config).render(events, max_seconds=MAX_RENDER_SECONDS)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if 20 * np.log10(max(peak, 1e-12)) < SILENCE_DBFS:
        raise RenderError(f"the render is silent (peak below {SILENCE_DBFS:g} dBFS): nothing written")
    return audio


def write_wav(path: str | Path, audio: np.ndarray, samplerate: int) -> Path:
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, samplerate, subtype="PCM_24")
    return path


def render_command(args: argparse.Namespace) -> int:
    try:
        if args.samplerate not in OUTPUT_RATES:
            raise RenderError(f"--samplerate must be one of {OUTPUT_RATES}, got {args.samplerate}")
        bundle = resolve_bundle(args.bundle)
        if args.midi:
            events = midi_events(args.midi, read_spec(bundle).vocab.timbre)
        elif args.note is not None:
            events = note_events(
                NoteRequest(
                    args.note, args.velocity, args.duration, args.timbre, tuple(args.morph or ()), args.x, args.y
                )
            )
        else:
            raise RenderError("give --note N (one note) or --midi FILE")
        config = EngineConfig(samplerate=args.samplerate, a4_hz=args.a4_hz, gain=args.gain, vocoder=args.vocoder or "")
        audio = render(bundle, events, config)
    except ValueError as err:  # RenderError, BundleError, bad timbre names, bad settings
        log.error("%s", err)
        return 2
    path = write_wav(args.output, audio, args.samplerate)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    log.info(
        "wrote %s: %.2f s at %d Hz, peak %.1f dBFS",
        path,
        len(audio) / args.samplerate,
        args.samplerate,
        20 * np.log10(max(peak, 1e-9)),
    )
    return 0
