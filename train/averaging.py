"""An exponential moving average of the model's weights, for validation, checkpoints and evaluation.

Why: with ~1000 training notes the validation accuracies jump by several points from one
epoch to the next, so the checkpoint that early stopping keeps lands on a random point of
that jitter. The average over the last few hundred steps sits in the middle of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


class WeightAverage:
    """EMA of a module's floating-point state (parameters and buffers); other entries are copied.

    The decay warms up as min(decay, (1 + n) / (10 + n)) over the first n updates, so the
    random initial weights fade out quickly.
    """

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        self.updates += 1
        keep = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for key, value in module.state_dict().items():
            if value.is_floating_point():
                self.state[key].lerp_(value.detach(), 1.0 - keep)
            else:
                self.state[key].copy_(value)

    @contextmanager
    def applied(self, module: torch.nn.Module) -> Iterator[None]:
        """The module holds the averaged weights inside the block, its own again after it."""
        own = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module.load_state_dict(self.state)
        try:
            yield
        finally:
            module.load_state_dict(own)

    def load(self, state: dict[str, torch.Tensor], updates: int) -> None:
        self.updates = updates
        self.state = {k: v.detach().clone() for k, v in state.items()}
