"""The MD-GMVAE and its baselines (paper 000), sized for CPU training."""

from rtsynth.train.models.removers import Removers
from rtsynth.train.models.vae import NoteVAE, VAEOutput, build_model

__all__ = ["NoteVAE", "Removers", "VAEOutput", "build_model"]
