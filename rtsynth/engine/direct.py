"""Direct synthesis: a harmonic-noise bundle's parameters -> output-rate audio, no vocoder.

The decoder gives, per latent, each partial's power and a noise power per mel band for
every frame (rtsynth.synthesis). A note's f0 is its key (equal temperament, A4 at the concert
pitch `EngineConfig.a4_hz`): pitch is a number here, so there is no tuning table and no
resampling (the decoder's own pitch reading, off by up to half a semitone in the shipped model,
is not used). The pitch latent still selects the class nearest the key, so the partial
amplitudes are the ones trained for that register; partials above max_partial_hz stay silent.

Arrays handed around per key are [K + B, n_frames]: K partial amplitudes, then B noise band
gains, at 0 dB (the note's level is the stream's gain, as for mels).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from rtsynth.bundle import BundleShapeError
from rtsynth.dsp.air import air_gains, partial_air
from rtsynth.dsp.colour import ColourReach
from rtsynth.dsp.harmonic import UNBENT, BendCurve, HarmonicStream, SynthFrames, noise_bands, prepare_steady
from rtsynth.dsp.pitch import midi_hz
from rtsynth.engine.cache import cache_key
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.counters import Counters
from rtsynth.engine.decoding import finish_plan
from rtsynth.engine.headtable import HeadTable
from rtsynth.engine.latent import LatentSpace
from rtsynth.engine.notes import NotePlan, along, blend_keys
from rtsynth.engine.synth import FrameStream, NoteHead, Runtime
from rtsynth.model import Model
from rtsynth.synthesis import HARMONIC_NOISE, FrameReader, HarmonicNoiseSpec
from rtsynth.vocoder.loudness import level_gain

log = logging.getLogger(__name__)

HEAD_FRAMES = 2  # a note's first samples blend between frames 0 and 1 (HarmonicHead)
CROSSFADE_S = 0.0025  # a note whose head came from the head table fades into its own frames over this


class DirectRuntime(Runtime):
    vocoder_name = HARMONIC_NOISE  # what the engine reports and the cache keys carry
    attack_vocoder_name = None
    start_vocoder = HARMONIC_NOISE
    first_frames = 1
    phase_coherent = True  # phases integrated from the note's start, noise read from its own offset
    amplitude_frames = True
    resamples = False

    def __init__(self, model: Model, config: EngineConfig, synthesis: HarmonicNoiseSpec):
        # no tuning table: every key plays at its own f0 from the class nearest it
        super().__init__(model, config, LatentSpace(dataclasses.replace(model.spec, tuning_cents={})))
        self.synthesis = synthesis
        model.prepare_outputs(synthesis.outputs, lead=HEAD_FRAMES)  # the whole frames' session too
        self.reader = FrameReader(synthesis, self.mel)
        self.bands = self.reader.band_centres(self.out_rate, self.space.air_bands_hz)
        # the air bands this rate plays (the last rows of the noise): their index in the bundle's
        self.air_picks = [i for i, f in enumerate(self.space.air_bands_hz) if f in self.bands]
        self.partials = synthesis.partials
        self.band_power = noise_bands(self.out_rate, self.bands).var(axis=1).astype(np.float64)  # per unit gain
        self._colour_reach: dict[int, ColourReach] = {}  # per key: how its colour reaches its partials and bands
        keys = range(int(self.space.pitches.min()), int(self.space.pitches.max()) + 1)
        self.head_table = HeadTable(self.space, self.read_first, keys)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents [k, 20] -> [k, K + B, n_frames] amplitudes and noise gains at 0 dB."""
        out = self.blank(len(z))
        for i, outputs in enumerate(self.outputs(z)):
            self.read(outputs, out[i], slice(None))
        return out

    def heads(
        self, plans: list[NotePlan], notes: list[int], velocities: list[float], bends: list[BendCurve]
    ) -> list[NoteHead] | None:
        """New notes that can start on their first frames (see `HarmonicHead`): from the head
        table where it has them, the others' decoded in one run; None unless every plan is a
        static note whose first frames play as decoded."""
        if not all(_starts_as_decoded(plan) for plan in plans):
            return None
        z = np.concatenate([plan.z for plan in plans])
        ahead = [self.head_table.first(row, note, v) for row, note, v in zip(z, notes, velocities, strict=True)]
        now = [i for i, params in enumerate(ahead) if params is None]
        decoded = self.outputs(z[now], lead=HEAD_FRAMES) if now else []
        first: dict[int, DecoderOutputs | np.ndarray] = dict(zip(now, decoded, strict=True))
        first.update((i, params) for i, params in enumerate(ahead) if params is not None)
        whole: WholeDecode | list[DecoderOutputs] = WholeDecode(self, z)
        if len(now) == len(plans) and decoded[0].partials.shape[1] == self.mel.n_frames:  # a decoder not cut
            whole = decoded
        return [
            HarmonicHead(self, plan, first[i], whole, i, note, bend)
            for i, (plan, note, bend) in enumerate(zip(plans, notes, bends, strict=True))
        ]

    def read_first(self, z: np.ndarray) -> np.ndarray:
        """Latents [k, size] -> their first frames read [k, K + B, HEAD_FRAMES] (the head table's rows)."""
        out = np.zeros((len(z), self.partials + len(self.bands), HEAD_FRAMES), np.float32)
        for i, outputs in enumerate(self.outputs(z, lead=HEAD_FRAMES)):
            self.read(outputs, out[i], slice(0, HEAD_FRAMES))
        return out

    def prepare_step(self) -> bool:
        """A row of the head table."""
        return self.head_table.fill_step()

    def outputs(self, z: np.ndarray, lead: int | None = None) -> list[DecoderOutputs]:
        """The decoder's outputs for latents z [k, size]: every frame, or with `lead` the first
        frames only (at least `lead`; see rtsynth.graphcut)."""
        pitch, partials, noise = self.model.decode_outputs(z, self.synthesis.outputs, lead)
        return [DecoderOutputs(float(pitch[i]), partials[i], noise[i]) for i in range(len(z))]

    def blank(self, keys: int) -> np.ndarray:
        return np.zeros((keys, self.partials + len(self.bands), self.mel.n_frames), np.float32)

    def read(self, outputs: DecoderOutputs, out: np.ndarray, frames: slice) -> None:
        """One latent's outputs -> its amplitudes and noise gains at `frames` (each frame is read
        on its own, so a note can be read a span at a time)."""
        tonal, rest = self.reader.tonal(outputs.pitch, outputs.partials[:, frames], outputs.noise[:, frames])
        out[: self.partials, frames] = self.reader.amplitudes(tonal)
        out[self.partials :, frames] = self.reader.noise_gains(rest, len(self.bands)).T
        if not np.isfinite(out[:, frames]).all():
            np.nan_to_num(out[:, frames], copy=False, nan=0.0, posinf=0.0, neginf=0.0)

    def frame_power(self, params: np.ndarray) -> np.ndarray:
        """Each frame's mean square: each partial's a²/2 plus each noise band's gain² × its share."""
        squares = params.astype(np.float64) ** 2
        out: np.ndarray = 0.5 * squares[: self.partials].sum(axis=0) + self.band_power @ squares[self.partials :]
        return out

    def frame_levels_db(self, params: np.ndarray) -> np.ndarray:
        out: np.ndarray = 10.0 * np.log10(np.maximum(self.frame_power(params), 1e-30))
        return out

    def rescaled(self, params: np.ndarray, db: np.ndarray) -> np.ndarray:
        out: np.ndarray = (params * (10.0 ** (db / 20.0))[None, :]).astype(np.float32)
        return out

    def assemble(self, plan: NotePlan, keys: np.ndarray) -> tuple[np.ndarray, float]:
        """Keys -> the note's parameters and its peak dB (quieter frames scaled down under it),
        with its air bands following its power."""
        if plan.static:
            return self.voiced(keys[0], plan), float(plan.level[0])
        power, level = blend_keys(plan, keys.astype(np.float64) ** 2)  # powers: a blend has no dip
        peak = float(level.max())
        params = (np.sqrt(power) * (10.0 ** ((level - peak) / 20.0))[None, :]).astype(np.float32)
        return self.voiced(params, plan), peak

    def resolved_air(self, amplitudes: np.ndarray, noise: np.ndarray, f0: float) -> tuple[np.ndarray, np.ndarray]:
        """A note's amplitudes [T, K] and noise gains [T, B] with the air bands its partials are
        resolved in played by those partials (rtsynth.dsp.air.partial_air)."""
        if not self.air_picks:
            return amplitudes, noise
        first_air = len(self.bands) - len(self.air_picks)
        weights, resolved = partial_air(f0, self.partials, self.bands, first_air)
        if not resolved.any():
            return amplitudes, noise
        air = noise[:, first_air:]
        added = np.sqrt(amplitudes**2 + (air @ weights) ** 2)
        return added, np.concatenate([noise[:, :first_air], air * ~resolved], axis=1)

    def voiced(self, params: np.ndarray, plan: NotePlan) -> np.ndarray:
        """The note's colour, then its air bands following its power; `params` may be its first
        frames only."""
        if plan.colour is not None and self.space.colour_bands_hz:
            params = self.coloured(params, plan)
        if plan.air is None or not self.air_picks:
            return params
        out = params.copy()
        density = along(plan, plan.air)[self.air_picks, : params.shape[1]]
        out[-len(self.air_picks) :] = air_gains(self.frame_power(params), density)
        return out

    def coloured(self, params: np.ndarray, plan: NotePlan) -> np.ndarray:
        """Each partial and noise band below the air scaled by the key's colour at its frequency,
        each frame keeping its power: the colour moves power between bands, so the level tables,
        the length fit and the levels between timbres read the note as before."""
        assert plan.colour is not None
        reach = self.colour_reach(plan.note)
        rows = len(reach.live)
        colour = plan.colour[0][:, None] if plan.static else along(plan, plan.colour)[:, : params.shape[1]]
        out = params.copy()
        out[:rows] *= (10.0 ** (reach.db(colour) / 20.0)).astype(np.float32)
        before, after = self.frame_power(params), self.frame_power(out)
        out *= np.sqrt(before / np.maximum(after, 1e-30)).astype(np.float32)[None, :]
        return out

    def colour_reach(self, note: int) -> ColourReach:
        """How a key's colour reaches its partials and the noise bands below the air, made once
        per key."""
        reach = self._colour_reach.get(note)
        if reach is None:
            f0, below_air = midi_hz(note, self.a4_hz), len(self.bands) - len(self.air_picks)
            freqs = np.concatenate([f0 * np.arange(1, self.partials + 1), self.bands[:below_air]])
            reach = self._colour_reach[note] = ColourReach.at(freqs, self.space.colour_bands_hz)
        return reach

    def note_key(self, plan: NotePlan, note: int) -> tuple[str, tuple[int, ...]]:
        """The same latent at another key is another sound here (its f0)."""
        return cache_key(plan.z[0], f"{HARMONIC_NOISE}:{note}{plan.length_tag}{plan.voicing_tag}")

    def stream(
        self,
        params: np.ndarray,
        peak_db: float,
        start_frame: int = 0,
        vocoder: str | None = None,
        note: int = 60,
        bend: BendCurve = UNBENT,
    ) -> DirectStream:
        return DirectStream(self, params, peak_db, start_frame, note, bend=bend)

    def sustained(
        self, params: np.ndarray, peak_db: float, start_frame: int, note: int, bend: BendCurve = UNBENT
    ) -> DirectStream:
        """The note's frames with the sustain loop: the same samples up to the loop's end, then
        the loop back and forth, endless (the synthesizer's phase runs on, so no seam)."""
        return DirectStream(self, params, peak_db, start_frame, note, self.sustain_loop, bend)

    def warm_up(self, streams: int = 1) -> None:
        """Run the decoder once (the first onnxruntime run is slow; the first-frames session ran
        when its cut was checked at load), refuse a decoder whose synthesis outputs are not
        finite, naming the output, and make every key's tables: its rotations and the noise
        shares of the pitch its class decodes (a key's first note would build them, 1 ms of its
        decode)."""
        z = np.zeros((2, self.space.layout.size), dtype=np.float32)
        for name, value in zip(
            self.synthesis.outputs, self.model.decode_outputs(z, self.synthesis.outputs), strict=True
        ):
            if not np.isfinite(value).all():
                raise BundleShapeError(f"synthesis output {name!r} of {self.name} is not finite at the latent origin")
        stream = self.stream(self.decode(z)[0], 0.0, 0)
        stream.advance(4)
        stream.close()
        keys = range(int(self.space.pitches.min()), int(self.space.pitches.max()) + 1)
        prepare_steady([midi_hz(k, self.a4_hz) for k in keys], self.partials, self.out_rate)
        if self.space.colour_bands_hz:
            for key in keys:
                self.colour_reach(key)
        classes = np.zeros((len(self.space.pitches), self.space.layout.size), dtype=np.float32)
        classes[:, self.space.slices["pitch"]] = self.space.pitch_means
        for pitch in self.model.decode_outputs(classes, self.synthesis.outputs)[0]:
            self.reader.bins.shares(float(pitch))


class DirectStream(FrameStream):
    """One note synthesized from `start_frame` on, a few frames of output at a time."""

    vocoder_name = HARMONIC_NOISE

    def __init__(
        self,
        runtime: DirectRuntime,
        params: np.ndarray,
        peak_db: float,
        start_frame: int,
        note: int,
        loop: tuple[int, int] | None = None,
        bend: BendCurve = UNBENT,
    ):
        self.runtime, self.mel, self.peak_db, self.f0 = runtime, params, peak_db, midi_hz(note, runtime.a4_hz)
        self.loop = loop  # a sustain loop: the stream never ends (see SynthFrames.loop)
        self.frame = start_frame
        self.start = self.written = runtime.sample_of(start_frame)
        self._note, self._bend = note, bend
        self._synth = self._synth_at(params, self.start)
        self._fade: _Fade | None = None
        self._gain = np.float32(level_gain(peak_db))
        self.done = False

    def _synth_at(self, params: np.ndarray, sample: int) -> HarmonicStream:
        runtime = self.runtime
        return HarmonicStream(self._frames(params), runtime.out_rate, runtime.bands, sample, self._note, self._bend)

    def _frames(self, params: np.ndarray) -> SynthFrames:
        k, runtime = self.runtime.partials, self.runtime
        amplitudes = params[:k].T
        if runtime.synthesis.max_partial_hz is not None:
            amplitudes = amplitudes * (np.arange(1, k + 1) * self.f0 <= runtime.synthesis.max_partial_hz)
        amplitudes, noise = runtime.resolved_air(amplitudes, params[k:].T, self.f0)
        return SynthFrames(np.full(params.shape[1], self.f0), amplitudes, noise, runtime.frame_seconds, self.loop)

    def update(self, params: np.ndarray) -> None:
        """Play on from these parameters: the same note with more of its frames read (the
        frames already played are the same in both)."""
        self.mel = params
        self._synth.frames = self._frames(params)

    def head(self, samples: int) -> np.ndarray:
        """The next `samples` of the first frame (a head is written a piece at a time); `advance`
        goes on from them."""
        samples = min(samples, self.runtime.sample_of(1) - 1 - (self.written - self.start))
        out: np.ndarray = self._render(max(0, samples)) * self._gain
        self.written += len(out)
        return out

    def fade_into(self, params: np.ndarray, samples: int) -> None:
        """Play `params` from here, the next `samples` faded in from the frames played so far:
        both have the same phases and noise, so their amplitudes crossfade."""
        self._fade = _Fade(self._synth, self._synth.position, samples)
        self.mel = params
        self._synth = self._synth_at(params, self._synth.position)

    def _render(self, n: int) -> np.ndarray:
        out = self._synth.render(n)
        fade = self._fade
        if fade is not None:
            self._fade = fade.blend(out, self._synth.position - n)
        return out

    @property
    def gain(self) -> float:
        return float(self._gain)

    def advance(self, frames: int) -> np.ndarray:
        """Synthesize up to `frames` more frames; return their output samples."""
        if self.done:
            return np.zeros(0, dtype=np.float32)
        endless, n_frames = self.loop is not None, self.mel.shape[1]
        self.frame = self.frame + frames if endless else min(self.frame + frames, n_frames)
        finished = not endless and self.frame >= n_frames
        end = self.runtime.note_samples if finished else self.runtime.sample_of(self.frame)
        out = self._render(max(0, end - self.written)) * self._gain
        self.written = end
        self.done = finished
        return out

    def close(self) -> None:
        self.done = True


@dataclass(frozen=True)
class _Fade:
    """The frames a stream fades out of, from sample `begin` over `samples`."""

    leaving: HarmonicStream
    begin: int
    samples: int

    def blend(self, out: np.ndarray, at: int) -> _Fade | None:
        """`out` (samples from `at`, the new frames') faded in over what `leaving` plays there;
        None once the fade is over."""
        n = min(len(out), self.begin + self.samples - at)
        if n > 0:
            ramp = (np.arange(at, at + n) - self.begin + 1) / self.samples
            old = self.leaving.render(n)
            out[:n] = old + (out[:n] - old) * ramp.astype(np.float32)
        return self if at + len(out) < self.begin + self.samples else None


@dataclass(frozen=True)
class DecoderOutputs:
    """One latent's synthesis outputs as the decoder gives them (powers)."""

    pitch: float  # MIDI
    partials: np.ndarray  # [K, n_frames]
    noise: np.ndarray  # [n_mels, n_frames]


def _starts_as_decoded(plan: NotePlan) -> bool:
    """A static note whose first frames neither a timbre blend nor the length fit changes."""
    return plan.static and plan.blend is None and (plan.length is None or plan.length.attack >= HEAD_FRAMES)


class WholeDecode:
    """Every frame of the decoder's outputs for a batch of new notes started on their first
    frames: one run, when the first of them is finished."""

    def __init__(self, runtime: DirectRuntime, z: np.ndarray):
        self.runtime, self.z = runtime, z
        self._outputs: list[DecoderOutputs] | None = None

    def __getitem__(self, i: int) -> DecoderOutputs:
        if self._outputs is None:
            self._outputs = self.runtime.outputs(self.z)
        return self._outputs[i]


class HarmonicHead:
    """A new note started on its first frames: the decoder computes frames 0 and 1 alone
    (`first`), they are read into synthesis parameters, the note goes to the mixer, and the
    other frames are decoded and read after (`finish`). Decoding and reading every frame first
    held every new note back by more than a ms. Where the head table had the note's first
    frames (an array, as read), its head is played from those, and it fades into its own,
    read from the whole decode, over CROSSFADE_S after the head."""

    def __init__(
        self,
        runtime: DirectRuntime,
        plan: NotePlan,
        first: DecoderOutputs | np.ndarray,
        whole: WholeDecode | list[DecoderOutputs],
        index: int,
        note: int,
        bend: BendCurve = UNBENT,
    ):
        self.runtime, self.plan, self.whole, self.index = runtime, plan, whole, index
        self._params = runtime.blank(1)[0]
        self.from_table = isinstance(first, np.ndarray)
        if isinstance(first, np.ndarray):
            self._params[:, :HEAD_FRAMES] = first
        else:
            runtime.read(first, self._params, slice(0, HEAD_FRAMES))
        head = np.zeros_like(self._params)
        head[:, :HEAD_FRAMES] = runtime.voiced(self._params[:, :HEAD_FRAMES], plan)
        self.peak_db = float(plan.level[0])
        self.stream = DirectStream(runtime, head, self.peak_db, 0, note, bend=bend)

    def first(self, samples: int) -> np.ndarray:
        return self.stream.head(samples)

    def finish(self, stats: Counters) -> np.ndarray:
        """Read the other frames (and the first, after the table's), hand them to the stream;
        the note's whole parameters (as `decode_plans` gives them)."""
        read = slice(0 if self.from_table else HEAD_FRAMES, None)
        self.runtime.read(self.whole[self.index], self._params, read)
        params, _ = finish_plan(self.runtime, self.plan, self._params[None], stats)
        if self.from_table:
            self.stream.fade_into(params, round(CROSSFADE_S * self.runtime.out_rate))
        else:
            self.stream.update(params)
        return params
