"""Streaming polyphase resampling from the model rate to the device rate.

A windowed-sinc low-pass split into `up` phases. Output phases repeat every `up` outputs,
which consume exactly `down` inputs, so one cycle of outputs is a fixed matrix times a
window of the input: a whole chunk is a single matrix product (BLAS), several times faster
than gathering taps per output sample. Chunks can be any size and the result does not
depend on how the input was cut. The delay is fixed (`delay_seconds`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
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
            self._cycle, self.delay_seconds = None, 0.0
        else:
            cutoff = 1.0 / max(self.up, self.down)  # fraction of the upsampled Nyquist
            prototype = firwin(taps_per_phase * self.up, cutoff, window=("kaiser", kaiser_beta)) * self.up
            self._cycle = self._cycle_matrix(prototype)
            self.delay_seconds = (len(prototype) - 1) / 2 / (self.up * self.in_rate)
        self.reset()

    def _cycle_matrix(self, prototype: np.ndarray) -> np.ndarray:
        """[window, up]: output m of cycle c is window(c) @ matrix[:, m], where window(c) is
        inputs c*down - taps + 1 .. c*down + down - 1 (output m's newest input is
        c*down + floor(m*down/up); its phase is m*down mod up)."""
        up, down, taps = self.up, self.down, self.taps
        phases = prototype.reshape(taps, up).T  # phases[p, j] multiplies input[newest - j]
        matrix = np.zeros((down + taps - 1, up), dtype=np.float32)
        for m in range(up):
            newest, phase = divmod(m * down, up)
            matrix[newest + taps - 1 - np.arange(taps), m] = phases[phase]
        return matrix

    def reset(self) -> None:
        # inputs from a cycle's window start on: a call may resume in the middle of a cycle
        self._history = np.zeros(self.down + self.taps - 1, dtype=np.float32)
        self._consumed = 0  # input samples seen before _history's end
        self._next_out = 0  # index of the next output sample

    def process(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim != 1:
            raise ValueError(f"resampler takes mono 1-D chunks, got shape {chunk.shape}")
        if self._cycle is None:
            return chunk.copy()
        up, down = self.up, self.down
        joined = np.concatenate([self._history, chunk])  # joined[0] is input _consumed - len(history)
        total = self._consumed + len(chunk)
        last = (total * up - 1) // down  # the newest output whose inputs are all here
        if last < self._next_out:  # downsampling: this input completes no output yet
            self._keep(joined, total)
            return np.zeros(0, np.float32)
        first_cycle, last_cycle = self._next_out // up, last // up
        window = down + self.taps - 1
        begin = first_cycle * down - (self.taps - 1) - (self._consumed - len(self._history))
        needed = begin + (last_cycle - first_cycle) * down + window
        signal = joined
        if needed > len(signal):  # the last cycle's later outputs are not final yet: their inputs are zeros
            signal = np.concatenate([signal, np.zeros(needed - len(signal), np.float32)])
        # contiguous: numpy's matmul takes the slow non-BLAS path on a strided view
        windows = np.ascontiguousarray(sliding_window_view(signal[begin:needed], window)[::down])
        out: np.ndarray = (windows @ self._cycle).reshape(-1)
        start = self._next_out - first_cycle * up
        out = out[start : start + last + 1 - self._next_out]
        self._next_out = last + 1
        self._keep(joined, total)
        return out

    def _keep(self, joined: np.ndarray, total: int) -> None:
        """History and input so far -> the history the next call needs."""
        self._history = joined[-len(self._history) :].copy()
        self._consumed = total
