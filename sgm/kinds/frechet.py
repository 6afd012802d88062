"""The Frechet distance between two sets of features: the FID recipe, on any embedding."""

from __future__ import annotations

import torch


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet (2-Wasserstein) distance squared between Gaussians fitted to rows of a and b.

    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), with unbiased covariances,
    in float64. The matrix square roots are taken by symmetric eigendecomposition, which stays
    real and exact for the rank-deficient covariances of small sets.
    """
    a, b = (torch.as_tensor(v, dtype=torch.float64) for v in (a, b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (n, D) sets with the same D, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each set needs at least 2 rows for a covariance, got {len(a)} and {len(b)}")
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    root_a = _psd_sqrt(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp_min(0).sqrt().sum()
    mean_term = (a.mean(0) - b.mean(0)).square().sum()
    return (mean_term + cov_a.trace() + cov_b.trace() - 2 * cross).item()


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T
