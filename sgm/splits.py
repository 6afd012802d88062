"""Train/test splits that keep related examples (e.g. the clips of one note) on the same side."""

from __future__ import annotations

import numpy as np


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
