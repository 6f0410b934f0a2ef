"""Data-parallel training: 2 CPU processes with gloo.

The averaged DDP gradient of both stages (model and removers) must equal the gradient of
one process on the union batch, and a `torchrun` launch of `rtsynth train` must train and
leave a run that loads.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from train_factory import make_cache, tiny_config

from rtsynth.train.config import dump_toml
from rtsynth.train.distributed import init_distributed, shutdown
from rtsynth.train.losses import Weights
from rtsynth.train.runs import load_run
from rtsynth.train.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent
UNION = 16  # notes in the union batch; each of 2 processes takes 8
WEIGHTS = Weights(beta=0.5, remover=0.5)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return make_cache(tmp_path_factory.mktemp("cache") / "tiny", repeats=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gradients(trainer: Trainer) -> dict[str, torch.Tensor]:
    grads = {f"model.{n}": p.grad.clone() for n, p in trainer.net.named_parameters()}
    grads.update({f"removers.{n}": p.grad.clone() for n, p in trainer.removers.named_parameters()})
    return grads


def _step(trainer: Trainer, indices: list[int]) -> dict[str, torch.Tensor]:
    """One real training step (both stages) on posterior means, so that no sampling
    noise differs between the runs; returns the gradients it applied."""
    trainer.nets.model.eval()
    trainer.train_step(trainer.train_data.batch(indices), WEIGHTS, "test")
    return _gradients(trainer)


def _worker(rank: int, port: int, cache: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE="2",
    )
    ctx = init_distributed("cpu")
    finished = False
    try:
        trainer = Trainer(tiny_config(Path(cache)), Path(out) / "run", ctx)
        grads = _step(trainer, list(range(rank, UNION, 2)))
        torch.save(grads, Path(out) / f"grads{rank}.pt")
        finished = True
    finally:
        shutdown(ctx, finished)


def test_ddp_gradients_equal_single_process_on_union_batch(cache, tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(cache), str(tmp_path)), nprocs=2, join=True)
    single = _step(Trainer(tiny_config(cache), tmp_path / "single"), list(range(UNION)))
    ranks = [torch.load(tmp_path / f"grads{r}.pt", weights_only=True) for r in range(2)]
    assert set(ranks[0]) == set(single)
    assert any(k.startswith("removers.") for k in single)
    for name, expected in single.items():
        assert torch.equal(ranks[0][name], ranks[1][name]), f"{name}: ranks disagree"
        assert expected.norm() > 0, f"{name}: no gradient at all, the comparison would be empty"
        error = float((ranks[0][name] - expected).norm() / expected.norm())
        assert error < 1e-4, f"{name}: DDP gradient differs by {error:.2e} (relative norm)"


def test_torchrun_trains_and_rank0_writes_the_run(cache, tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(dump_toml(tiny_config(cache, batch_size=16)))
    run = tmp_path / "ddp-run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "rtsynth",
        "train",
        "--config",
        str(config),
        "--out",
        str(run),
    ]
    result = subprocess.run(
        cmd, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    log = (run / "train.log").read_text()
    assert "2 process(es)" in log and log.count("epoch 2:") == 1  # written once, by rank 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt", "previous.pt"]
    loaded = load_run(run)
    assert loaded.epoch in (1, 2) and loaded.removers is not None
