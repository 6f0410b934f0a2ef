"""Data-parallel context: PyTorch DDP launched by `torchrun` (or one plain process).

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; without them the
run is a single process and nothing here touches torch.distributed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str) -> DistContext:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("the config asks for device 'cuda' but torch sees no CUDA device")
        torch_device = torch.device("cuda", local_rank)
        torch.cuda.set_device(torch_device)
    else:
        torch_device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        log.info("rank %d of %d joined the %s process group", rank, world, backend)
    return DistContext(rank, world, local_rank, local_world, torch_device)


def shutdown(ctx: DistContext, finished: bool) -> None:
    """Leave the process group. After a finished run every rank waits for the others first: a
    rank tearing gloo down while another still talks to it can abort the other at exit. A
    failed run leaves at once, since the other ranks may never reach the barrier."""
    if ctx.distributed and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a CPU tensor over processes (a no-op for one process); NCCL reduces on the GPU."""
    if not ctx.distributed:
        return values
    values = values.to(ctx.device, copy=True)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values.cpu()


def gather_objects(obj, ctx: DistContext) -> list:
    """Every process's `obj`, in rank order."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def wrap(module: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """DDP wrapper in data-parallel runs; the module itself otherwise."""
    if not ctx.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    # the only buffers (input standardisation) never change while training: no broadcast
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)
