"""torch -> ONNX: decoder (+ vocoder) export, parity check, bundle writer."""
