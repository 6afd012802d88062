"""Data-parallel training across processes started by `torchrun` (or any launcher setting the
RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT variables).

A single process (WORLD_SIZE unset or 1) is a world of size 1, so the training loop has one
code path: it asks `world()` who it is and only wraps the net in DistributedDataParallel when
there is more than one process. NCCL on CUDA, gloo on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and logs."""
        return self.rank == 0

    def part(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of n examples (n a multiple of the world size)."""
        share = n // self.size
        return slice(self.rank * share, (self.rank + 1) * share)


def world() -> World:
    """This process's place in the launch, read from the launcher's environment variables."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"bad launch environment: RANK={rank}, WORLD_SIZE={size} (need 0 <= RANK < WORLD_SIZE)")
    return World(rank, size, local_rank)


def device_for(requested: str | torch.device | None, here: World) -> torch.device:
    """The device to train on: `requested`, or CUDA (this process's local GPU) when present, else CPU."""
    if requested is not None:
        device = torch.device(requested)
        if device.type == "cuda" and device.index is None and here.size > 1:
            device = torch.device("cuda", here.local_rank)
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", here.local_rank if here.size > 1 else torch.cuda.current_device())
    return torch.device("cpu")


def init(here: World, device: torch.device) -> None:
    """Join the process group (once) when the launch has more than one process."""
    if here.size == 1 or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=here.rank, world_size=here.size)


def from_main(obj, here: World):
    """Rank 0's `obj`, on every rank (e.g. its decision to resume)."""
    if here.size == 1:
        return obj
    carried = [obj]
    dist.broadcast_object_list(carried, src=0)
    return carried[0]


def close(here: World) -> None:
    """Wait until every rank gets here, then leave the process group (nothing to do in a single process)."""
    if here.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def mean_over_ranks(value: torch.Tensor, here: World) -> torch.Tensor:
    """The mean of a tensor over all ranks (the tensor itself in a single process)."""
    if here.size == 1:
        return value
    total = value.clone()
    dist.all_reduce(total)
    return total / here.size


def min_over_ranks(value: torch.Tensor, here: World) -> torch.Tensor:
    """The element-wise minimum of a tensor over all ranks (the tensor itself in a single process)."""
    if here.size == 1:
        return value
    smallest = value.clone()
    dist.all_reduce(smallest, op=dist.ReduceOp.MIN)
    return smallest
