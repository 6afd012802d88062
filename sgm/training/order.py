"""Where a run's randomness comes from: the example order of each epoch and the loss's noise.

The example order of epoch e is a permutation drawn from (seed, e) alone. The noise of a step
(crop offsets, dropped labels, the loss's noise levels and z) is drawn for the whole global batch
from one torch.Generator that every rank holds in the same state, and each rank keeps the draws
of its own part of the batch (sgm.training.distributed.World.part). So N processes draw exactly
what one process draws for the same global batch, and a run trained on any number of processes
is the same run up to float rounding. The generator's state is checkpointed: a run stopped and
resumed ends with the same weights as an uninterrupted one, on any number of processes.
"""

from __future__ import annotations

import numpy as np
import torch

ORDER_STREAM, NOISE_STREAM = 0, 1


def derived_seed(seed: int, stream: int, index: int) -> int:
    """An independent 64-bit seed for (seed, stream, index), e.g. the data order of one epoch."""
    return int(np.random.SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0])


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order in which epoch `epoch` (0-based) visits the n examples: a function of (seed, epoch) alone."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed(seed, ORDER_STREAM, epoch)))


def noise_generator(seed: int, device: torch.device) -> torch.Generator:
    """The generator of a run's training noise, in the same state on every rank."""
    return torch.Generator(device).manual_seed(derived_seed(seed, NOISE_STREAM, 0))


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> torch.Tensor:
    """(steps, batch_size) example indices of the global batch of each step of an epoch.

    Each step takes the next batch_size examples of the epoch's order. The last partial batch is
    dropped (a different one each epoch), so every step has the same shape, which torch.compile likes.
    """
    steps = n // batch_size
    return epoch_order(n, seed, epoch)[: steps * batch_size].view(steps, batch_size)
