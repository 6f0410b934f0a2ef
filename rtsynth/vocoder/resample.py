"""Streaming polyphase resampling from the model rate to the device rate.

A windowed-sinc low-pass split into `up` phases: each output sample is one phase's dot
product with the latest input, so chunks can be any size and the result does not depend on
how the input was cut. The delay is fixed (`delay_seconds`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import firwin


class StreamingResampler:
    def __init__(self, in_rate: int, out_rate: int, taps_per_phase: int = 32, kaiser_beta: float = 8.6):
        if in_rate <= 0 or out_rate <= 0 or in_rate != int(in_rate) or out_rate != int(out_rate):
            raise ValueError(f"sample rates must be positive integers, got {in_rate} -> {out_rate}")
        if taps_per_phase < 2:
            raise ValueError(f"taps_per_phase must be >= 2, got {taps_per_phase}")
        common = math.gcd(int(in_rate), int(out_rate))
        self.in_rate, self.out_rate = int(in_rate), int(out_rate)
        self.up, self.down = self.out_rate // common, self.in_rate // common
        self.taps = taps_per_phase
        if self.up == self.down:  # same rate: pass through
            self._phases, self.delay_seconds = None, 0.0
        else:
            cutoff = 1.0 / max(self.up, self.down)  # fraction of the upsampled Nyquist
            prototype = firwin(taps_per_phase * self.up, cutoff, window=("kaiser", kaiser_beta)) * self.up
            # phases[p, j] multiplies input[i - j] for outputs at upsampled position i*up + p
            self._phases = prototype.reshape(taps_per_phase, self.up).T.astype(np.float32)
            self.delay_seconds = (len(prototype) - 1) / 2 / (self.up * self.in_rate)
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros(self.taps - 1, dtype=np.float32)  # input before this chunk
        self._consumed = 0  # input samples seen before _history's end
        self._next_out = 0  # index of the next output sample

    def process(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim != 1:
            raise ValueError(f"resampler takes mono 1-D chunks, got shape {chunk.shape}")
        if self._phases is None:
            return chunk.copy()
        signal = np.concatenate([self._history, chunk])
        total = self._consumed + len(chunk)  # input samples seen so far
        # output n sits at upsampled position n*down = i*up + p and needs input i
        last = (total * self.up - 1) // self.down if total else -1
        n = np.arange(self._next_out, last + 1)
        position = n * self.down
        newest, phase = position // self.up, position % self.up
        local = newest - self._consumed + self.taps - 1  # index into `signal`
        taps = local[:, None] - np.arange(self.taps)[None, :]
        out = np.einsum("ij,ij->i", signal[taps], self._phases[phase])
        self._next_out = last + 1
        self._history = signal[len(signal) - (self.taps - 1) :]
        self._consumed = total
        return out.astype(np.float32)
