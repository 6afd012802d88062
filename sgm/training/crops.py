"""Random crops of 1-D training examples: more noise levels drawn per second of training."""

from __future__ import annotations

import torch


def random_crops(x: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A window of `length` samples from each example of x (N, C, L), at offsets drawn uniformly from `generator`.

    A convolutional net sees a window of the clip anyway; training on windows shorter than the
    clip costs proportionally less per example, so more examples (and noise levels) fit in the
    same time, and sampling still runs at the full length.
    """
    if x.dim() != 3:
        raise ValueError(f"random crops need 1-D examples (N, C, L), got shape {tuple(x.shape)}")
    if not 0 < length <= x.shape[-1]:
        raise ValueError(f"crop length must lie in [1, {x.shape[-1]}], got {length}")
    offsets = torch.randint(0, x.shape[-1] - length + 1, (len(x), 1, 1), generator=generator, device=x.device)
    index = offsets + torch.arange(length, device=x.device)
    return x.gather(-1, index.expand(-1, x.shape[1], -1))
