"""Magnitude-and-phase vocoders: mel -> magnitude -> phase (PGHI, RTISI or none) -> FGLA -> OLA.

One pipeline, configured into the candidates the benchmark compares (see CANDIDATES).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rtsynth.settings import MelSettings
from rtsynth.vocoder.base import StreamingVocoder
from rtsynth.vocoder.frames import HopGrid
from rtsynth.vocoder.griffin_lim import StreamingGriffinLim
from rtsynth.vocoder.magnitude import MelInverter
from rtsynth.vocoder.pghi import StreamingPGHI

PHASE_INITS = ("pghi", "rtisi", "zero")


@dataclass(frozen=True)
class SpectralConfig:
    """phase_init: pghi (phase-gradient integration), rtisi (partial reconstruction), zero."""

    phase_init: str = "pghi"
    iterations: int = 3  # FGLA iterations per block over the look-ahead window
    lookahead: int = 3  # frames kept refinable after their block
    momentum: float = 0.5
    block_frames: int = 8  # frames per refinement block (fewer, larger numpy calls)
    nnls_iterations: int = 10  # mel -> magnitude fit

    def __post_init__(self) -> None:
        if self.phase_init not in PHASE_INITS:
            raise ValueError(f"phase_init must be one of {PHASE_INITS}, got {self.phase_init!r}")


class SpectralVocoder(StreamingVocoder):
    def __init__(self, settings: MelSettings, config: SpectralConfig = SpectralConfig()):
        super().__init__(settings)
        self.config = config
        grid, self._inverter = _shared_parts(settings, config.nnls_iterations)
        self._grid = grid
        self._pghi = StreamingPGHI(grid) if config.phase_init == "pghi" else None
        self._gla = StreamingGriffinLim(grid, config.iterations, config.lookahead, config.momentum, config.block_frames)

    @property
    def latency_frames(self) -> int:
        """Frames in before the first samples out: the output's first hop needs frames
        0..R/2 committed plus the look-ahead, in whole blocks, plus PGHI's one frame."""
        needed = self._grid.ratio // 2 + 1 + self.config.lookahead
        blocks = -(-needed // self.config.block_frames)
        return blocks * self.config.block_frames + (self._pghi is not None)

    def _reset_state(self) -> None:
        self._gla.reset()
        if self._pghi is not None:
            self._pghi.reset()

    def _process(self, power: np.ndarray) -> np.ndarray:
        # per-frame stages run on the whole chunk at once (their results do not depend on
        # the grouping); only the refinement works in fixed blocks
        mags = self._inverter(power)
        if self._pghi is not None:
            return self._gla.push(*self._pghi.push(mags))
        return self._gla.push(mags, np.zeros(mags.shape, np.float32) if self.config.phase_init == "zero" else None)

    def _finish(self) -> np.ndarray:
        last = np.zeros(0, np.float32)
        if self._pghi is not None:  # its last frame was waiting for a successor
            last = self._gla.push(*self._pghi.push(np.zeros((0, self._grid.n_bins), np.float32), final=True))
        return np.concatenate([last, self._gla.finish()])


@lru_cache(maxsize=8)
def _shared_parts(settings: MelSettings, nnls_iterations: int) -> tuple[HopGrid, MelInverter]:
    """The stateless parts, built once (about 10 ms) and shared by every voice."""
    return HopGrid(settings), MelInverter(settings, nnls_iterations)
