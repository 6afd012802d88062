"""Gaussian data N(mean, cov) pushed through a score SDE: everything is closed-form.

With kernel mean m(t) x0 and std std(t), the marginal at t is N(m mean, m^2 cov + std^2 I).
In the eigenbasis of cov every coordinate evolves on its own, and the probability-flow
ODE keeps each standardised coordinate (u_k - m mean_k) / sqrt(v_k(t)) fixed. Tests use
this as ground truth for samplers and likelihoods.
"""

import torch

from sgm.core.sde import SDE


class GaussianData:
    def __init__(self, mean: torch.Tensor, cov: torch.Tensor):
        """cov is a (dims, dims) matrix, or a (dims,) vector for a diagonal covariance."""
        self.mean = mean.double()
        if cov.dim() == 1:
            self.eigenvalues, self.basis = cov.double(), None
        else:
            self.eigenvalues, self.basis = torch.linalg.eigh(cov.double())

    def _to_eigen(self, v: torch.Tensor) -> torch.Tensor:
        return v if self.basis is None else v @ self.basis

    def _from_eigen(self, v: torch.Tensor) -> torch.Tensor:
        return v if self.basis is None else v @ self.basis.T

    def _marginal(self, sde: SDE, t: torch.Tensor):
        """Mean coefficient m(t) (batch, 1) and eigen-variances v_k(t) (batch, dims)."""
        m, std = sde.marginal_prob(torch.ones_like(t), t)
        return m[:, None], m[:, None] ** 2 * self.eigenvalues + std[:, None] ** 2

    def score(self, sde: SDE):
        """Exact score of the perturbed marginal, as a score_fn(x, t)."""

        def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            m, variances = self._marginal(sde, t.double())
            eigen = self._to_eigen(x.double() - m * self.mean)
            return self._from_eigen(-eigen / variances).to(x.dtype)

        return score_fn

    def flow(self, sde: SDE, x: torch.Tensor, t_from: float, t_to: float) -> torch.Tensor:
        """Exact probability-flow map of x (batch, dims) from time t_from to t_to."""
        m_from, v_from = self._marginal(sde, torch.full((x.shape[0],), t_from, dtype=torch.float64))
        m_to, v_to = self._marginal(sde, torch.full((x.shape[0],), t_to, dtype=torch.float64))
        eigen = self._to_eigen(x.double() - m_from * self.mean)
        return m_to * self.mean + self._from_eigen(eigen * (v_to / v_from).sqrt())

    def flow_to_data(self, sde: SDE, x: torch.Tensor, t_from: float) -> torch.Tensor:
        """Exact probability-flow map of x from time t_from to the noise-free data (noise level 0, m = 1)."""
        m_from, v_from = self._marginal(sde, torch.full((x.shape[0],), t_from, dtype=torch.float64))
        eigen = self._to_eigen(x.double() - m_from * self.mean)
        return self.mean + self._from_eigen(eigen * (self.eigenvalues / v_from).sqrt())

    def log_jacobian(self, sde: SDE, t_from: float, t_to: float) -> float:
        """log |det d flow / dx| of the map from t_from to t_to."""
        _, v_from = self._marginal(sde, torch.tensor([t_from], dtype=torch.float64))
        _, v_to = self._marginal(sde, torch.tensor([t_to], dtype=torch.float64))
        return 0.5 * torch.log(v_to / v_from).sum().item()

    def log_density(self, sde: SDE, x: torch.Tensor, t: float) -> torch.Tensor:
        """Log density of the marginal p_t at x, per example."""
        m, variances = self._marginal(sde, torch.tensor([t], dtype=torch.float64))
        covariance = torch.diag(variances[0])
        if self.basis is not None:
            covariance = self.basis @ covariance @ self.basis.T
        marginal = torch.distributions.MultivariateNormal(m[0] * self.mean, covariance)
        return marginal.log_prob(x.double())

    def marginal_moments(self, sde: SDE, t: float):
        """Mean vector and per-coordinate std of p_t, for a diagonal covariance."""
        assert self.basis is None, "marginal_moments needs a diagonal covariance"
        m, variances = self._marginal(sde, torch.tensor([t], dtype=torch.float64))
        return m[0] * self.mean, variances[0].sqrt()


class GaussianMixture:
    """Equal-weight mixture of isotropic Gaussians N(means[k], std^2 I): its score is exact too.

    At time t every component is N(m means[k], (m^2 std^2 + std(t)^2) I), so the score is
    the responsibility-weighted average of the components' Gaussian scores.
    """

    def __init__(self, means: torch.Tensor, std: float):
        self.means, self.std = means.double(), std

    def score(self, sde: SDE):
        def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            m, kernel_std = sde.marginal_prob(torch.ones_like(t, dtype=torch.float64), t.double())
            variance = (m**2 * self.std**2 + kernel_std**2)[:, None, None]
            offsets = x.double()[:, None, :] - m[:, None, None] * self.means
            weights = torch.softmax(-offsets.pow(2).sum(-1, keepdim=True) / (2 * variance), dim=1)
            return (weights * -offsets / variance).sum(1).to(x.dtype)

        return score_fn

    def component_std(self, x: torch.Tensor) -> float:
        """RMS distance of samples to their nearest component mean, per coordinate."""
        offsets = x.double()[:, None, :] - self.means
        nearest = offsets.pow(2).sum(-1).argmin(1)
        residual = offsets[torch.arange(x.shape[0]), nearest]
        return residual.pow(2).mean().sqrt().item()
