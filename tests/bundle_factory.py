"""Builds small but real bundles for runtime tests: an ONNX linear+sigmoid decoder.

No torch needed: the graph is written with onnx.helper, so runtime tests exercise the
same onnxruntime loading path as exported models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtsynth.bundle import BundleSpec, DescriptorSpec, write_spec
from rtsynth.labels import DESCRIPTORS, DYNAMICS_VELOCITY, LATENT_DIMS, LATENT_SIZE
from rtsynth.model import METADATA_KEYS
from rtsynth.settings import MelSettings

VOCAB = {
    "timbre": ["flute", "violin", "trumpet"],
    "pitch": list(range(60, 68)),
    "dynamics": ["pp", "mf", "ff"],
    "duration": [0.25 * (k + 1) for k in range(24)],
}


def linear_decoder(path: Path, mel: MelSettings, seed: int = 0, metadata: dict | None = None) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    size = mel.n_mels * mel.n_frames
    weight = numpy_helper.from_array((rng.standard_normal((LATENT_SIZE, size)) * 0.3).astype(np.float32), "W")
    bias = numpy_helper.from_array(np.full(size, -1.0, np.float32), "b")
    shape = numpy_helper.from_array(np.array([-1, mel.n_mels, mel.n_frames], np.int64), "shape")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["z", "W"], ["zw"]),
            helper.make_node("Add", ["zw", "b"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["flat"]),
            helper.make_node("Reshape", ["flat", "shape"], ["mel"]),
        ],
        "decoder",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", LATENT_SIZE])],
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["batch", mel.n_mels, mel.n_frames])],
        [weight, bias, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    facts = (
        metadata
        if metadata is not None
        else dict(zip(METADATA_KEYS, ("1", str(LATENT_SIZE), str(mel.n_mels), str(mel.n_frames))))
    )
    helper.set_model_props(model, facts)
    onnx.save(model, str(path))


def make_bundle(directory: Path, mel: MelSettings | None = None, seed: int = 0) -> Path:
    mel = mel or MelSettings()
    directory.mkdir(parents=True, exist_ok=True)
    linear_decoder(directory / "decoder.onnx", mel, seed)
    rng = np.random.default_rng(seed)
    descriptors = {
        d: DescriptorSpec(VOCAB[d], (rng.standard_normal((len(VOCAB[d]), LATENT_DIMS[d])) * 2).tolist())
        for d in DESCRIPTORS
    }
    loudness = {t: {"pp": -30.0, "mf": -20.0, "ff": -12.0} for t in VOCAB["timbre"]}
    spec = BundleSpec(
        "test",
        mel,
        descriptors,
        dict(DYNAMICS_VELOCITY),
        loudness,
        corpus={"name": "synthetic"},
        vocoder={"kind": "griffin-lim"},
    )
    write_spec(directory, spec)
    return directory
