"""The weight average: the EMA it promises, and a module that gets its own weights back."""

import pytest
import torch

from rtsynth.config import ConfigError
from rtsynth.train.averaging import WeightAverage
from rtsynth.train.config import TrainConfig


def test_the_average_follows_the_decay_after_its_warm_up():
    module = torch.nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.fill_(0.0)
    average = WeightAverage(module, decay=0.5)
    expected = 0.0
    for step in range(1, 6):
        with torch.no_grad():
            module.weight.fill_(float(step))
        average.update(module)
        keep = min(0.5, (1 + step) / (10 + step))
        expected = keep * expected + (1 - keep) * step
        assert average.state["weight"][0, 0].item() == pytest.approx(expected)
    assert average.updates == 5


def test_applied_lends_the_average_and_gives_the_weights_back():
    module = torch.nn.Linear(3, 2)
    average = WeightAverage(module, decay=0.9)
    with torch.no_grad():
        module.weight.add_(1.0)
    own = module.weight.detach().clone()
    with average.applied(module):
        assert torch.equal(module.weight, average.state["weight"])
        assert not torch.equal(module.weight, own)
    assert torch.equal(module.weight, own)


def test_the_decay_is_checked():
    with pytest.raises(ConfigError, match="weight_average"):
        TrainConfig(weight_average=1.0)
