"""The live engine: latent state, voices, rendering off the audio thread, audio backends."""
