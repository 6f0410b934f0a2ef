"""Real-time phase-gradient heap integration (RTPGHI; Prusa & Holighaus 2017).

For a Gaussian window the STFT phase gradient follows from the log-magnitude gradient:
time derivative (instantaneous frequency) from the frequency slope, frequency derivative
(local group delay) from the time slope. A Hann window of length N behaves like a Gaussian
with lambda = 0.25645 N^2. The time slope is a centred difference, so a frame's phase needs
one frame of look-ahead.

The heap walks each frame from its largest bins: a bin reached from the previous frame is
integrated along time, its neighbours along frequency. We use its vectorised equivalent:
every bin climbs to its local spectral peak (steepest ascent); the peak is integrated along
time (trapezoid rule) and its basin along frequency from the peak outwards, which is the
order the heap visits a basin in. Only the time step at the peaks is sequential.
"""

from __future__ import annotations

import numpy as np

from rtsynth.vocoder.frames import HopGrid

HANN_LAMBDA = 0.25645  # Gaussian time-frequency ratio equivalent to a Hann window, x N^2
TWO_PI = np.float32(2 * np.pi)
LOG_FLOOR = 1e-6  # magnitudes are relative to the note's peak; far below audibility


class StreamingPGHI:
    """Magnitude frames in, the same frames with phases out, one frame behind."""

    def __init__(self, grid: HopGrid):
        n, a = grid.n_fft, grid.hop
        lam = HANN_LAMBDA * n * n
        bins = np.arange(grid.n_bins)
        # phase advance per hop at the bin centre, wrapped so float32 phases stay exact
        self._bin_advance = np.mod(2 * np.pi * a * bins / n, 2 * np.pi).astype(np.float32)
        self._time_scale = a * n / lam  # d/dbin log|S| -> extra phase advance per hop
        self._freq_scale = -lam / (a * n)  # d/dframe log|S| -> phase step per bin
        # numpy's frames start at the window's edge, not its centre: pi per bin
        self._bin_offset = np.mod(np.pi * bins, 2 * np.pi).astype(np.float32)
        self.reset()

    def reset(self) -> None:
        self._log_mags: np.ndarray | None = None  # [2 or more, n_bins]: the previous frame, then those waiting
        self._mags: np.ndarray | None = None
        self._prev_phase: np.ndarray | None = None
        self._prev_advance: np.ndarray | None = None

    def push(self, mags: np.ndarray, final: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Add magnitude frames [k, n_bins]; return (magnitudes, phases) of frames now ready."""
        logs = np.log(np.maximum(mags, LOG_FLOOR))
        if self._log_mags is None:  # the first frame's predecessor: itself (flat start)
            self._log_mags, self._mags = logs[:1], mags[:0]
        self._log_mags = np.concatenate([self._log_mags, logs])
        self._mags = np.concatenate([self._mags, mags])
        n_ready = len(self._mags) if final else len(self._mags) - 1
        if n_ready <= 0:
            return self._mags[:0], np.zeros((0, mags.shape[1]), np.float32)
        context = self._log_mags
        if final:  # the last frame's successor: itself
            context = np.concatenate([context, context[-1:]])
        phases = self._integrate(context[: n_ready + 2])
        ready = self._mags[:n_ready]
        self._mags = self._mags[n_ready:]
        self._log_mags = self._log_mags[n_ready:]
        return ready, phases

    def _integrate(self, logs: np.ndarray) -> np.ndarray:
        """logs [k + 2, n_bins] (previous, k frames, next) -> phases [k, n_bins]."""
        current = logs[1:-1]
        freq_slope = np.empty_like(current)
        freq_slope[:, 1:-1] = 0.5 * (current[:, 2:] - current[:, :-2])
        freq_slope[:, 0], freq_slope[:, -1] = 0.0, 0.0
        advance = self._bin_advance + self._time_scale * freq_slope
        step = self._freq_scale * 0.5 * (logs[2:] - logs[:-2])
        along_freq = np.zeros_like(current)
        np.cumsum(0.5 * (step[:, 1:] + step[:, :-1]), axis=1, out=along_freq[:, 1:])
        peaks = self._peaks(current)
        previous = advance[:1] if self._prev_advance is None else self._prev_advance[None]
        mean_advance = 0.5 * (np.concatenate([previous, advance[:-1]]) + advance)
        # everything but the previous frame's phase at the peak is known for all k frames at once
        offset = np.take_along_axis(mean_advance - along_freq, peaks, axis=1) + along_freq
        out = np.empty_like(current)
        phase = self._prev_phase
        for m in range(len(current)):
            at_peak = 0.0 if phase is None else phase[peaks[m]]  # the first frame starts anywhere
            phase = _wrap(at_peak + offset[m])
            out[m] = phase
        self._prev_phase, self._prev_advance = phase, advance[-1]
        phases: np.ndarray = out + self._bin_offset
        return phases

    def _peaks(self, logs: np.ndarray) -> np.ndarray:
        """For each bin, the local maximum its steepest ascent ends on.

        A bin climbing right keeps climbing right until a peak (its right neighbour cannot
        climb back left), so its peak is the first peak at or after it; likewise leftwards.
        """
        k, n = logs.shape
        padded = np.pad(logs, ((0, 0), (1, 1)), constant_values=-np.inf)
        left, right = padded[:, :-2], padded[:, 2:]
        bins = np.broadcast_to(np.arange(n), (k, n))
        climbs = np.maximum(left, right) > logs
        rightwards = climbs & (right > left)
        is_peak = ~climbs
        next_peak = np.minimum.accumulate(np.where(is_peak, bins, n)[:, ::-1], axis=1)[:, ::-1]
        prev_peak = np.maximum.accumulate(np.where(is_peak, bins, -1), axis=1)
        return np.where(is_peak, bins, np.where(rightwards, next_peak, prev_peak))


def _wrap(phase: np.ndarray) -> np.ndarray:
    """Into [0, 2 pi); several times faster than np.mod, which handles signs with care."""
    return phase - TWO_PI * np.floor(phase * (1 / TWO_PI))
