"""The MD-GMVAE and its baselines (Dal Rí et al.), sized for CPU training."""

from rtsynth.train.models.removers import Removers
from rtsynth.train.models.vae import NoteVAE, VAEOutput, build_model

__all__ = ["NoteVAE", "Removers", "VAEOutput", "build_model"]
