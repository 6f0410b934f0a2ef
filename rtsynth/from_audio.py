"""A preset from a recording: the bundle's ONNX encoder places a user's sound in timbre space.

The recording goes through prep's own note pipeline (mono, trim, resample, pad/crop, mel: rtsynth.dsp.note), so
it reaches the encoder exactly as training notes did; its timbre latent (the posterior mean)
becomes a preset the engine plays across the keyboard like any other.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rtsynth.bundle import BundleSpec, read_spec
from rtsynth.dsp.audio import AudioProblem
from rtsynth.dsp.note import NotePipeline
from rtsynth.engine.config import EngineConfig
from rtsynth.engine.latent import LatentSpace
from rtsynth.errors import RtsynthError
from rtsynth.paths import resolve_name
from rtsynth.presets import timbre_preset, write_preset
from rtsynth.settings import PAPER_TRIM

log = logging.getLogger(__name__)

MIN_SOUNDING_S = 0.1  # shorter than this is a click, not a note to take a timbre from


class FromAudioError(RtsynthError, ValueError):
    """A recording or bundle that cannot make a preset; the message says which and why."""


def recording_mel(path: Path, spec: BundleSpec) -> np.ndarray:
    """[n_mels, n_frames] in [0, 1], as prep makes it; FromAudioError for unusable files."""
    pipeline = NotePipeline(spec.mel, PAPER_TRIM)
    try:
        cut = pipeline.cut(path)
    except AudioProblem as problem:
        raise FromAudioError(f"{path.name}: {problem}") from None
    if cut.seconds < MIN_SOUNDING_S:
        raise FromAudioError(f"{path.name}: too short: it sounds for {cut.seconds:.3f} s (at least {MIN_SOUNDING_S} s)")
    mel, _ = pipeline.features(cut)
    return mel


def encode_recording(bundle: Path, path: Path) -> np.ndarray:
    """The recording's posterior mean z [20] under the bundle's encoder."""
    import onnxruntime as ort

    spec = read_spec(bundle)
    if not spec.encoder:
        raise FromAudioError(
            f"bundle {spec.name!r} ({bundle}) has no encoder, so it cannot place a recording; "
            "re-export it with `rtsynth export` (which now writes encoder.onnx)"
        )
    mel = recording_mel(path, spec)
    session = ort.InferenceSession(str(bundle / spec.encoder["file"]), providers=["CPUExecutionProvider"])
    (z,) = session.run(None, {session.get_inputs()[0].name: mel[None].astype(np.float32)})
    return np.asarray(z[0], dtype=np.float64)


def preset_from_audio(bundle: Path, recording: Path, presets_dir: Path, name: str) -> Path:
    """Encode `recording` and save its timbre as preset `name`; returns the preset's path."""
    target = resolve_name(presets_dir, name, ".json")
    z = encode_recording(bundle, recording)
    space = LatentSpace(read_spec(bundle))
    path = write_preset(target, timbre_preset(z[space.slices["timbre"]], space, EngineConfig().morph_time_ms))
    log.info("preset %r from %s written to %s", name, recording.name, path)
    return path
