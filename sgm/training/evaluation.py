"""The test loss: the training loss on held-out data, with noise fixed by a seed."""

from __future__ import annotations

import torch

from sgm.core.losses import DenoisingScoreMatching
from sgm.core.sde import SDE


@torch.no_grad()
def evaluate_loss(
    net: torch.nn.Module,
    sde: SDE,
    data: torch.Tensor,
    batch_size: int,
    seed: int,
    loss: DenoisingScoreMatching,
    labels: torch.Tensor | None = None,
) -> float:
    """Mean `loss` per example over `data` in order, with (t, z) drawn from a generator seeded by `seed`.

    The same (net, data, seed) always gives the same number on a given device: a test loss.
    Runs in float32 on the net's device.
    """
    if len(data) == 0 or batch_size < 1:
        raise ValueError(f"evaluate_loss needs data and a positive batch_size, got {len(data)} examples and batch_size={batch_size}")
    device = next(net.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    total = torch.zeros((), device=device, dtype=torch.float64)
    for start in range(0, len(data), batch_size):
        x = data[start : start + batch_size].to(device)
        y = None if labels is None else labels[start : start + batch_size].to(device)
        total += loss(net, sde, x, class_labels=y, generator=generator) * len(x)
    return float(total) / len(data)
