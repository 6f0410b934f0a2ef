"""rtsynth: a neural instrument built on a disentangled note VAE.

This package is the runtime: numpy and onnxruntime only, never torch. Settings that
training and export must agree on (audio/mel settings, label vocabularies, the bundle
schema) live here so that there is exactly one definition of each.
"""

__version__ = "0.1.0"
