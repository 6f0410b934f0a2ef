"""A small real bundle whose decoder draws a harmonic note: for engine tests that need pitch.

The ONNX graph (onnx.helper, no torch) reads the pitch from z_P[0] (semitones / 12 above
C4), the duration from z_D[0] (seconds / 6) and harmonic amplitudes from z_T, and draws
Gaussian harmonic bumps on the mel bands, in the bundle's dB-below-peak [0, 1] scale, held
for the duration and then silent. So a rendered note has a known f0 and length, and
timbres differ in spectral envelope, like the real model (which is trained to do this).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rtsynth.bundle import BundleSpec, DescriptorSpec, write_spec
from rtsynth.dsp.mel import hz_to_mel, mel_to_hz
from rtsynth.labels import DESCRIPTORS, DYNAMICS_VELOCITY, LATENT_DIMS, LATENT_SIZE, latent_slices
from rtsynth.model import METADATA_KEYS
from rtsynth.settings import MelSettings

TIMBRES = ["flute", "oboe", "trumpet", "violin"]
PITCHES = list(range(48, 73))  # C3-C5
DURATIONS = [0.25 * (k + 1) for k in range(24)]
HARMONICS = 12
LEVELS_DB = {"pp": 8.0, "mf": 16.0, "ff": 22.0}
# bundle.json `synthesis` for a direct-synthesis variant: harmonic amplitude sqrt(power x 1e-4)
SYNTHESIS = {
    "kind": "harmonic-noise",
    "partials": HARMONICS,
    "partial_scale": 1e-4,
    "noise_bands_hz": [100.0, 400.0, 1600.0, 6400.0, 11000.0],
    "max_partial_hz": 11025.0,
}
SLICES = latent_slices()


def _const(name: str, value) -> object:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def _axes(name: str, axis: int) -> object:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array([axis], dtype=np.int64), name)


def _selector(index: int) -> np.ndarray:
    s = np.zeros((LATENT_SIZE, 1), np.float32)
    s[index, 0] = 1.0
    return s


def harmonic_decoder(path: Path, mel: MelSettings, seed: int = 0, synthesis: bool = False) -> None:
    """The decoder; with `synthesis`, also its parameters as the outputs a harmonic-noise
    bundle declares: pitch_midi [B], partial_power [B, H, T] (amplitude² of each harmonic,
    gated like the mel) and noise_power [B, M, T] (a faint floor, gated)."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    edges = mel_to_hz(np.linspace(hz_to_mel(mel.fmin), hz_to_mel(mel.f_max), mel.n_mels + 2))
    centres, width = edges[1:-1], np.maximum(np.diff(edges)[1:], 25.0)
    amp_weights = np.zeros((LATENT_SIZE, HARMONICS), np.float32)
    amp_weights[SLICES["timbre"]] = rng.standard_normal((LATENT_DIMS["timbre"], HARMONICS)) * 1.5
    amp_bias = -0.6 * np.log(np.arange(1, HARMONICS + 1))  # a natural roll-off
    times = np.arange(mel.n_frames) * mel.hop_length / mel.sample_rate
    offset = math.log(440.0) + (60 - 69) * math.log(2) / 12
    inits = [
        _const("sel_p", _selector(SLICES["pitch"].start)),
        _const("sel_d", _selector(SLICES["duration"].start)),
        _const("ln2", math.log(2)),
        _const("offset", offset),
        _const("harm", np.arange(1, HARMONICS + 1).reshape(1, HARMONICS, 1)),
        _const("centres", centres.reshape(1, 1, -1)),
        _const("width", width.reshape(1, 1, -1)),
        _const("W_amp", amp_weights),
        _const("b_amp", amp_bias),
        _const("eps", 1e-6),
        _const("db_scale", 10 / math.log(10) / mel.db_range),
        _const("one", 1.0),
        _const("zero", 0.0),
        _const("six", 6.0),
        _const("times", times.reshape(1, -1)),
        _const("release", 0.15),
        _axes("ax1", 1),
        _axes("ax2", 2),
    ]
    node = helper.make_node
    nodes = [
        node("MatMul", ["z", "sel_p"], ["p"]),  # octaves above C4
        node("Mul", ["p", "ln2"], ["p_ln"]),
        node("Add", ["p_ln", "offset"], ["log_f0"]),
        node("Exp", ["log_f0"], ["f0"]),
        node("Unsqueeze", ["f0", "ax2"], ["f0_3"]),
        node("Mul", ["f0_3", "harm"], ["hf0"]),  # [B, H, 1]
        node("Sub", ["centres", "hf0"], ["diff"]),
        node("Div", ["diff", "width"], ["q"]),
        node("Mul", ["q", "q"], ["q2"]),
        node("Neg", ["q2"], ["nq2"]),
        node("Exp", ["nq2"], ["bumps"]),
        node("MatMul", ["z", "W_amp"], ["a_lin"]),
        node("Add", ["a_lin", "b_amp"], ["a_log"]),
        node("Sigmoid", ["a_log"], ["amp"]),
        node("Unsqueeze", ["amp", "ax2"], ["amp3"]),
        node("Mul", ["bumps", "amp3"], ["partials"]),
        node("ReduceSum", ["partials", "ax1"], ["spec"], keepdims=0),
        node("Add", ["spec", "eps"], ["spec_e"]),
        node("Log", ["spec_e"], ["ln_spec"]),
        node("Mul", ["ln_spec", "db_scale"], ["db_unit"]),
        node("Add", ["db_unit", "one"], ["unit"]),
        node("Unsqueeze", ["unit", "ax2"], ["unit3"]),  # [B, M, 1]
        node("MatMul", ["z", "sel_d"], ["d"]),
        node("Mul", ["d", "six"], ["dur"]),  # [B, 1] seconds
        node("Sub", ["times", "dur"], ["past"]),
        node("Div", ["past", "release"], ["past_r"]),
        node("Clip", ["past_r", "zero", "one"], ["fade"]),
        node("Neg", ["fade"], ["env"]),
        node("Unsqueeze", ["env", "ax1"], ["env3"]),  # [B, 1, N]
        node("Add", ["unit3", "env3"], ["raw"]),
        node("Clip", ["raw", "zero", "one"], ["mel"]),
    ]
    outputs = [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["batch", mel.n_mels, mel.n_frames])]
    if synthesis:
        inits += [_const("twelve", 12.0), _const("sixty", 60.0), _const("floor", np.full((1, mel.n_mels, 1), 1e-6))]
        nodes += [
            node("Mul", ["p", "twelve"], ["semis"]),
            node("Add", ["semis", "sixty"], ["midi2"]),
            node("Squeeze", ["midi2", "ax1"], ["pitch_midi"]),
            node("Add", ["env3", "one"], ["gate"]),  # [B, 1, N]: 1 while held, 0 after the release
            node("Mul", ["amp3", "amp3"], ["power3"]),
            node("Mul", ["power3", "gate"], ["partial_power"]),
            node("Mul", ["floor", "gate"], ["noise_power"]),
        ]
        outputs += [
            helper.make_tensor_value_info("pitch_midi", TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info("partial_power", TensorProto.FLOAT, ["batch", HARMONICS, mel.n_frames]),
            helper.make_tensor_value_info("noise_power", TensorProto.FLOAT, ["batch", mel.n_mels, mel.n_frames]),
        ]
    graph = helper.make_graph(
        nodes,
        "harmonic_decoder",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", LATENT_SIZE])],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    helper.set_model_props(model, dict(zip(METADATA_KEYS, ("1", str(LATENT_SIZE), str(mel.n_mels), str(mel.n_frames)))))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _means(descriptor: str, rng: np.random.Generator) -> np.ndarray:
    dims = LATENT_DIMS[descriptor]
    if descriptor == "timbre":
        return rng.standard_normal((len(TIMBRES), dims)) * 1.5
    if descriptor == "pitch":
        return np.pad(((np.array(PITCHES) - 60) / 12.0)[:, None], ((0, 0), (0, dims - 1)))
    if descriptor == "dynamics":
        return rng.standard_normal((3, dims))
    return np.pad((np.array(DURATIONS) / 6.0)[:, None], ((0, 0), (0, dims - 1)))


def make_harmonic_bundle(directory: Path, seed: int = 0, name: str = "harmonic", synthesis: dict | None = None) -> Path:
    """The bundle; `synthesis` (bundle.json's field, e.g. SYNTHESIS) also adds the decoder outputs."""
    mel = MelSettings()
    directory.mkdir(parents=True, exist_ok=True)
    harmonic_decoder(directory / "decoder.onnx", mel, seed, synthesis=synthesis is not None)
    rng = np.random.default_rng(seed)
    classes = {"timbre": TIMBRES, "pitch": PITCHES, "dynamics": ["pp", "mf", "ff"], "duration": DURATIONS}
    descriptors = {d: DescriptorSpec(classes[d], _means(d, rng).tolist()) for d in DESCRIPTORS}
    loudness = {t: dict(LEVELS_DB) for t in TIMBRES}
    spec = BundleSpec(
        name,
        mel,
        descriptors,
        dict(DYNAMICS_VELOCITY),
        loudness,
        corpus={"name": "synthetic"},
        vocoder={"kind": "pghi"},
        synthesis=synthesis or {},
    )
    write_spec(directory, spec)
    return directory
