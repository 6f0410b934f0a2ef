"""Cutting a decoder's ONNX graph down to what a note needs now.

onnxruntime runs every node of a graph whatever outputs are asked for, and every frame of
every node. Two cuts, both the same nodes and weights (so the same numbers):

- to the outputs asked for (`to_outputs`): the synthesis parameters without the mel;
- to the leading frames (`to_leading_frames`): every transposed convolution reads only the
  first frames of its input, so the graph computes a note's first frames alone. That holds
  while no layer's output frame depends on a later input frame (the decoder's stride-2 and
  stride-4 upsampling layers do not), which `leads_exactly` checks by running both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import ModelProto
    from onnxruntime import InferenceSession

TIME_AXIS = 2  # [batch, channels, frames]
# the cut may reorder a sum, not change it: relative difference allowed on a power
LEAD_RTOL = 1e-5


def to_outputs(graph: ModelProto, names: list[str]) -> ModelProto:
    """The part of `graph` that `names` depend on (input z)."""
    from onnx.utils import Extractor

    cut = Extractor(graph).extract_model(["z"], names)
    cut.ir_version = graph.ir_version
    return cut


def to_leading_frames(graph: ModelProto, frames: int) -> ModelProto:
    """`graph` with the input of every transposed convolution cut to its first `frames` frames:
    its frame-wise outputs then hold only their leading frames (at least `frames`)."""
    from onnx import helper, numpy_helper

    out = type(graph)()
    out.CopyFrom(graph)
    if not any(node.op_type == "ConvTranspose" for node in out.graph.node):
        return out  # nothing reads frames: the whole graph is its own first frames
    bounds = {"lead_start": 0, "lead_end": frames, "lead_axis": TIME_AXIS}
    out.graph.initializer.extend(numpy_helper.from_array(np.array([v], np.int64), k) for k, v in bounds.items())
    nodes, sliced = [], set()
    for node in out.graph.node:
        if node.op_type == "ConvTranspose":
            source, lead = node.input[0], f"{node.input[0]}_lead"
            if source not in sliced:  # one slice for the layers that share an input
                nodes.append(helper.make_node("Slice", [source, *bounds], [lead]))
                sliced.add(source)
            node.input[0] = lead
        nodes.append(node)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    del out.graph.value_info[:]  # the frame counts inferred for the whole graph no longer hold
    for output in out.graph.output:
        dims = output.type.tensor_type.shape.dim
        if len(dims) > TIME_AXIS:
            dims[TIME_AXIS].dim_param = "frames"
    return out


def leads_exactly(whole: InferenceSession, lead: InferenceSession, frames: int, z: np.ndarray) -> bool:
    """Whether `lead` gives `whole`'s first `frames` frames of every output at latents `z`."""
    names = [o.name for o in whole.get_outputs()]
    for a, b in zip(whole.run(names, {"z": z}), lead.run(names, {"z": z}), strict=True):
        if a.ndim > TIME_AXIS:
            if b.shape[TIME_AXIS] < frames:
                return False
            a, b = a[..., :frames], b[..., :frames]
        if a.shape != b.shape or not np.allclose(a, b, rtol=LEAD_RTOL, atol=0.0):
            return False
    return True
