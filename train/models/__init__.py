"""The MD-GMVAE and its baselines (Dal Rí et al.), sized for CPU training."""

from rtsynth.train.models.removers import Removers
from rtsynth.train.models.vae import NoteModel, NoteVAE, VAEOutput, build_model

__all__ = ["NoteModel", "NoteVAE", "Removers", "VAEOutput", "build_model"]
