"""Train/test splits that keep related examples (e.g. the clips of one note) on the same side, and picks from a split."""

from __future__ import annotations

import numpy as np
import torch


def split_by_group(groups, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) of `groups` (one label per example), split whole groups at a time.

    round(test_fraction * groups) randomly chosen groups, at least one and at most all but one, go
    to the test side. The same labels, fraction and seed always give the same split, whatever
    order the examples come in. Both index arrays are sorted.
    """
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise ValueError(f"groups must be one label per example (1-D), got shape {groups.shape}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    names = np.unique(groups)
    if len(names) < 2:
        raise ValueError(f"need at least 2 groups to split into train and test, got {len(names)}")
    n_test = min(max(round(test_fraction * len(names)), 1), len(names) - 1)
    test_groups = np.random.default_rng(seed).permutation(names)[:n_test]
    is_test = np.isin(groups, test_groups)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def spread(total: int, n: int | None) -> torch.Tensor:
    """Indices of n items (all if n is None) spread evenly over `total`: a test set ordered by instrument is sampled across."""
    n = total if n is None else min(n, total)
    return torch.linspace(0, total - 1, n).round().long()


def spread_by(values: torch.Tensor, count: int) -> list[int]:
    """`count` indices spread evenly from the lowest to the highest of `values` (all if fewer), e.g. test clips by pitch."""
    order = np.argsort(values.numpy(), kind="stable")
    picks = np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)
    return [int(order[i]) for i in picks]
