"""`rtsynth export-synthesis`: give a harmonic decoder's bundle direct synthesis, by ONNX surgery.

A decoder with the harmonic output (rtsynth.train.models.harmonic) computes, before its mel,
the pitch it reads from z_P (MIDI), each partial's power per frame and a noise power per mel
band per frame. This finds those three tensors in the exported graph by its structure
(mel = clip(log(R·scale @ partials + noise) ...), pitch -> 440·2^((pitch - 69) / 12)), adds
them as graph outputs (nothing else changes: the mel output stays bit-identical, checked),
and writes a bundle that declares `synthesis = "harmonic-noise"` (rtsynth.synthesis), so the
engine synthesizes at the output rate instead of vocoding. No checkpoint or torch needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtsynth.bundle import DECODER_FILE, BundleSpec, read_spec, write_spec
from rtsynth.dsp.mel import mel_band_edges
from rtsynth.export.staging import check_target, copy_files, staged_bundle
from rtsynth.synthesis import HARMONIC_NOISE, HarmonicNoiseSpec

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

NOISE_BANDS = 40


class SurgeryError(ValueError):
    """The decoder is not a harmonic decoder this surgery understands; the message says where."""


@dataclass(frozen=True)
class HarmonicTensors:
    pitch: str  # [batch] MIDI (float64 in the graph)
    partials: str  # [batch, K, frames]
    noise: str  # [batch, n_mels, frames]
    partial_scale: float


def find_harmonic_tensors(graph) -> HarmonicTensors:
    """Walk back from the mel output to the harmonic head's parameters."""
    from onnx import numpy_helper

    producer = {out: node for node in graph.node for out in node.output}
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    constants |= {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}

    def walk(name: str, op: str) -> onnx.NodeProto:
        node = producer.get(name)
        if node is None or node.op_type != op:
            found = node.op_type if node is not None else "an input"
            raise SurgeryError(f"not a harmonic decoder: expected {op} producing {name!r}, found {found}")
        return node

    node = walk("mel", "Clip")
    node = walk(node.input[0], "Add")
    node = walk(node.input[0], "Mul")
    total = walk(walk(node.input[0], "Log").input[0], "Add")
    kinds = {name: producer[name].op_type if name in producer else "" for name in total.input}
    matmul = next((producer[n] for n, op in kinds.items() if op == "MatMul"), None)
    if matmul is None:
        raise SurgeryError("not a harmonic decoder: the power before the log is not partials @ response + noise")
    noise = next(n for n in total.input if n != matmul.output[0])
    scaled = walk(matmul.input[0], "Mul")
    scale = next((constants[n] for n in scaled.input if n in constants and constants[n].size == 1), None)
    if scale is None:
        raise SurgeryError("not a harmonic decoder: the partial response has no constant scale")
    return HarmonicTensors(_pitch_tensor(graph, producer, constants), matmul.input[1], noise, float(scale))


def _pitch_tensor(graph, producer: dict, constants: dict) -> str:
    """The x in 440 · 2^((x - 69) / 12): the MIDI pitch the head reads."""
    for node in graph.node:
        if node.op_type != "Pow" or node.input[0] not in constants or float(constants[node.input[0]]) != 2.0:
            continue
        div = producer.get(node.input[1])
        if div is None or div.op_type != "Div":
            continue
        sub = producer.get(div.input[0])
        if sub is None or sub.op_type != "Sub":
            continue
        if float(constants.get(div.input[1], np.nan)) == 12.0 and float(constants.get(sub.input[1], np.nan)) == 69.0:
            return sub.input[0]
    raise SurgeryError("not a harmonic decoder: no pitch -> Hz conversion (440 * 2^((p - 69) / 12)) found")


def add_synthesis_outputs(model, tensors: HarmonicTensors, spec: HarmonicNoiseSpec, n_mels: int, n_frames: int):
    """The model with the three parameters as extra outputs (pitch cast to float32)."""
    from onnx import TensorProto, helper

    graph = model.graph
    graph.node.extend(
        [
            helper.make_node("Cast", [tensors.pitch], [spec.pitch_output], to=TensorProto.FLOAT),
            helper.make_node("Identity", [tensors.partials], [spec.partials_output]),
            helper.make_node("Identity", [tensors.noise], [spec.noise_output]),
        ]
    )
    graph.output.extend(
        [
            helper.make_tensor_value_info(spec.pitch_output, TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info(spec.partials_output, TensorProto.FLOAT, ["batch", spec.partials, n_frames]),
            helper.make_tensor_value_info(spec.noise_output, TensorProto.FLOAT, ["batch", n_mels, n_frames]),
        ]
    )
    return model


def noise_bands(mel, count: int = NOISE_BANDS) -> tuple[float, ...]:
    """`count` of the mel bands' centres, evenly spaced on the mel scale."""
    centres = mel_band_edges(mel)[1:-1]
    picks = np.unique(np.round(np.linspace(0, len(centres) - 1, count)).astype(int))
    return tuple(float(c) for c in centres[picks])


def export_synthesis(source: str | Path, out: str | Path, force: bool = False) -> Path:
    """Write a copy of the bundle at `source` to `out` with harmonic-noise synthesis."""
    import onnx

    source, out = Path(source), Path(out)
    spec = read_spec(source)
    if spec.synthesis:
        kind = spec.synthesis.get("kind")
        raise SurgeryError(f"{source} already plays by {kind!r} synthesis; give it the bundle its export wrote")
    check_target(out, force)
    model = onnx.load(str(source / DECODER_FILE))
    tensors = find_harmonic_tensors(model.graph)
    partials = _partials_count(model, tensors)
    trained_rate = spec.model.get("audio_tuned", {}).get(
        "sample_rate", spec.mel.sample_rate
    )  # partials heard in training
    synthesis = HarmonicNoiseSpec(partials, tensors.partial_scale, noise_bands(spec.mel), trained_rate / 2)
    add_synthesis_outputs(model, tensors, synthesis, spec.mel.n_mels, spec.mel.n_frames)
    onnx.checker.check_model(model)
    with staged_bundle(out, force) as staging:
        copy_files(source, staging, skip=(DECODER_FILE,))
        onnx.save(model, str(staging / DECODER_FILE))
        _check_mel_unchanged(source / DECODER_FILE, staging / DECODER_FILE)
        model_facts = {**spec.model, "synthesis_from": "ONNX surgery (rtsynth export-synthesis)"}
        direct = replace(spec, synthesis=synthesis.to_dict(), model=model_facts)
        write_spec(staging, direct)
        write_spec(staging, replace(direct, metrics=_retuned(staging, direct)))
    log.info(
        "wrote %s: %d partials, %d noise bands, pitch/partials/noise as decoder outputs",
        out,
        partials,
        len(synthesis.noise_bands_hz),
    )
    return out


def _partials_count(model, tensors: HarmonicTensors) -> int:
    """K from the partials ConvTranspose's weight [channels, K, kernel]."""
    from onnx import numpy_helper

    producer = {out: node for node in model.graph.node for out in node.output}
    weights = {i.name: i for i in model.graph.initializer}
    node = producer.get(tensors.partials)
    while node is not None and node.op_type != "ConvTranspose":
        node = producer.get(node.input[0])
    if node is None or node.input[1] not in weights:
        raise SurgeryError("not a harmonic decoder: the partial powers do not come from a ConvTranspose")
    return int(numpy_helper.to_array(weights[node.input[1]]).shape[1])


def _retuned(bundle: Path, spec: BundleSpec) -> dict[str, Any]:
    """The metrics with the tuning measured as the bundle now plays (every 3rd key of each
    timbre's range); the mel path's measurement no longer says how it sounds."""
    from rtsynth.tuning import measure_tuning

    metrics = {k: v for k, v in spec.metrics.items() if k != "tuning"}
    ranges = {t: (int(r[0]), int(r[1])) for t, r in spec.corpus.get("timbre_pitch_ranges", {}).items()}
    if ranges:
        metrics["tuning"] = {**measure_tuning(bundle, ranges, step=3).summary(), "synthesis": HARMONIC_NOISE}
    return metrics


def _check_mel_unchanged(before: Path, after: Path) -> None:
    import onnxruntime as ort

    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (before, after)]
    size = sessions[0].get_inputs()[0].shape[1]
    z = np.random.default_rng(0).standard_normal((8, size)).astype(np.float32)
    mels = [session.run(["mel"], {"z": z})[0] for session in sessions]
    if not np.array_equal(*mels):
        raise SurgeryError(f"the mel output changed by {np.abs(mels[0] - mels[1]).max():g}: surgery refused")
