"""Forward SDEs dx = f(x, t) dt + g(t) dw on t in [0, T] (Song et al., ICLR 2021).

Each SDE knows its drift and diffusion, its Gaussian perturbation kernel
p_0t(x(t) | x(0)) and its prior p_T, so samplers, losses and likelihoods never
ask which SDE they run. `t` is always a tensor of shape (batch,).
"""

from __future__ import annotations

import abc
import math

import torch


def per_example(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape a (batch,) tensor so that it broadcasts against x of shape (batch, ...)."""
    return v.reshape(-1, *([1] * (x.dim() - 1)))


def standard_normal_logp(z: torch.Tensor, std: float) -> torch.Tensor:
    """Log density of N(0, std^2 I) per example."""
    dims = z[0].numel()
    sq = z.flatten(1).pow(2).sum(dim=1)
    return -0.5 * dims * math.log(2 * math.pi * std**2) - sq / (2 * std**2)


class SDE(abc.ABC):
    """A forward SDE with a Gaussian perturbation kernel and a Gaussian prior."""

    T: float = 1.0

    @abc.abstractmethod
    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Drift f(x, t) shaped like x and diffusion g(t) of shape (batch,)."""

    @abc.abstractmethod
    def marginal_prob(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (shaped like x) and std (batch,) of p_0t(x(t) | x(0) = x)."""

    @property
    @abc.abstractmethod
    def prior_std(self) -> float:
        """Standard deviation of the isotropic Gaussian prior p_T."""

    def prior_sampling(self, shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """Draw from the prior N(0, prior_std^2 I)."""
        if generator is not None and device is None:
            device = generator.device
        return torch.randn(*shape, generator=generator, device=device) * self.prior_std

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """Log density of the prior per example, shape (batch,)."""
        return standard_normal_logp(z, self.prior_std)

    def noise_level(self, t: torch.Tensor) -> torch.Tensor:
        """Noise-to-signal ratio std(t) / mean_coefficient(t), the EDM sigma of time t."""
        ones = torch.ones(t.shape[0], device=t.device, dtype=t.dtype)
        mean, std = self.marginal_prob(ones, t)
        return std / mean

    def time_at_noise_level(self, sigma: torch.Tensor, eps: float = 0.0, t_max: float | None = None) -> torch.Tensor:
        """The time in [eps, t_max] (t_max: T) whose noise_level is `sigma` (clamped to that range), by bisection.

        noise_level increases with t for every SDE here, so 64 halvings pin t to float64 precision.
        """
        low, high = torch.full_like(sigma, eps), torch.full_like(sigma, self.T if t_max is None else t_max)
        for _ in range(64):
            middle = (low + high) / 2
            above = self.noise_level(middle) > sigma
            high, low = torch.where(above, middle, high), torch.where(above, low, middle)
        return (low + high) / 2

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class VESDE(SDE):
    """Variance exploding: sigma(t) = sigma_min (sigma_max / sigma_min)^t, no drift."""

    def __init__(self, sigma_min: float, sigma_max: float):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"VESDE needs 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)

    def _sigma(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def sde(self, x, t):
        diffusion = self._sigma(t) * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))
        return torch.zeros_like(x), diffusion

    def marginal_prob(self, x, t):
        return x, self._sigma(t)

    @property
    def prior_std(self):
        return self.sigma_max


class VPSDE(SDE):
    """Variance preserving: beta(t) = beta_min + t (beta_max - beta_min), drift -beta x / 2."""

    def __init__(self, beta_min: float, beta_max: float):
        if not 0 < beta_min < beta_max:
            raise ValueError(f"{type(self).__name__} needs 0 < beta_min < beta_max, got beta_min={beta_min}, beta_max={beta_max}")
        self.beta_min = float(beta_min)
        self.beta_max = float(beta_max)

    def _beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def _log_mean_coeff(self, t):
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def sde(self, x, t):
        beta = self._beta(t)
        return -0.5 * per_example(beta, x) * x, torch.sqrt(beta)

    def marginal_prob(self, x, t):
        log_coeff = self._log_mean_coeff(t)
        return per_example(torch.exp(log_coeff), x) * x, torch.sqrt(-torch.expm1(2 * log_coeff))

    @property
    def prior_std(self):
        return 1.0


class SubVPSDE(VPSDE):
    """Sub-VP: the VP drift with g^2 = beta (1 - e^(-2B)), B = int_0^t beta, so std = 1 - e^(-B)."""

    def sde(self, x, t):
        drift, _ = super().sde(x, t)
        discount = -torch.expm1(4 * self._log_mean_coeff(t))
        return drift, torch.sqrt(self._beta(t) * discount)

    def marginal_prob(self, x, t):
        log_coeff = self._log_mean_coeff(t)
        return per_example(torch.exp(log_coeff), x) * x, -torch.expm1(2 * log_coeff)


class TutorialVESDE(SDE):
    """The study's SDE dx = sigma^t dw (Song's tutorial, with sigma = 25).

    std(t) = sqrt((sigma^(2t) - 1) / (2 ln sigma)), which is 0 at t = 0.
    """

    def __init__(self, sigma: float):
        if not sigma > 1:
            raise ValueError(f"TutorialVESDE needs sigma > 1, got sigma={sigma}")
        self.sigma = float(sigma)

    def sde(self, x, t):
        return torch.zeros_like(x), self.sigma**t

    def marginal_prob(self, x, t):
        return x, torch.sqrt((self.sigma ** (2 * t) - 1) / (2 * math.log(self.sigma)))

    @property
    def prior_std(self):
        return math.sqrt((self.sigma**2 - 1) / (2 * math.log(self.sigma)))


def max_pairwise_distance(x: torch.Tensor, chunk: int = 1024) -> float:
    """The largest Euclidean distance between two examples of x (N, ...): VE sigma_max 'auto'.

    Song & Ermon (2020, technique 1) set the largest noise level near it, so that the prior
    covers every pair of training examples.
    """
    flat = x.flatten(1).float()
    squared = flat.square().sum(dim=1)
    largest = 0.0
    for start in range(0, len(flat), chunk):
        block = flat[start : start + chunk]
        distances = squared[start : start + chunk, None] + squared[None, :] - 2 * block @ flat.T
        largest = max(largest, distances.max().item())
    return math.sqrt(max(largest, 0.0))


SDES = {"ve": VESDE, "vp": VPSDE, "subvp": SubVPSDE, "tutorial_ve": TutorialVESDE}


def make_sde(name: str, **kwargs) -> SDE:
    """Build an SDE by its short name (one of SDES) with its keyword parameters."""
    if name not in SDES:
        raise ValueError(f"unknown SDE {name!r}; accepted: {', '.join(SDES)}")
    try:
        return SDES[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"bad parameters {kwargs} for SDE {name!r}: {err}") from None
