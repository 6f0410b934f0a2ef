"""The encoder as ONNX (mel -> posterior means z), so the runtime can place a user's recording
in the latent space (rtsynth.from_audio) without torch. Exported beside the decoder and checked
against torch the same way."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rtsynth.export.onnx_decoder import export_graph
from rtsynth.train.models import NoteModel

log = logging.getLogger(__name__)

ENCODER_FILE = "encoder.onnx"


class _EncoderGraph(nn.Module):
    """mel [batch, n_mels, n_frames] -> the posterior means of the model's latents, z [batch, layout size]."""

    def __init__(self, model: NoteModel):
        super().__init__()
        self.model = model

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        posteriors = self.model.encode(mel)
        return torch.cat([posteriors[d][0] for d in self.model.layout.names], dim=1)


def export_encoder(model: NoteModel, path: Path, example: np.ndarray, tolerance: float) -> Path:
    """Write the encoder to `path` and check onnxruntime against torch on `example` mels."""
    import onnx
    import onnxruntime as ort

    graph = _EncoderGraph(model).eval()
    mels = torch.from_numpy(np.asarray(example, dtype=np.float32))
    proto = export_graph(graph, mels, "mel", "z")
    with torch.no_grad():
        expected = graph(mels).numpy()
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    error = float(np.max(np.abs(session.run(None, {"mel": mels.numpy()})[0] - expected)))
    if error > tolerance:
        raise ValueError(f"the ONNX encoder differs from torch by {error:.2e} (tolerance {tolerance:.0e})")
    log.info("exported the encoder to %s (max error vs torch %.1e)", path, error)
    return path
