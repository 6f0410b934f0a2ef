"""Hop-block bookkeeping for overlap-add with n_fft = R x hop.

Signals are held as rows of `hop` samples ("blocks"), so a frame is R consecutive blocks
and overlap-add and framing become R vector additions instead of per-sample indexing.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from rtsynth.settings import MelSettings


class HopGrid:
    """Window, FFTs and block-wise overlap-add / framing for one STFT geometry."""

    def __init__(self, settings: MelSettings):
        n_fft, hop = settings.n_fft, settings.hop_length
        if n_fft % hop:
            raise ValueError(f"streaming vocoders need n_fft a multiple of hop, got {n_fft} and {hop}")
        self.n_fft, self.hop, self.ratio = n_fft, hop, n_fft // hop
        self.n_bins = n_fft // 2 + 1
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
        self.window_sq_blocks = (self.window**2).reshape(self.ratio, hop)

    def analyse(self, frames: np.ndarray) -> np.ndarray:
        """Windowed time frames [W, n_fft] (already windowed) -> spectra [W, n_bins]."""
        spectra: np.ndarray = scipy.fft.rfft(frames, axis=-1, workers=1)
        return spectra

    def synthesise(self, spectra: np.ndarray) -> np.ndarray:
        """Spectra [W, n_bins] -> synthesis-windowed time frames [W, n_fft]."""
        frames: np.ndarray = scipy.fft.irfft(spectra, n=self.n_fft, axis=-1, workers=1).astype(np.float32)
        return frames * self.window

    def overlap_add(self, frames: np.ndarray) -> np.ndarray:
        """Frames [W, n_fft] -> blocks [W + R - 1, hop]; frame m starts at block m."""
        w = len(frames)
        blocks = np.zeros((w + self.ratio - 1, self.hop), dtype=np.float32)
        parts = frames.reshape(w, self.ratio, self.hop)
        for j in range(self.ratio):
            blocks[j : j + w] += parts[:, j]
        return blocks

    def window_sum(self, n_frames: int) -> np.ndarray:
        """Sum of squared windows of n_frames consecutive frames, as blocks."""
        blocks = np.zeros((n_frames + self.ratio - 1, self.hop), dtype=np.float32)
        for j in range(self.ratio):
            blocks[j : j + n_frames] += self.window_sq_blocks[j]
        return blocks

    def frame(self, blocks: np.ndarray) -> np.ndarray:
        """Blocks [W + R - 1, hop] -> analysis-windowed frames [W, n_fft]."""
        w = len(blocks) - self.ratio + 1
        frames = np.stack([blocks[j : j + w] for j in range(self.ratio)], axis=1)
        return frames.reshape(w, self.n_fft) * self.window
