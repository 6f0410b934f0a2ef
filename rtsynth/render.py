"""`rtsynth render`: one note or a standard MIDI file to WAV, through the offline engine.

The offline backend runs the live engine's own voices, latent mapping and mixer on a
virtual clock, so a render is what `rtsynth serve` would play, sample for sample.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtsynth.engine.config import EngineConfig
from rtsynth.engine.events import (
    Event,
    MorphCorner,
    MorphPosition,
    MorphTime,
    NoteOff,
    NoteOn,
    PitchBend,
    SelectTimbre,
    Sustain,
)
from rtsynth.resources import default_bundle

log = logging.getLogger(__name__)

OUTPUT_RATES = (44100, 48000)
MIDI_BEND_RANGE = 2.0  # semitones at full pitch-wheel travel, the General MIDI default


class RenderError(ValueError):
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
    if not 0 <= request.note <= 127:
        raise RenderError(f"--note must be a MIDI note 0-127, got {request.note}")
    if not 1 <= request.velocity <= 127:
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
    start = 0.01
    events += [
        NoteOn(request.note, request.velocity / 127, request.duration, at=start),
        NoteOff(request.note, at=start + request.duration),
    ]
    return events


def _timbre_ref(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def midi_events(path: str | Path) -> list[Event]:
    """A standard MIDI file as engine events: notes with their held durations (which select
    the duration latent), sustain pedal, pitch bend, and program changes as timbre indices."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError) as err:
        raise RenderError(f"cannot read MIDI file {path}: {err}") from None
    messages, now = [], 0.0
    for message in midi:  # merged tracks, delta times in seconds with the tempo map applied
        now += message.time
        if not message.is_meta:
            messages.append((now, message))
    return _to_events(messages)


def _to_events(messages: list) -> list[Event]:
    events: list[Event] = []
    open_notes: dict[tuple[int, int], list[int]] = {}  # (channel, note) -> indices of NoteOn events
    for at, m in messages:
        if m.type == "note_on" and m.velocity > 0:
            open_notes.setdefault((m.channel, m.note), []).append(len(events))
            events.append(NoteOn(m.note, m.velocity / 127, None, channel=m.channel, at=at))
        elif m.type in ("note_off", "note_on"):
            starts = open_notes.get((m.channel, m.note))
            if starts:
                index = starts.pop(0)
                on = events[index]
                events[index] = NoteOn(on.note, on.velocity, max(at - on.at, 1e-3), channel=on.channel, at=on.at)
                events.append(NoteOff(m.note, channel=m.channel, at=at))
        elif m.type == "program_change":
            events.append(SelectTimbre(m.program, channel=m.channel, at=at))
        elif m.type == "control_change" and m.control == 64:
            events.append(Sustain(m.value >= 64, channel=m.channel, at=at))
        elif m.type == "pitchwheel":
            events.append(PitchBend(m.pitch / 8192 * MIDI_BEND_RANGE, channel=m.channel, at=at))
    return events


def render(
    bundle: str | Path, events: list[Event], config: EngineConfig, skip_unknown_programs: bool = False
) -> np.ndarray:
    """Events through the offline engine. An event that cannot apply raises ValueError, except
    that MIDI program changes beyond the model's timbres may be skipped with a warning."""
    from rtsynth.engine.backends import OfflineRenderer

    renderer = OfflineRenderer(bundle, config)
    if skip_unknown_programs:
        events = _known_programs(events, renderer.engine.controller.space)
    return renderer.render(events)


def _known_programs(events: list[Event], space) -> list[Event]:
    kept = []
    for event in events:
        if isinstance(event, SelectTimbre) and not 0 <= event.timbre < space.n_timbres:
            log.warning(
                "skipping program change %d at %.2f s: the model has %d timbres (programs 0-%d)",
                event.timbre,
                event.at,
                space.n_timbres,
                space.n_timbres - 1,
            )
            continue
        kept.append(event)
    return kept


def write_wav(path: str | Path, audio: np.ndarray, samplerate: int) -> Path:
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, samplerate, subtype="PCM_24")
    return path


def render_command(args) -> int:
    try:
        if args.samplerate not in OUTPUT_RATES:
            raise RenderError(f"--samplerate must be one of {OUTPUT_RATES}, got {args.samplerate}")
        bundle = resolve_bundle(args.bundle)
        if args.midi:
            events = midi_events(args.midi)
        elif args.note is not None:
            events = note_events(
                NoteRequest(
                    args.note, args.velocity, args.duration, args.timbre, tuple(args.morph or ()), args.x, args.y
                )
            )
        else:
            raise RenderError("give --note N (one note) or --midi FILE")
        config = EngineConfig(samplerate=args.samplerate, gain=args.gain, vocoder=args.vocoder or "")
        audio = render(bundle, events, config, skip_unknown_programs=bool(args.midi))
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
