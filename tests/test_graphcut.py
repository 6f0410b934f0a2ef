"""Cutting a decoder graph to its first frames: exact where no layer reads later frames
(the decoder's upsampling), refused where one does, and a model whose first frames cannot be
cut plays on from its whole frames with a warning. Real graphs run by onnxruntime."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest
from harmonic_bundle import SYNTHESIS, make_harmonic_bundle
from onnx import ModelProto, TensorProto, helper, numpy_helper

from rtsynth.graphcut import leads_exactly, to_leading_frames
from rtsynth.model import load_model

OUTPUTS = ("pitch_midi", "partial_power", "noise_power")
SIZE = 20


def _decoder(layers: list[tuple[int, int, int]], channels: int = 6) -> ModelProto:
    """z [B, 20] -> a frame-wise feature map of 4 frames -> transposed convolutions, each
    (kernel, stride, pad) -> partial_power and noise_power (exp of two heads sharing an input)
    and pitch_midi (a sum of z)."""
    rng = np.random.default_rng(1)
    weights = {"expand": rng.standard_normal((SIZE, channels * 4)).astype(np.float32) * 0.3}
    nodes = [
        helper.make_node("MatMul", ["z", "expand"], ["flat"]),
        helper.make_node("Reshape", ["flat", "shape"], ["h0"]),
    ]
    weights["shape"] = np.array([-1, channels, 4], np.int64)
    source = "h0"
    for i, (kernel, stride, pad) in enumerate(layers):
        weights[f"w{i}"] = rng.standard_normal((channels, channels, kernel)).astype(np.float32) * 0.3
        attrs = {"kernel_shape": [kernel], "strides": [stride], "pads": [pad, pad]}
        nodes.append(helper.make_node("ConvTranspose", [source, f"w{i}"], [f"h{i + 1}"], **attrs))
        source = f"h{i + 1}"
    for name, rows in (("partial_power", 3), ("noise_power", 5)):
        weights[f"{name}_w"] = rng.standard_normal((channels, rows, 2)).astype(np.float32) * 0.3
        head = helper.make_node("ConvTranspose", [source, f"{name}_w"], [f"{name}_log"], strides=[2])
        nodes += [head, helper.make_node("Exp", [f"{name}_log"], [name])]
    nodes.append(helper.make_node("ReduceSum", ["z"], ["pitch_midi"], keepdims=0))
    inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", SIZE])]
    outputs = [
        helper.make_tensor_value_info("pitch_midi", TensorProto.FLOAT, ["batch"]),
        helper.make_tensor_value_info("partial_power", TensorProto.FLOAT, ["batch", 3, "t"]),
        helper.make_tensor_value_info("noise_power", TensorProto.FLOAT, ["batch", 5, "t"]),
    ]
    initial = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    graph = helper.make_graph(nodes, "decoder", inputs, outputs, initial)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _session(graph: ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])


UPSAMPLING = [(4, 2, 1), (4, 2, 1)]  # the decoder's stages: output frame j reads inputs up to j/2
READS_AHEAD = [(3, 1, 1), (3, 1, 1)]  # stride-1 layers with a centred kernel read frame j + 1


def test_the_first_frames_of_an_upsampling_decoder_are_computed_alone():
    graph = _decoder(UPSAMPLING)
    whole, lead = _session(graph), _session(to_leading_frames(graph, 2))
    z = np.random.default_rng(0).standard_normal((3, SIZE)).astype(np.float32)
    full = whole.run(list(OUTPUTS), {"z": z})
    first = lead.run(list(OUTPUTS), {"z": z})
    assert full[1].shape == (3, 3, 32) and first[1].shape == (3, 3, 4)  # each layer reads 2 frames
    np.testing.assert_array_equal(first[0], full[0])
    for got, wanted in zip(first[1:], full[1:], strict=True):
        np.testing.assert_allclose(got, wanted[..., : got.shape[-1]], rtol=1e-6)
    assert leads_exactly(whole, lead, 2, z)


def test_a_layer_that_reads_later_frames_is_caught():
    graph = _decoder(READS_AHEAD)
    z = np.random.default_rng(0).standard_normal((3, SIZE)).astype(np.float32)
    assert not leads_exactly(_session(graph), _session(to_leading_frames(graph, 2)), 2, z)


@pytest.mark.parametrize(("layers", "frames", "cut"), [(UPSAMPLING, 4, True), (READS_AHEAD, 8, False)])
def test_a_model_computes_a_notes_first_frames_alone_where_its_graph_allows(tmp_path, caplog, layers, frames, cut):
    """The model's session for the first frames; a decoder that reads ahead gets its whole
    frames instead, and a warning naming the decoder and why."""
    model = load_model(make_harmonic_bundle(tmp_path / "bundle", synthesis=SYNTHESIS))
    (tmp_path / "bundle" / "decoder.onnx").write_bytes(_decoder(layers).SerializeToString())
    z = np.ones((1, SIZE), np.float32)
    with caplog.at_level(logging.WARNING, logger="rtsynth.model"):
        _, partials, _ = model.decode_outputs(z, OUTPUTS, lead=2)
    assert partials.shape[-1] == frames  # the read-ahead graph's whole 8 frames
    why = "its first 2 frames cannot be computed alone (a layer reads later frames); new notes wait for all"
    assert [r.getMessage() for r in caplog.records] == ([] if cut else [f"{tmp_path}/bundle/decoder.onnx: {why}"])
