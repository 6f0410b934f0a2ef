"""Direct synthesis: a harmonic-noise bundle's parameters -> output-rate audio, no vocoder.

The decoder gives, per latent, each partial's power and a noise power per mel band for
every frame (rtsynth.synthesis). A note's f0 is its key (equal temperament, A4 = 440 Hz):
pitch is a number here, so there is no tuning table and no resampling (the decoder's own
pitch reading, off by up to half a semitone in the shipped model, is not used). The pitch
latent still selects the class nearest the key, so the partial amplitudes are the ones
trained for that register; partials above max_partial_hz stay silent.

Arrays handed around per key are [K + B, n_frames]: K partial amplitudes, then B noise band
gains, at 0 dB (the note's level is the stream's gain, as for mels).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from rtsynth.bundle import BundleShapeError
from rtsynth.dsp.air import air_gains
from rtsynth.dsp.harmonic import HarmonicStream, SynthFrames, noise_bands, prepare_steady
from rtsynth.dsp.pitch import midi_hz
from rtsynth.engine.cache import cache_key
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.latent import LatentSpace
from rtsynth.engine.notes import NotePlan, air_along, blend_keys
from rtsynth.engine.synth import FrameStream, Runtime
from rtsynth.model import Model
from rtsynth.synthesis import HARMONIC_NOISE, FrameReader, HarmonicNoiseSpec
from rtsynth.vocoder.loudness import level_gain

log = logging.getLogger(__name__)


class DirectRuntime(Runtime):
    vocoder_name = HARMONIC_NOISE  # what the engine reports and the cache keys carry
    attack_vocoder_name = None
    start_vocoder = HARMONIC_NOISE
    first_frames = 1
    phase_coherent = True  # phases integrated from the note's start, noise read from its own offset
    amplitude_frames = True

    def __init__(self, model: Model, config: EngineConfig, synthesis: HarmonicNoiseSpec):
        # no tuning table: every key plays at its own f0 from the class nearest it
        super().__init__(model, config, LatentSpace(dataclasses.replace(model.spec, tuning_cents={})))
        self.synthesis = synthesis
        model.prepare_outputs(synthesis.outputs)
        self.reader = FrameReader(synthesis, self.mel)
        self.bands = self.reader.band_centres(self.out_rate, self.space.air_bands_hz)
        # the air bands this rate plays (the last rows of the noise): their index in the bundle's
        self.air_picks = [i for i, f in enumerate(self.space.air_bands_hz) if f in self.bands]
        self.partials = synthesis.partials
        self.band_power = noise_bands(self.out_rate, self.bands).var(axis=1).astype(np.float64)  # per unit gain

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents [k, 20] -> [k, K + B, n_frames] amplitudes and noise gains at 0 dB."""
        pitch, partials, noise = self.model.decode_outputs(z, self.synthesis.outputs)
        out = np.empty((len(z), self.partials + len(self.bands), self.mel.n_frames), np.float32)
        for i in range(len(z)):
            tonal, rest = self.reader.tonal(float(pitch[i]), partials[i], noise[i])
            out[i, : self.partials] = self.reader.amplitudes(tonal)
            out[i, self.partials :] = self.reader.noise_gains(rest, len(self.bands)).T
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

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
            return self._with_air(keys[0], plan), float(plan.level[0])
        power, level = blend_keys(plan, keys.astype(np.float64) ** 2)  # powers: a blend has no dip
        peak = float(level.max())
        params = (np.sqrt(power) * (10.0 ** ((level - peak) / 20.0))[None, :]).astype(np.float32)
        return self._with_air(params, plan), peak

    def _with_air(self, params: np.ndarray, plan: NotePlan) -> np.ndarray:
        density = air_along(plan)
        if density is None or not self.air_picks:
            return params
        out = params.copy()
        out[-len(self.air_picks) :] = air_gains(self.frame_power(params), density[self.air_picks])
        return out

    def note_key(self, plan: NotePlan, note: int) -> tuple[str, tuple[int, ...]]:
        """The same latent at another key is another sound here (its f0)."""
        return cache_key(plan.z[0], f"{HARMONIC_NOISE}:{note}{plan.length_tag}{plan.air_tag}")

    def mixer_transpose(self, transpose: float) -> float:
        return 0.0  # the pitch is in f0; the mixer only bends

    def stream(
        self, params: np.ndarray, peak_db: float, start_frame: int = 0, vocoder: str | None = None, note: int = 60
    ) -> DirectStream:
        return DirectStream(self, params, peak_db, start_frame, note)

    def warm_up(self, streams: int = 1) -> None:
        """Run the decoder once (the first onnxruntime run is slow), refuse a decoder whose
        synthesis outputs are not finite, naming the output, and make every key's tables: its
        rotations and the noise shares of the pitch its class decodes (a key's first note would
        build them, 1 ms of its decode)."""
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
        prepare_steady([midi_hz(k) for k in keys], self.partials, self.out_rate)
        classes = np.zeros((len(self.space.pitches), self.space.layout.size), dtype=np.float32)
        classes[:, self.space.slices["pitch"]] = self.space.pitch_means
        for pitch in self.model.decode_outputs(classes, self.synthesis.outputs)[0]:
            self.reader.bins.shares(float(pitch))


class DirectStream(FrameStream):
    """One note synthesized from `start_frame` on, a few frames of output at a time."""

    vocoder_name = HARMONIC_NOISE

    def __init__(self, runtime: DirectRuntime, params: np.ndarray, peak_db: float, start_frame: int, note: int):
        self.runtime, self.mel, self.peak_db = runtime, params, peak_db
        k = runtime.partials
        f0 = midi_hz(note)
        amplitudes = params[:k].T
        if runtime.synthesis.max_partial_hz is not None:
            amplitudes = amplitudes * (np.arange(1, k + 1) * f0 <= runtime.synthesis.max_partial_hz)
        frames = SynthFrames(np.full(params.shape[1], f0), amplitudes, params[k:].T, runtime.frame_seconds)
        self.frame = start_frame
        self.start = self.written = runtime.sample_of(start_frame)
        self._synth = HarmonicStream(frames, runtime.out_rate, runtime.bands, self.start, seed=note)
        self._gain = np.float32(level_gain(peak_db))
        self.done = False

    @property
    def gain(self) -> float:
        return float(self._gain)

    def advance(self, frames: int) -> np.ndarray:
        """Synthesize up to `frames` more frames; return their output samples."""
        if self.done:
            return np.zeros(0, dtype=np.float32)
        n_frames = self.mel.shape[1]
        self.frame = min(self.frame + frames, n_frames)
        end = self.runtime.note_samples if self.frame >= n_frames else self.runtime.sample_of(self.frame)
        out = self._synth.render(max(0, end - self.written)) * self._gain
        self.written = end
        self.done = self.frame >= n_frames
        return out

    def close(self) -> None:
        self.done = True
