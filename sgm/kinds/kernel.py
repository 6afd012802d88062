"""The kernel distance between two sets of features: the KID recipe (Binkowski et al. 2018) on any embedding.

Unlike the Frechet distance, whose plug-in covariances make it biased upwards by an amount that
shrinks with the set sizes (so a set of few, alike clips can score closer to the real ones than
real clips do), this estimate is unbiased: two sets drawn from one distribution average 0 at any
size, which is what a per-instrument table of 6-15 clips needs.
"""

from __future__ import annotations

import torch


def kernel_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Unbiased squared MMD of the rows of a and b under the cubic kernel k(x, y) = (x.y / D + 1)^3, in float64."""
    a, b = (torch.as_tensor(v, dtype=torch.float64) for v in (a, b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (n, D) sets with the same D, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each set needs at least 2 rows for an unbiased estimate, got {len(a)} and {len(b)}")
    dims = a.shape[1]

    def kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x @ y.T / dims + 1) ** 3

    def within(x: torch.Tensor) -> torch.Tensor:
        gram = kernel(x, x)
        return (gram.sum() - gram.diagonal().sum()) / (len(x) * (len(x) - 1))

    return (within(a) + within(b) - 2 * kernel(a, b).mean()).item()
