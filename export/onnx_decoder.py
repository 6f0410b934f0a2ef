"""torch decoder -> `decoder.onnx`, the graph the runtime loads with onnxruntime.

Uses torch's current (torch.export-based) ONNX exporter, whose optimiser folds constants;
the graph takes `z` [batch, layout size] float32 with a dynamic batch axis and returns `mel`
[batch, n_mels, n_frames]. The key bundle facts go into the model's `metadata_props`,
where `rtsynth.model.load_model` checks them against bundle.json.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from rtsynth.bundle import BUNDLE_VERSION
from rtsynth.labels import STANDARD_LAYOUT, LatentLayout
from rtsynth.model import METADATA_KEYS
from rtsynth.settings import MelSettings
from rtsynth.train.models import NoteModel

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

OPSET = 18
"""ONNX operator set of exported decoders (onnxruntime >= 1.14 runs it)."""


class _DecoderGraph(nn.Module):
    """The part of the VAE the runtime needs: z -> mel."""

    def __init__(self, model: NoteModel):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decode(z)


def decoder_metadata(
    mel: MelSettings, extras: dict[str, object], layout: LatentLayout = STANDARD_LAYOUT
) -> dict[str, str]:
    """METADATA_KEYS (checked at load) plus descriptive `rtsynth.*` extras, all as strings."""
    names = ",".join(f"{d}:{n}" for d, n in layout.dims)
    facts: dict[str, object] = dict(
        zip(METADATA_KEYS, (BUNDLE_VERSION, layout.size, mel.n_mels, mel.n_frames), strict=True)
    )
    facts.update(
        {"rtsynth.latent_layout": names, "rtsynth.sample_rate": mel.sample_rate, "rtsynth.hop_length": mel.hop_length}
    )
    facts.update({f"rtsynth.{key}": value for key, value in extras.items()})
    return {key: str(value) for key, value in facts.items()}


_EXPORTER_LOGGERS = {"torch.onnx": logging.ERROR, "onnxscript": logging.WARNING, "onnx_ir": logging.WARNING}


@contextmanager
def quiet_exporter():
    """The exporter logs every optimiser pass, warns about optional operator libraries
    (torchvision) and its own deprecations; none of it concerns a decoder, so keep the
    export log readable."""
    loggers = {logging.getLogger(name): level for name, level in _EXPORTER_LOGGERS.items()}
    saved = {logger: logger.level for logger in loggers}
    try:
        for logger, level in loggers.items():
            logger.setLevel(level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            # a GRU re-assigns its flat weight list while traced; the parity check judges the graph
            warnings.filterwarnings("ignore", message=".*were assigned during export", category=UserWarning)
            yield
    finally:
        for logger, level in saved.items():
            logger.setLevel(level)


def export_graph(graph: nn.Module, example: torch.Tensor, input_name: str, output_name: str) -> onnx.ModelProto:
    """`graph` (one input, batch axis first) as an ONNX ModelProto with a dynamic batch axis."""
    with torch.no_grad(), quiet_exporter():
        program = torch.onnx.export(
            graph.eval(),
            (example,),
            input_names=[input_name],
            output_names=[output_name],
            dynamic_shapes={input_name: {0: torch.export.Dim("batch", min=1)}},
            opset_version=OPSET,
            dynamo=True,
            optimize=True,
            verbose=False,
        )
    assert program is not None  # the dynamo exporter always returns its program
    return program.model_proto


def export_decoder(model: NoteModel, path: str | Path, metadata: dict[str, str]) -> Path:
    """Write `model.decode` as ONNX with a dynamic batch axis and `metadata` as metadata_props."""
    import onnx

    path = Path(path)
    proto = export_graph(_DecoderGraph(model), torch.zeros(2, model.layout.size), "z", "mel")
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    log.info(
        "exported the decoder to %s (ONNX IR %d, opset %d, %.1f MB)",
        path,
        proto.ir_version,
        OPSET,
        path.stat().st_size / 1e6,
    )
    return path
