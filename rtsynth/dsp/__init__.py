"""Signal processing shared by preprocessing (train) and the runtime: mels, pitch, and a note
file's way to the model's mel (soundfile reads it, scipy resamples it)."""
