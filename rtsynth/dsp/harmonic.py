"""Harmonic-plus-noise synthesis at the output rate (DDSP's synthesizer, numpy).

A note is given as frames (one every `frame_seconds`): f0 in Hz, the linear amplitude of
each partial k·f0 (k = 1..K) and a gain per noise band. Between frames every parameter is
interpolated linearly per sample. The partials share one integrated phase Φ (partial k
runs at k·Φ, so it sits at exactly k·f0 whatever f0 does); a partial fades out as it nears
Nyquist, so no partial aliases. The noise is white noise split into bands once per rate
(triangular bands over the band centres, summing back to white), each band scaled by its
gain: the gains draw a piecewise-linear spectrum. The bands are stored as long loops and
a voice reads them from its own offset, so rendering any span of samples costs the same,
chunks join exactly, and a stream can start mid-note (its phase integrated from the start).

A glide, vibrato, tuning or pitch bend is a change of f0; nothing is resampled. A bend is a
`BendCurve`: a factor on f0 that steps at given samples, and a vibrato a phase modulation of
the fundamental riding on it, so audio rendered ahead can be rendered again with a new bend or
vibrato from some sample on, agreeing with the old up to there. The
torch twin (rtsynth.train.synthesis) implements the same formulas for training against audio.

Noise gain convention: a gain g in every band gives white noise whose power spectral
density is that of RMS-g white noise at 48 kHz (g² / 24 kHz per Hz) at any output rate.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NOISE_LOOP = 1 << 17  # samples per noise loop (2.7 s at 48 kHz)
NOISE_SEED = 20_260_101
NOISE_DENSITY_RATE = 48000  # the rate at which a noise gain g means RMS g (see the module note)
STEADY_BLOCK = 1024  # samples per block of a steady note's partials (a table of this many rows per f0)
NYQUIST_FADE = 0.02  # a partial fades out over this fraction of the rate below Nyquist


@dataclass(frozen=True)
class SynthFrames:
    """A note's synthesis parameters, one row per frame."""

    f0_hz: np.ndarray  # [T]
    amplitudes: np.ndarray  # [T, K] linear amplitude of partial k+1
    noise: np.ndarray  # [T, B] gain of each noise band
    frame_seconds: float
    # a sustain loop (first, last frame): past `last` the note plays the frames between them
    # back and forth for as long as it is read, as a sampler holds a note; None: the last
    # frame holds
    loop: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        t = len(self.f0_hz)
        if self.amplitudes.ndim != 2 or self.noise.ndim != 2 or {len(self.amplitudes), len(self.noise)} != {t}:
            raise ValueError(
                f"synthesis frames disagree: f0 {self.f0_hz.shape}, amplitudes {self.amplitudes.shape}, "
                f"noise {self.noise.shape}"
            )
        if self.loop is not None and not 0 <= self.loop[0] < self.loop[1] < t:
            raise ValueError(f"sustain loop {self.loop} must be two frames in order within the {t} frames")

    @property
    def n_frames(self) -> int:
        return len(self.f0_hz)

    def position(self, n0: int, n1: int, sample_rate: int) -> Blend:
        """For samples n0..n1-1: the frame to their left and the blend towards the next."""
        return frame_position(n0, n1, sample_rate, self.frame_seconds, self.n_frames, self.loop)


@dataclass(frozen=True)
class SampleVibrato:
    """A vibrato in output samples: `depth` its peak on f0 as a ratio less one
    (2^(cents/1200) - 1), `step` its phase advance per sample (2π·Hz / rate)."""

    depth: float = 0.0
    step: float = 0.0

    @staticmethod
    def of(cents: float, hz: float, sample_rate: int) -> SampleVibrato:
        if cents == 0.0:
            return NO_VIBRATO
        return SampleVibrato(2.0 ** (cents / 1200.0) - 1.0, 2 * np.pi * hz / sample_rate)

    @property
    def swing(self) -> float:
        """Its phase deviation in samples of f0 (depth / step), which a change glides in."""
        return self.depth / self.step if self.step else 0.0


NO_VIBRATO = SampleVibrato()


@dataclass(frozen=True)
class Wobble:
    """A vibrato from sample `start` on: its phase `angle` there, advancing `step` per sample,
    its swing gliding linearly from `swing_from` to `swing_to` over `glide` samples."""

    start: int
    angle: float
    step: float
    swing_from: float
    swing_to: float
    glide: int
    target: SampleVibrato

    def swing(self, n: np.ndarray) -> np.ndarray:
        t = np.clip((n - self.start) / max(self.glide, 1), 0.0, 1.0)
        out: np.ndarray = self.swing_from + (self.swing_to - self.swing_from) * t
        return out

    def angle_at(self, n: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.angle + self.step * (n - self.start)
        return out

    def still_after(self, n: int) -> bool:
        """No wobble from sample n on (a vibrato faded out)."""
        return self.swing_to == 0.0 and n >= self.start + self.glide


@dataclass(frozen=True)
class BendCurve:
    """A note's pitch curve: a factor on f0 from each of `starts` (output samples, the first 0)
    on, and a vibrato (`wobbles`, each from its start on) as a phase modulation of its
    fundamental, so the phase at any sample has a closed form: `sums[i]` is the sum of the
    factor over the samples before starts[i], and a vibrato adds swing · sin(angle) to it (f0
    swings as the cosine, its depth relative to the bent f0). A change of vibrato or bend
    glides the swing over `glide` samples, so the phase has no step."""

    starts: tuple[int, ...] = (0,)
    factors: tuple[float, ...] = (1.0,)
    sums: tuple[float, ...] = (0.0,)
    wobbles: tuple[Wobble, ...] = ()

    @property
    def factor(self) -> float:
        """The factor from the last step on."""
        return self.factors[-1]

    @property
    def vibrato(self) -> SampleVibrato:
        """The vibrato from the last step on."""
        return self.wobbles[-1].target if self.wobbles else NO_VIBRATO

    @property
    def last_start(self) -> int:
        return self.starts[-1]

    @staticmethod
    def throughout(semitones: float, vibrato: SampleVibrato = NO_VIBRATO, onset: int = 0) -> BendCurve:
        """The same bend from the first sample on (UNBENT for none), the vibrato gliding in over
        `onset` samples."""
        factor = 2.0 ** (semitones / 12.0)
        if vibrato == NO_VIBRATO:
            return UNBENT if semitones == 0.0 else BendCurve(factors=(factor,))
        return BendCurve(
            factors=(factor,), wobbles=(Wobble(0, 0.0, vibrato.step, 0.0, vibrato.swing * factor, onset, vibrato),)
        )

    def then(self, sample: int, factor: float, vibrato: SampleVibrato = NO_VIBRATO, glide: int = 0) -> BendCurve:
        """This curve up to `sample`, `factor` and `vibrato` (gliding in over `glide` samples)
        from there on."""
        keep = int(np.searchsorted(self.starts, sample))  # the steps before it
        wobbles = tuple(w for w in self.wobbles if w.start < sample)
        if vibrato != self.vibrato or (wobbles and factor != self.factor):  # its swing follows the bent f0
            wobbles = (*wobbles, self._wobble_from(wobbles, sample, vibrato, factor, glide))
        if keep == 0:
            return BendCurve((0,), (factor,), (0.0,), wobbles)
        starts, factors, sums = self.starts[:keep], self.factors[:keep], self.sums[:keep]
        return BendCurve((*starts, sample), (*factors, factor), (*sums, self._steps(sample)), wobbles)

    @staticmethod
    def _wobble_from(
        before: tuple[Wobble, ...], sample: int, vibrato: SampleVibrato, factor: float, glide: int
    ) -> Wobble:
        """A vibrato from `sample` on, on f0 times `factor`, that takes up the one before where
        it is there."""
        swing = vibrato.swing * factor
        if not before:
            return Wobble(sample, 0.0, vibrato.step, 0.0, swing, glide, vibrato)
        last, at = before[-1], np.array(float(sample))
        step = vibrato.step or last.step  # a vibrato fading out keeps its rate
        return Wobble(sample, float(last.angle_at(at)), step, float(last.swing(at)), swing, glide, vibrato)

    def integral(self, n: int) -> float:
        """The fundamental's phase at sample n in samples of f0: the sum of the factor over
        samples 0..n-1, plus the vibrato's deviation there."""
        return self._steps(n) + float(self._deviation(np.array([float(n)]))[0])

    def integrals(self, n0: int, n1: int) -> np.ndarray:
        """`integral` at each of samples n0..n1-1 (float64)."""
        n = np.arange(n0, n1, dtype=np.float64)
        out = np.empty(n1 - n0)
        for a, b, factor in self.pieces(n0, n1):
            i = self._step_at(a)
            out[a - n0 : b - n0] = self.sums[i] + factor * (n[a - n0 : b - n0] - self.starts[i])
        out += self._deviation(n)
        return out

    def wobbles_in(self, n0: int, n1: int) -> bool:
        """Whether a vibrato moves the phase anywhere in samples n0..n1-1."""
        live = [w for w in self.wobbles if w.start < n1]
        return bool(live) and not live[-1].still_after(n0)

    def _steps(self, n: int) -> float:
        i = self._step_at(n)
        return self.sums[i] + self.factors[i] * (n - self.starts[i])

    def _deviation(self, n: np.ndarray) -> np.ndarray:
        """The vibrato's part of the phase at samples n (ascending), from the wobbles they reach
        only (a long note gathers many)."""
        out = np.zeros(len(n))
        starts = [w.start for w in self.wobbles]
        first = max(0, bisect.bisect_right(starts, n[0]) - 1) if len(n) else 0
        last = bisect.bisect_right(starts, n[-1]) if len(n) else 0
        for i in range(first, last):
            wobble = self.wobbles[i]
            end = starts[i + 1] if i + 1 < len(starts) else np.inf
            here = (n >= wobble.start) & (n < end)
            if here.any():
                out[here] = wobble.swing(n[here]) * np.sin(wobble.angle_at(n[here]))
        return out

    def pieces(self, n0: int, n1: int) -> list[tuple[int, int, float]]:
        """Samples n0..n1-1 as runs (first, end, factor) of one factor each."""
        cuts = [s for s in self.starts if n0 < s < n1]
        edges = [n0, *cuts, n1]
        return [(a, b, self.factor_at(a)) for a, b in itertools.pairwise(edges)]

    def factor_at(self, n: int) -> float:
        return self.factors[self._step_at(n)]

    def _step_at(self, n: int) -> int:
        """The step sample n lies in."""
        return max(0, int(np.searchsorted(self.starts, n, side="right")) - 1)


UNBENT = BendCurve()


@lru_cache(maxsize=8)
def noise_bands(sample_rate: int, centres_hz: tuple[float, ...]) -> np.ndarray:
    """[B, NOISE_LOOP] float32 loops: seeded white noise split by triangles over the band
    centres (flat below the first and above the last centre), so the bands sum to the noise."""
    rng = np.random.default_rng(NOISE_SEED)
    spectrum = np.fft.rfft(rng.standard_normal(NOISE_LOOP))
    freqs = np.fft.rfftfreq(NOISE_LOOP, 1.0 / sample_rate)
    centres = np.asarray(centres_hz, dtype=np.float64)
    weights = np.stack([np.interp(freqs, centres, np.eye(len(centres))[b]) for b in range(len(centres))])
    scale = np.sqrt(sample_rate / NOISE_DENSITY_RATE)  # same density at any rate
    loops: np.ndarray = (np.fft.irfft(spectrum[None, :] * weights, NOISE_LOOP) * scale).astype(np.float32)
    loops.flags.writeable = False
    return loops


@lru_cache(maxsize=256)  # a voice's seed is its key: the same few dozen come back
def noise_offset(seed: int) -> int:
    """Where a voice seeded `seed` starts reading the noise loops (voices differ, repeats agree)."""
    return int(np.random.default_rng(seed).integers(NOISE_LOOP))


Blend = tuple[np.ndarray, np.ndarray, np.ndarray]


def frame_position(
    n0: int, n1: int, sample_rate: int, frame_seconds: float, n_frames: int, loop: tuple[int, int] | None = None
) -> Blend:
    """For samples n0..n1-1: the frame to their left (clamped, or folded into the sustain loop)
    and the blend towards the next."""
    position = np.arange(n0, n1, dtype=np.float64) / (sample_rate * frame_seconds)
    if loop is not None:
        position = fold_into_loop(position, loop)
    left = np.minimum(np.floor(position).astype(np.int64), n_frames - 1)
    right = np.minimum(left + 1, n_frames - 1)
    return left, right, (position - left).clip(0.0, 1.0)


def fold_into_loop(position: np.ndarray, loop: tuple[int, int]) -> np.ndarray:
    """Frame positions past a sustain loop's last frame, played back and forth between its
    first and last (positions before it unchanged)."""
    first, last = loop
    span = last - first
    folded = np.mod(position - first, 2 * span)
    looped = first + np.where(folded <= span, folded, 2 * span - folded)  # there and back again
    out: np.ndarray = np.where(position > last, looped, position)
    return out


def _lerp(values: np.ndarray, left: np.ndarray, right: np.ndarray, t: np.ndarray) -> np.ndarray:
    weight = t if values.ndim == 1 else t[:, None]
    out: np.ndarray = values[left] * (1 - weight) + values[right] * weight
    return out


def f0_per_sample(frames: SynthFrames, n0: int, n1: int, sample_rate: int) -> np.ndarray:
    left, right, t = frames.position(n0, n1, sample_rate)
    return _lerp(np.asarray(frames.f0_hz, dtype=np.float64), left, right, t)


def phase_at(frames: SynthFrames, n: int, sample_rate: int, bend: BendCurve = UNBENT) -> float:
    """The fundamental's phase (radians, wrapped) at sample n, integrated from sample 0."""
    if n <= 0:
        return 0.0
    f0 = frames.f0_hz[0]
    if np.all(frames.f0_hz == f0):  # a steady note: no need to sum a held note's minutes sample by sample
        return float(f0 * bend.integral(n) * 2 * np.pi / sample_rate % (2 * np.pi))
    total = sum(factor * np.sum(f0_per_sample(frames, a, b, sample_rate)) for a, b, factor in bend.pieces(0, n))
    return float(total * 2 * np.pi / sample_rate % (2 * np.pi))


def _segments(left: np.ndarray) -> list[slice]:
    """Runs of samples between the same two frames (a span crosses a few frame boundaries)."""
    if left[0] == left[-1] and left.min() == left.max():  # inside one frame (a loop can turn and come back)
        return [slice(0, len(left))]
    cuts = np.flatnonzero(np.diff(left)) + 1
    edges = [0, *cuts.tolist(), len(left)]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def _blend_rows(basis: np.ndarray, table: np.ndarray, left: np.ndarray, right: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Σ_j basis[n, j] · lerp(table[left], table[right], t)[n, j], one matrix product per frame
    run instead of an interpolated [n, j] table."""
    out = np.empty(len(left))
    for run in _segments(left):
        lo, hi = table[left[run.start]], table[right[run.start]]
        part = basis[run]
        out[run] = (1 - t[run]) * (part @ lo) + t[run] * (part @ hi)
    return out


def harmonic_span(
    frames: SynthFrames, n0: int, n1: int, sample_rate: int, phase0: float, bend: float = 1.0
) -> tuple[np.ndarray, float]:
    """Samples n0..n1-1 of the partials, starting at fundamental phase `phase0`, f0 times
    `bend`; returns the audio and the phase at n1."""
    if n1 <= n0:
        return np.zeros(0), phase0
    left, right, t = frames.position(n0, n1, sample_rate)
    reach = slice(int(left.min()), int(right.max()) + 1)  # the frames read (a loop reads them backwards too)
    f0s = np.asarray(frames.f0_hz, dtype=np.float64)
    spanned = f0s[reach]
    if np.all(spanned == spanned[0]):
        tables = _rotations if bend == 1.0 else _bent_rotations
        return _steady_partials(frames, float(spanned[0]) * bend, (left, right, t), sample_rate, phase0, tables)
    f0 = _lerp(f0s, left, right, t) * bend
    step = 2 * np.pi * f0 / sample_rate
    phase = np.mod(phase0 + np.concatenate([[0.0], np.cumsum(step[:-1])]), 2 * np.pi)
    return _sines(frames, phase, f0, (left, right, t), sample_rate), float((phase[-1] + step[-1]) % (2 * np.pi))


def wobbling_span(frames: SynthFrames, n0: int, n1: int, sample_rate: int, bend: BendCurve) -> tuple[np.ndarray, float]:
    """harmonic_span for a steady note under a vibrato: each sample's phase from the curve's
    closed form (so any span agrees with any other), a sine per sample and partial; returns
    the audio and the phase at n1."""
    scale = 2 * np.pi * float(frames.f0_hz[0]) / sample_rate
    cycles = bend.integrals(n0, n1 + 1)
    f0 = np.diff(cycles) * float(frames.f0_hz[0])  # each sample's f0
    phase = np.mod(cycles[:-1] * scale, 2 * np.pi)
    blend = frames.position(n0, n1, sample_rate)
    return _sines(frames, phase, f0, blend, sample_rate), float(cycles[-1] * scale % (2 * np.pi))


def _sines(frames: SynthFrames, phase: np.ndarray, f0: np.ndarray, blend: Blend, sample_rate: int) -> np.ndarray:
    """The partials at these fundamental phases and f0s, up to the highest that sounds below
    Nyquist (the silent ones under it cost a column of zeros)."""
    left, right, t = blend
    amplitudes = np.asarray(frames.amplitudes, dtype=np.float64)
    k = np.arange(1, amplitudes.shape[1] + 1, dtype=np.float64)
    used = amplitudes[int(left.min()) : int(right.max()) + 1]
    live = np.flatnonzero((used.max(axis=0) > 0) & (k * f0.min() < sample_rate / 2))
    k = k[: live[-1] + 1] if len(live) else k[:0]
    basis = _harmonic_sines(phase, len(k))
    if len(k) and k[-1] * f0.max() > (0.5 - NYQUIST_FADE) * sample_rate:  # a partial near Nyquist fades out
        basis *= np.clip((0.5 - k[None, :] * f0[:, None] / sample_rate) / NYQUIST_FADE, 0.0, 1.0)
    return _blend_rows(basis, amplitudes[:, : len(k)], left, right, t)


def _harmonic_sines(phase: np.ndarray, partials: int) -> np.ndarray:
    """[n, partials] sin(k·phase) for k = 1..partials by the recurrence sin(kφ) = 2cos(φ)·sin((k-1)φ)
    - sin((k-2)φ): two multiply-adds a value instead of a sine (5x faster; within 1e-13)."""
    out = np.empty((partials, len(phase)))
    if partials:
        out[0] = np.sin(phase)
    if partials > 1:
        twice_cos = 2 * np.cos(phase)
        out[1] = twice_cos * out[0]
        for j in range(2, partials):
            np.multiply(twice_cos, out[j - 1], out=out[j])
            out[j] -= out[j - 2]
    return out.T


def _steady_partials(
    frames: SynthFrames,
    f0: float,
    blend: Blend,
    sample_rate: int,
    phase0: float,
    tables: Callable[[float, int], np.ndarray],
) -> tuple[np.ndarray, float]:
    """harmonic_span where f0 holds still (a note's usual case). A block of STEADY_BLOCK samples
    starting at phase φ is Σ_k a_k·(sin(kφ)·cos(knω) + cos(kφ)·sin(knω)): one table of
    [cos(knω) | sin(knω)] per f0, and per block and frame run one product of it with the two
    frames' amplitudes instead of a sine per sample and partial. In float32: within 1e-6 of the amplitude, far
    under the noise floor, at a quarter of the cost."""
    left, right, t = blend
    step = 2 * np.pi * f0 / sample_rate
    k = _below_nyquist(f0, frames.amplitudes.shape[1], sample_rate)
    fade = np.clip((0.5 - k * f0 / sample_rate) / NYQUIST_FADE, 0.0, 1.0)
    first = int(left.min())  # only the frames this span reads: a short span of a long note costs little
    amplitudes = (np.asarray(frames.amplitudes)[first : int(right.max()) + 1, : len(k)] * fade).astype(np.float32)
    table = tables(step, len(k))  # its first note at this f0 makes it
    doubled = np.concatenate([amplitudes, amplitudes], axis=1)  # a row per frame, against [sin | cos]
    out = np.empty(len(left))
    for start in range(0, len(left), STEADY_BLOCK):
        at = (phase0 + start * step) * k
        turn = np.concatenate([np.sin(at), np.cos(at)]).astype(np.float32)
        for run in _segments(left[start : start + STEADY_BLOCK]):
            here = slice(start + run.start, start + run.stop)
            ends = doubled[[left[here.start] - first, right[here.start] - first]] * turn  # [2, 2K]
            lo, hi = (table[run] @ ends.T).T
            out[here] = lo + t[here] * (hi - lo)
    return out, float((phase0 + len(left) * step) % (2 * np.pi))


def _below_nyquist(f0: float, partials: int, sample_rate: int) -> np.ndarray:
    k = np.arange(1, partials + 1, dtype=np.float64)
    out: np.ndarray = k[k * f0 < sample_rate / 2]
    return out


def prepare_steady(f0s: list[float], partials: int, sample_rate: int) -> None:
    """Make the rotation tables of these f0s now (a model's keys, before it plays) rather than
    at each key's first note-on."""
    for f0 in f0s:
        _rotations(2 * np.pi * f0 / sample_rate, len(_below_nyquist(f0, partials, sample_rate)))


@lru_cache(maxsize=128)  # a keyboard of f0s: at most 64 MB of tables
def _rotations(step: float, partials: int) -> np.ndarray:
    return _rotation_table(step, partials)


@lru_cache(maxsize=64)  # the keys held bent now (at most 32 MB), apart: the keyboard's tables stay
def _bent_rotations(step: float, partials: int) -> np.ndarray:
    return _rotation_table(step, partials)


def _rotation_table(step: float, partials: int) -> np.ndarray:
    """[cos(k·n·step) | sin(k·n·step)] for n < STEADY_BLOCK, k = 1..partials: [STEADY_BLOCK, 2·partials]."""
    angle = np.outer(np.arange(STEADY_BLOCK, dtype=np.float64), np.arange(1, partials + 1)) * step
    table = np.concatenate([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
    table.flags.writeable = False
    return table


def noise_span(frames: SynthFrames, n0: int, n1: int, sample_rate: int, loops: np.ndarray, offset: int) -> np.ndarray:
    """Samples n0..n1-1 of the shaped noise, reading the band loops from `offset`."""
    if n1 <= n0:
        return np.zeros(0)
    left, right, t = frames.position(n0, n1, sample_rate)
    a = (n0 + offset) % NOISE_LOOP
    if a + n1 - n0 <= NOISE_LOOP:
        bands = loops[:, a : a + n1 - n0]  # [B, n]
    else:
        bands = np.take(loops, np.arange(a, a + n1 - n0), axis=1, mode="wrap")
    return _blend_rows(bands.T, np.asarray(frames.noise, dtype=np.float32), left, right, t)


class HarmonicStream:
    """One note rendered in consecutive spans, phase carried from span to span."""

    def __init__(
        self,
        frames: SynthFrames,
        sample_rate: int,
        band_centres_hz: tuple[float, ...],
        start: int = 0,
        seed: int = 0,
        bend: BendCurve = UNBENT,
    ):
        self.frames, self.sample_rate, self.bend = frames, sample_rate, bend
        self.loops = noise_bands(sample_rate, band_centres_hz)
        self.offset = noise_offset(seed)
        self.position = start
        self.phase = phase_at(frames, start, sample_rate, bend)
        self.steady = bool(np.all(frames.f0_hz == frames.f0_hz[0]))  # a vibrato rides a steady f0 only

    def render(self, n: int) -> np.ndarray:
        """The next n samples (float32)."""
        n0, n1 = self.position, self.position + n
        if self.steady and self.bend.wobbles_in(n0, n1):
            harmonic, self.phase = wobbling_span(self.frames, n0, n1, self.sample_rate, self.bend)
        else:
            runs = []
            for a, b, factor in self.bend.pieces(n0, n1):
                run, self.phase = harmonic_span(self.frames, a, b, self.sample_rate, self.phase, factor)
                runs.append(run)
            harmonic = np.concatenate(runs)
        noise = noise_span(self.frames, n0, n1, self.sample_rate, self.loops, self.offset)
        self.position = n1
        out: np.ndarray = (harmonic + noise).astype(np.float32)
        return out


def synthesize(
    frames: SynthFrames, sample_rate: int, band_centres_hz: tuple[float, ...], n_samples: int, seed: int = 0
) -> np.ndarray:
    """A whole note in one call (what the stream gives span by span)."""
    return HarmonicStream(frames, sample_rate, band_centres_hz, 0, seed).render(n_samples)
