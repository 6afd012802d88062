"""Where a run's randomness comes from: the example order of each epoch and the loss's noise.

The example order of epoch e is a permutation drawn from (seed, e) alone, and the noise (t, z) of
the loss comes from one torch.Generator per rank whose state is checkpointed, so a run stopped and
resumed ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch

from sgm.training.distributed import World

ORDER_STREAM, NOISE_STREAM = 0, 1


def derived_seed(seed: int, stream: int, index: int) -> int:
    """An independent 64-bit seed for (seed, stream, index), e.g. the data order of one epoch."""
    return int(np.random.SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0])


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order in which epoch `epoch` (0-based) visits the n examples: a function of (seed, epoch) alone."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed(seed, ORDER_STREAM, epoch)))


def noise_generator(seed: int, rank: int, device: torch.device) -> torch.Generator:
    """The generator of the loss's (t, z) draws on one rank (each rank draws for its own examples)."""
    return torch.Generator(device).manual_seed(derived_seed(seed, NOISE_STREAM, rank))


def rank_batches(n: int, batch_size: int, seed: int, epoch: int, here: World) -> torch.Tensor:
    """(steps, batch_size // world size) example indices of this rank for each step of an epoch.

    Each step takes the next batch_size examples of the epoch's order; rank r takes the r-th
    contiguous part of it. The last partial batch is dropped (a different one each epoch), so
    every step has the same shape, which torch.compile likes.
    """
    steps = n // batch_size
    per_rank = batch_size // here.size
    batches = epoch_order(n, seed, epoch)[: steps * batch_size].view(steps, batch_size)
    return batches[:, here.rank * per_rank : (here.rank + 1) * per_rank]
