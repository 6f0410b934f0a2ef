"""What a prep run may vary besides the shared mel and trim settings.

Everything here changes the cache's content, so all of it goes into the input fingerprint.
(How many worker processes run does not, and is not here.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rtsynth.dsp.audio import SILENCE_FLOOR_DBFS
from rtsynth.dsp.note import FADE_S


@dataclass(frozen=True)
class PrepOptions:
    pitch_range: tuple[int, int] | None = None  # inclusive MIDI range; None keeps every pitch
    seed: int = 0  # split seed
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, val, test
    silence_floor_dbfs: float = SILENCE_FLOOR_DBFS  # a quieter file is silence, not a note
    fade_s: float = FADE_S  # the fade after a note's cut

    def __post_init__(self) -> None:
        if self.pitch_range is not None:
            lo, hi = self.pitch_range
            if not 0 <= lo <= hi <= 127:
                raise ValueError(f"pitch range must satisfy 0 <= LO <= HI <= 127, got {lo}..{hi}")
        if (
            len(self.split_fractions) != 3
            or min(self.split_fractions) < 0
            or abs(sum(self.split_fractions) - 1.0) > 1e-6
        ):
            raise ValueError(f"split fractions must be 3 non-negative numbers summing to 1, got {self.split_fractions}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.fade_s <= 0:
            raise ValueError(f"fade must be positive, got {self.fade_s} s")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["pitch_range"] = list(self.pitch_range) if self.pitch_range else None
        data["split_fractions"] = list(self.split_fractions)
        return data
