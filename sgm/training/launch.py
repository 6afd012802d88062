"""Start a training script on several processes: it re-executes itself under torchrun.

`nproc_per_node` processes on each of `nnodes` machines. One machine uses torchrun's standalone
rendezvous (a free local port, so parallel runs do not collide); several meet at a c10d
rendezvous that torchrun's own environment variables name, so the same params run on any
cluster: PET_RDZV_ENDPOINT=host:port (required), PET_RDZV_ID (one per job, the same on every
machine), PET_RDZV_BACKEND (c10d unless set). A process that torchrun started (WORLD_SIZE set)
trains itself.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import torch

RENDEZVOUS_ENDPOINT = "PET_RDZV_ENDPOINT"
RENDEZVOUS_BACKEND = "PET_RDZV_BACKEND"


def torchrun_command(module_args: list[str], nproc_per_node: int, nnodes: int, environ: Mapping[str, str]) -> list[str] | None:
    """The command that runs `python -m *module_args` on nproc_per_node x nnodes processes, or None
    when this process is to train itself (one process in all, or a process torchrun started).

    ValueError, before anything starts, when several machines have no rendezvous endpoint or one
    machine has fewer GPUs than processes.
    """
    if nproc_per_node * nnodes == 1 or "WORLD_SIZE" in environ:
        return None
    gpus = torch.cuda.device_count()
    if gpus and nproc_per_node > gpus:
        visible = environ.get("CUDA_VISIBLE_DEVICES")
        shown = "" if visible is None else f" (CUDA_VISIBLE_DEVICES={visible})"
        raise ValueError(f"train.nproc_per_node={nproc_per_node} processes, but this machine shows {gpus} GPUs{shown}: one process per GPU")
    if nnodes == 1:
        rendezvous = ["--standalone"]
    elif not environ.get(RENDEZVOUS_ENDPOINT):
        raise ValueError(
            f"train.nnodes={nnodes}: set {RENDEZVOUS_ENDPOINT}=host:port (a machine of the job every machine reaches) "
            "and PET_RDZV_ID=<job name> on every machine"
        )
    else:
        rendezvous = [] if RENDEZVOUS_BACKEND in environ else ["--rdzv_backend=c10d"]
    return [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nnodes}", f"--nproc_per_node={nproc_per_node}", *rendezvous, "-m", *module_args]
