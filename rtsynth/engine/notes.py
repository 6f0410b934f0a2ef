"""What a note is to the renderer, and how a moving control becomes a per-frame mel.

While a channel's control vector moves (a morph, an offset), a note's latent changes from
frame to frame. Decoding every frame's latent would cost a decoder run per frame, so the
channel's timeline is sampled at a few "keys" (its breakpoints, plus points along each move;
one batched decode) and each frame's mel is interpolated in time between the two keys around
it. The note's level follows the same timeline; it is folded into the mel (frames quieter than
the loudest are shifted down the dB scale), so one vocoder gain serves the whole note.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from rtsynth.engine.channels import Timeline
from rtsynth.engine.latent import LatentSpace

KEY_SPACING_S = 0.05  # along a move, a decoder key at least this often ...
MAX_KEYS = 10  # ... up to this many keys per note
ATTACK_S = 0.1  # a note's first frames play as decoded; only what follows is fitted to its length
SOUNDING_TOP_DB = 40.0  # a note sounds while within this of its loudest frame (prep's trim rule) ...
# ... and, read by that rule's centred windows, ends about this far past the crossing (the shipped
# model's tail: 1.0 left its notes a median 13 ms long, 88 % of them within 20 ms; 1.4, +3 ms and 99 %)
TRIM_REACH_FRAMES = 1.4
WINDOW_TAIL_S = 0.2  # a note fitted to its length needs this much of the decoded window after its end
# prep's trim rule reads a release's end about this far past where it falls SOUNDING_TOP_DB (its
# centred 43 ms windows at 48 kHz): 7 s notes of every timbre, 3 keys, pp and ff read 8-19 ms long
# without it (median 19), -24-+8 ms with it (median -3; the worst a soft oboe's)
RELEASE_READ_S = 0.013


@dataclass(frozen=True)
class NoteSpec:
    """A note as asked for; its latent is recomputed from this whenever it is (re)rendered."""

    voice: int
    channel: int
    note: int
    velocity: float  # 0-1
    duration: float | None
    timbre: int | None  # a fixed cluster, else the channel's timbre point
    start: float  # engine time of its first sample
    arrival: float | None  # when the request arrived (None: scheduled ahead, no latency record)
    epoch: int  # the engine's panic count when it was asked for


@dataclass(frozen=True)
class TimbreBlend:
    """The keys of a note between timbres, each also at its timbres' own means (same pitch,
    dynamics, duration and offsets): each frame of a key is set to the weighted dB mean of the
    same frame of theirs, so a morph moves the level from one timbre's to the other's without
    the swells and dips the decoder has between them (`rtsynth.engine.decoding.level_of_blends`)."""

    corners: np.ndarray  # [k, c, 20] latents
    weights: np.ndarray  # [k, c] each key's weight of each corner (rows sum to 1)


@dataclass(frozen=True)
class LengthFit:
    """Which decoded frame each played frame reads, so that a note sounds the length asked for.

    The decoder knows one sounding length per duration class (the labels' 0.25 s steps), meets
    it only roughly, and a transposed mel plays its frames faster; after the attack, the frames
    are stretched or squeezed in time so that where the decoded note stops sounding lands on
    the asked end."""

    attack: float  # frames played as decoded
    source_end: float  # where the decoded note ends, in its frames (its class's length until measured)
    target_end: float  # where the asked note ends, in played frames

    def ending_where(self, levels_db: np.ndarray) -> LengthFit:
        """The same fit from where the decoded note (its frame levels) does end."""
        floor = levels_db.max() - SOUNDING_TOP_DB
        loud = np.flatnonzero(levels_db > floor)
        last = int(loud[-1]) if len(loud) else -1
        if last < self.attack or last + 1 >= len(levels_db):
            return self
        below = (levels_db[last] - floor) / (levels_db[last] - levels_db[last + 1])  # where it crosses, in a frame
        return dataclasses.replace(self, source_end=last + float(below) + TRIM_REACH_FRAMES)

    def source_at(self, played: np.ndarray) -> np.ndarray:
        """The decoded frame (fractional) that each played frame position reads."""
        slope = (self.source_end - self.attack) / (self.target_end - self.attack)
        out: np.ndarray = np.where(played < self.attack, played, self.attack + (played - self.attack) * slope)
        return out

    @property
    def tag(self) -> str:
        """Part of a cache key: the same latent fitted to another length is another sound."""
        return f"@{self.target_end:.2f}"


def outlasts_window(duration: float | None, space: LatentSpace) -> bool:
    """A note asked longer than its decoded window can fit: it plays as a held note, its sustain
    looped, released at its end."""
    return duration is not None and duration > space.note_seconds - WINDOW_TAIL_S


def release_lead_s(release_s: float) -> float:
    """How long before a note's asked end its release starts so that, by prep's trim rule, it
    stops sounding at that end: the release is a straight line down to silence."""
    fallen: float = 10.0 ** (-SOUNDING_TOP_DB / 20.0)
    return release_s * (1.0 - fallen) + RELEASE_READ_S


def length_fit(
    space: LatentSpace, duration: float | None, frame_seconds: float, frame_s: float, error_s: float = 0.0
) -> LengthFit | None:
    """None when no length is asked (the note plays until its note-off). `error_s`: how much
    longer than asked a fitted note of its timbre and key sounds (`LatentSpace.length_error_s`)."""
    if duration is None or duration <= 0 or not len(space.durations):
        return None
    source_end = space.durations[space.duration_index(duration)] / frame_seconds
    target_end = max(duration - error_s, 0.5 * duration) / frame_s
    return LengthFit(min(ATTACK_S / frame_seconds, 0.5 * min(source_end, target_end)), source_end, target_end)


def played_frames(arrays: np.ndarray, fit: LengthFit, amplitudes: bool) -> np.ndarray:
    """Arrays [..., n_frames] (mels, synthesis parameters) as the note plays them.

    Where the fit squeezes the note to half its frames or fewer, a played frame covers several
    decoded ones and takes their mean (of the power, for `amplitudes`), not the value at its
    centre: a short note's level must not hang on whether its centres hit a decoded note's one
    loud frame (a 0.12 s flute 97 played 15 dB under a 0.13 s one). Squeezed less, it blends
    towards the centre value, which skips no frame: a mean there only blurs the release (2 s
    clarinet notes sounded 27 ms too long). Past the asked end (the decoded tail, under the
    sounding floor) frames are read at their centres: averaging there costs start time."""
    n = arrays.shape[-1]
    played = np.arange(n, dtype=np.float64)
    source = np.clip(fit.source_at(played), 0.0, n - 1)
    lo = np.minimum(np.floor(source).astype(np.int64), n - 2)
    t = (source - lo).astype(np.float32)
    out: np.ndarray = (arrays[..., lo] * (1 - t) + arrays[..., lo + 1] * t).astype(arrays.dtype)
    a, b = (np.clip(fit.source_at(played + side), 0.0, n - 1) for side in (-0.5, 0.5))
    wide = (b - a > 1.0) & (played <= fit.target_end + 1.0)
    if wide.any():
        top = min(n, int(np.ceil(b[wide].max())) + 2)  # the decoded frames the averages reach
        values = arrays[..., :top].astype(np.float64)
        means = _box_means(values**2 if amplitudes else values, a[wide], b[wide])
        box = np.sqrt(np.maximum(means, 0.0)) if amplitudes else means
        weight = np.clip(b[wide] - a[wide] - 1.0, 0.0, 1.0)  # 0 at no squeeze, 1 from a squeeze by 2
        out[..., wide] = out[..., wide] + weight * (box - out[..., wide])
    return out


def _box_means(values: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean of `values` [..., n] (linear between frames) over each span [a_i, b_i] of frames."""
    n = values.shape[-1]
    steps = 0.5 * (values[..., 1:] + values[..., :-1])
    integral = np.concatenate([np.zeros_like(values[..., :1]), np.cumsum(steps, axis=-1)], axis=-1)

    def upto(x: np.ndarray) -> np.ndarray:
        k = np.minimum(np.floor(x).astype(np.int64), n - 2)
        t = x - k
        rise = values[..., k + 1] - values[..., k]
        out: np.ndarray = integral[..., k] + values[..., k] * t + 0.5 * rise * t * t
        return out

    means: np.ndarray = (upto(b) - upto(a)) / (b - a)
    return means


@dataclass(frozen=True)
class Framing:
    """How a runtime plays a note's decoded frames: their hop, how many, and whether the mixer
    resamples the decoded pitch class to the key at the concert pitch (the frames then pass
    faster or slower with it). Direct synthesis plays every key at its own f0, so its frames
    keep their hop."""

    frame_seconds: float
    n_frames: int
    resampled: bool
    tuning: float = 0.0  # semitones from A = 440 Hz

    def played(self, transpose: float) -> float:
        """The semitones the mixer transposes a note by, given its pitch class's distance."""
        return transpose + self.tuning if self.resampled else 0.0


@dataclass
class NotePlan:
    """The decoder keys one (re)render of a note needs, and how frames blend between them."""

    z: np.ndarray  # [k, 20] keys
    level: np.ndarray  # [k] peak dB of each key
    position: np.ndarray  # [n_frames] fractional key index per frame
    transpose: float  # semitones the mixer resamples by
    blend: TimbreBlend | None = None  # where a key lies between timbres
    length: LengthFit | None = None
    air: np.ndarray | None = None  # [k, air bands] density of each key (rtsynth.dsp.air); None: none
    colour: np.ndarray | None = None  # [k, colour bands] dB of each key (rtsynth.dsp.colour); None: none
    note: int = 60  # the MIDI key, where the partials lie

    @property
    def static(self) -> bool:
        return len(self.z) == 1

    def key_at(self, frame: float) -> int:
        """The key nearest a decoded frame: where a note ends is read from the key in play
        there (a note struck as a morph begins ends as the timbre the morph goes to)."""
        return int(np.rint(self.position[int(np.clip(frame, 0, len(self.position) - 1))]))

    @property
    def length_tag(self) -> str:
        return "" if self.length is None else self.length.tag

    @property
    def voicing_tag(self) -> str:
        """Part of a cache key: the air and the colour follow the velocity even where the latent
        does not (a model without a dynamics latent); to 1 dB."""
        air = "" if self.air is None else "~" + _db_tag(10 * np.log10(np.maximum(self.air[0], 1e-12)))
        return air + ("" if self.colour is None else "^" + _db_tag(self.colour[0]))


def _db_tag(values: np.ndarray) -> str:
    """Values to 1 dB as a short string: a colour has a hundred bands, and a note's start waits
    for its cache key (joining formatted floats took 24 us, this under 1)."""
    tag: str = np.rint(values).astype(np.int16).tobytes().hex()
    return tag


def note_control(spec: NoteSpec, timeline: Timeline, space: LatentSpace, times: np.ndarray) -> np.ndarray:
    """Control vectors at times [k] -> [k, control_size], with a note's own timbre applied."""
    return own_timbre(spec, timeline.at(times), space)


def own_timbre(spec: NoteSpec, control: np.ndarray, space: LatentSpace) -> np.ndarray:
    """Control vectors [k, control_size] with the note's own timbre cluster, if it has one."""
    control = np.array(control, dtype=np.float64, ndmin=2)
    if spec.timbre is not None:
        control[:, : space.n_timbres] = 0.0
        control[:, spec.timbre] = 1.0
    return control


def plan_note(
    spec: NoteSpec, timeline: Timeline, space: LatentSpace, framing: Framing, first_frame: int = 0
) -> NotePlan:
    """Keys for frames first_frame.. of the note (earlier frames are not played from this plan)."""
    timeline = timeline.settled(spec.start, ATTACK_S)
    # the pitch class (and so the transposition) follows where the timbre is heading: a note
    # struck during a glide from another timbre must not be resampled for that timbre's range
    heading = own_timbre(spec, timeline.heading(spec.start), space)[0]
    base, distance = space.note_base(spec.note, spec.velocity, spec.duration, heading)
    transpose, frame_seconds, n_frames = framing.played(distance), framing.frame_seconds, framing.n_frames
    frame_s = frame_seconds / 2.0 ** (transpose / 12.0)  # transposed notes play their frames faster
    t0 = spec.start + min(first_frame, n_frames - 1) * frame_s
    t1 = spec.start + (n_frames - 1) * frame_s
    key_times = np.array([t0]) if timeline.is_still(t0, t1) else _key_times(timeline, t0, t1, frame_s)
    control = note_control(spec, timeline, space, key_times)
    if np.all(control == control[0]):  # moves that do not reach this note (e.g. its own timbre)
        key_times, control = key_times[:1], control[:1]
    if len(key_times) > 1:
        position = np.interp(spec.start + np.arange(n_frames) * frame_s, key_times, np.arange(len(key_times)))
    else:
        position = np.zeros(n_frames)
    z = space.apply_control(np.broadcast_to(base, (len(key_times), len(base))).copy(), control)
    level = space.control_level(space.level_db(spec.velocity, spec.note, spec.duration), control)
    error = 0.0 if spec.duration is None else _length_error_s(spec, timeline, space)
    fit = length_fit(space, spec.duration, frame_seconds, frame_s, error)
    share = np.clip(control[:, : space.n_timbres], 0.0, None)
    density, colour = space.air_density(spec.velocity, spec.note), space.colour_db(spec.velocity, spec.note)
    return NotePlan(
        z,
        level,
        position,
        transpose,
        blend=timbre_blend(space, base, control),
        length=fit,
        air=None if density is None else share @ density,
        colour=None if colour is None else share @ colour / np.maximum(share.sum(axis=1, keepdims=True), 1e-12),
        note=spec.note,
    )


def _length_error_s(spec: NoteSpec, timeline: Timeline, space: LatentSpace) -> float:
    """How much longer than asked a note sounds, from the timbres in play where it ends (a note
    struck as a morph begins ends as the timbre the morph goes to)."""
    assert spec.duration is not None
    end = note_control(spec, timeline, space, np.array([spec.start + spec.duration]))[0, : space.n_timbres]
    return space.length_error_s(spec.velocity, spec.note, spec.duration, end)


def timbre_blend(space: LatentSpace, base: np.ndarray, control: np.ndarray) -> TimbreBlend | None:
    """None when every key is one timbre (its own level stands)."""
    weights = np.clip(control[:, : space.n_timbres], 0.0, None)
    used = np.flatnonzero(weights.max(axis=0) > 0)
    if np.all(weights.max(axis=1) >= 1.0 - 1e-6) or not len(used):
        return None
    own = np.repeat(control[:, None, :], len(used), axis=1)  # [k, c, control_size]
    own[:, :, : space.n_timbres] = 0.0
    own[:, np.arange(len(used)), used] = 1.0
    corners = space.apply_control(np.broadcast_to(base, own.shape[:2] + base.shape[-1:]).copy(), own)
    share = weights[:, used]
    return TimbreBlend(corners, share / np.maximum(share.sum(axis=1, keepdims=True), 1e-12))


def _key_times(timeline: Timeline, t0: float, t1: float, frame_s: float) -> np.ndarray:
    """Decoder keys for [t0, t1]: the ends, both ends of every move (a jump gets a key one frame
    before it, so it stays a jump), and points along each move, up to MAX_KEYS in all."""
    times, values = timeline.times, timeline.values
    keys, along = {t0, t1}, list[float]()
    for i in range(len(times) - 1):
        a, b = times[i], times[i + 1]
        if b < t0 or a > t1 or np.array_equal(values[i], values[i + 1]):
            continue
        if a == b:
            keys.update((max(t0, a - frame_s), a) if a > t0 else (a,))
            continue
        lo, hi = max(a, t0), min(b, t1)
        keys.update((lo, hi))
        along.extend(np.linspace(lo, hi, int(np.ceil((hi - lo) / KEY_SPACING_S)) + 1)[1:-1])
    ordered = np.array(sorted(keys))
    if len(ordered) > MAX_KEYS:
        thinned: np.ndarray = ordered[np.round(np.linspace(0, len(ordered) - 1, MAX_KEYS)).astype(int)]
        return thinned
    room = MAX_KEYS - len(ordered)
    if along and room:
        picked = np.round(np.linspace(0, len(along) - 1, min(room, len(along)))).astype(int)
        ordered = np.union1d(ordered, np.asarray(along)[picked])
    return ordered


def _between_keys(plan: NotePlan) -> tuple[np.ndarray, np.ndarray]:
    """For each frame of a moving note: the key to its left and the blend towards the next."""
    lo = np.minimum(np.floor(plan.position).astype(np.int64), len(plan.z) - 2)
    return lo, (plan.position - lo).astype(np.float32)


def blend_keys(plan: NotePlan, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Key arrays [k, rows, n_frames] (mels, synthesis parameters) -> each frame's blend of
    the two keys around it [rows, n_frames], and the level (dB) of each frame."""
    lo, t = _between_keys(plan)
    frames = np.arange(keys.shape[2])
    blended = keys[lo, :, frames].T * (1 - t) + keys[lo + 1, :, frames].T * t
    return blended, plan.level[lo] * (1 - t) + plan.level[lo + 1] * t


def along(plan: NotePlan, per_key: np.ndarray) -> np.ndarray:
    """[values, n_frames] from one row per key [k, values] (the air, the colour), frame by
    frame, blended between keys as their levels are."""
    if plan.static:
        return np.repeat(per_key[0][:, None], len(plan.position), axis=1)
    lo, t = _between_keys(plan)
    out: np.ndarray = (per_key[lo] * (1 - t)[:, None] + per_key[lo + 1] * t[:, None]).T
    return out


def assemble(plan: NotePlan, mels: np.ndarray, db_range: float) -> tuple[np.ndarray, float]:
    """Key mels [k, n_mels, n_frames] -> the note's mel [n_mels, n_frames] and its peak dB."""
    if plan.static:
        return mels[0], float(plan.level[0])
    mel, level = blend_keys(plan, mels)
    peak = float(level.max())
    mel = np.clip(mel - ((peak - level) / db_range)[None, :].astype(np.float32), 0.0, 1.0)
    return mel.astype(np.float32), peak
