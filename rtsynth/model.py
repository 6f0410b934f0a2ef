"""A loaded bundle: its spec plus an onnxruntime session for the decoder.

CPU by default with one intra-op thread (the real-time path shares the machine with the
audio thread); the CUDA provider when asked for and available, otherwise a warning and CPU.

onnxruntime runs every node of a graph whatever outputs are asked for, so the synthesis
parameters of a harmonic-noise decoder cost its mel as well (the partials' mel response,
in float64, is more than half the graph's time). They are read from a second session over
the part of the graph they depend on, cut at load: the same nodes and weights, so the same
numbers, in 0.43 ms rather than 1.05 (one latent, one thread). A third session computes only
their first frames, which is what a new note needs before it can start (rtsynth.graphcut).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rtsynth.bundle import DECODER_FILE, BundleShapeError, BundleSpec, read_spec
from rtsynth.graphcut import leads_exactly, to_leading_frames, to_outputs
from rtsynth.synthesis import parse_synthesis

if TYPE_CHECKING:
    import onnx
    from onnxruntime import InferenceSession, NodeArg

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"

# metadata_props every exported decoder carries; checked against bundle.json at load
METADATA_KEYS = ("rtsynth.format_version", "rtsynth.latent_size", "rtsynth.n_mels", "rtsynth.n_frames")


def select_providers(device: str) -> list[str]:
    """onnxruntime providers for 'cpu' or 'cuda' (falls back to CPU with a warning)."""
    import onnxruntime as ort

    if device == "cpu":
        return [CPU]
    if device != "cuda":
        raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    if CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    log.warning(
        "CUDA was asked for but onnxruntime has no CUDA provider here "
        "(install rtsynth[gpu] on a CUDA machine); using the CPU"
    )
    return [CPU]


@dataclass
class Model:
    directory: Path
    spec: BundleSpec
    session: InferenceSession
    provider: str
    _cut: dict[tuple[tuple[str, ...], int | None], InferenceSession] = field(default_factory=dict, repr=False)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """z [batch, layout size] -> mel [batch, n_mels, n_frames] in [0, 1]."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        size = self.spec.layout.size
        if z.ndim != 2 or z.shape[1] != size:
            raise ValueError(f"z must have shape [batch, {size}], got {z.shape}")
        mel: np.ndarray = self.session.run(["mel"], {"z": z})[0]
        return mel

    def decode_outputs(self, z: np.ndarray, names: tuple[str, ...], lead: int | None = None) -> list[np.ndarray]:
        """z [batch, layout size] -> the named decoder outputs (a harmonic-noise bundle's
        parameters), from the graph cut down to them (`prepare_outputs`); with `lead`, only
        their first frames (at least `lead` of them)."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        session = self._cut.get((names, lead))
        if session is None:
            session = self.prepare_outputs(names, lead)
        outputs: list[np.ndarray] = session.run(list(names), {"z": z})
        return outputs

    def prepare_outputs(self, names: tuple[str, ...], lead: int | None = None) -> InferenceSession:
        """A session computing only `names` (a few ms; the runtime calls it at load, not on a
        note); with `lead`, only their first `lead` frames or more. A decoder whose first frames
        cannot be computed alone (a layer that reads later frames) gets the whole frames, and a
        warning saying new notes wait for them."""
        import onnx

        path = self.directory / DECODER_FILE
        try:
            cut = to_outputs(onnx.load(str(path)), list(names))
            whole = self._cut.get((names, None)) or self._session(cut)
        except Exception as err:  # onnx and onnxruntime raise their own exception types
            raise BundleShapeError(f"{path}: cannot cut the graph to outputs {list(names)}: {err}") from None
        self._cut[(names, None)] = whole
        session = whole if lead is None else self._leading(cut, whole, lead)
        self._cut[(names, lead)] = session
        return session

    def _leading(self, cut: onnx.ModelProto, whole: InferenceSession, lead: int) -> InferenceSession:
        """A session for the first `lead` frames of `cut`, or `whole` where that cut is not exact."""
        probe = np.random.default_rng(0).standard_normal((4, self.spec.layout.size)).astype(np.float32)
        try:
            leading = self._session(to_leading_frames(cut, lead))
            exact = leads_exactly(whole, leading, lead, probe)
        except Exception as err:  # onnxruntime raises its own exception types
            exact, why = False, str(err).splitlines()[0]
        else:
            why = "a layer reads later frames"
        if exact:
            return leading
        path = self.directory / DECODER_FILE
        log.warning("%s: its first %d frames cannot be computed alone (%s); new notes wait for all", path, lead, why)
        return whole

    def _session(self, graph: onnx.ModelProto) -> InferenceSession:
        import onnxruntime as ort

        return ort.InferenceSession(
            graph.SerializeToString(),
            sess_options=self.session.get_session_options(),
            providers=self.session.get_providers(),
        )


def load_model(bundle_dir: str | Path, device: str = "cpu", threads: int = 1) -> Model:
    """Validate a bundle and open its decoder; raises a BundleError subclass naming the problem."""
    import onnxruntime as ort

    bundle_dir = Path(bundle_dir)
    spec = read_spec(bundle_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False  # an arena outlives its session's use: memory would climb with swaps
    try:
        session = ort.InferenceSession(
            str(bundle_dir / DECODER_FILE), sess_options=options, providers=select_providers(device)
        )
    except Exception as err:  # onnxruntime raises its own exception types
        raise BundleShapeError(f"{bundle_dir / DECODER_FILE} cannot be loaded by onnxruntime: {err}") from None
    _check_decoder(session, spec)
    provider = session.get_providers()[0]
    log.info("loaded bundle %s (%s) on %s", spec.name, bundle_dir, provider)
    return Model(bundle_dir, spec, session, provider)


def _check_decoder(session: InferenceSession, spec: BundleSpec) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    size = spec.layout.size
    if [i.name for i in inputs] != ["z"] or inputs[0].shape[1:] != [size]:
        raise BundleShapeError(
            f"decoder input must be z [batch, {size}] ({spec.layout.describe()}), "
            f"got {[(i.name, i.shape) for i in inputs]}"
        )
    expected = [spec.mel.n_mels, spec.mel.n_frames]
    if outputs[0].name != "mel" or outputs[0].shape[1:] != expected:
        raise BundleShapeError(
            f"decoder output must be mel [batch, {expected[0]}, {expected[1]}], "
            f"got {[(o.name, o.shape) for o in outputs]}"
        )
    _check_synthesis_outputs(outputs, spec)
    meta = session.get_modelmeta().custom_metadata_map
    facts = dict(zip(METADATA_KEYS, (spec.format_version, size, spec.mel.n_mels, spec.mel.n_frames), strict=True))
    wrong = {k: (meta.get(k), str(v)) for k, v in facts.items() if meta.get(k) != str(v)}
    if wrong:
        raise BundleShapeError(f"decoder metadata disagrees with bundle.json (onnx, json): {wrong}")


def _check_synthesis_outputs(outputs: list[NodeArg], spec: BundleSpec) -> None:
    """A harmonic-noise bundle's decoder must output its synthesis parameters, shaped as declared."""
    synthesis = parse_synthesis(spec.synthesis)
    if synthesis is None:
        return
    shapes = {o.name: o.shape[1:] for o in outputs[1:]}
    expected = {
        synthesis.pitch_output: [],
        synthesis.partials_output: [synthesis.partials, spec.mel.n_frames],
        synthesis.noise_output: [spec.mel.n_mels, spec.mel.n_frames],
    }
    for name, shape in expected.items():
        if name not in shapes:
            raise BundleShapeError(f"synthesis output {name!r} is missing from the decoder (it has {sorted(shapes)})")
        if shapes[name] != shape:
            raise BundleShapeError(f"synthesis output {name!r} must be [batch, *{shape}], got {shapes[name]}")
