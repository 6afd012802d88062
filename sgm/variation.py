"""Variations of a clip by SDEdit (Meng et al. 2022): noise it up to time t0, then denoise.

The reverse process on [0, t0] started from p_t0(x(t0) | clip) = N(m(t0) clip, std(t0)^2) is run by
the ordinary samplers, unchanged: `FromClip` is a view of the SDE that ends at T = t0 and whose
"prior" is that kernel. `strength` = t0 / T goes from "almost the same clip" (small) to "a new
sample of the model" (1, where the kernel forgets the clip up to m(T) clip / std(T)).
"""

from __future__ import annotations

import torch

from sgm.sampling import get_sampler
from sgm.sde import SDE, per_example


class FromClip(SDE):
    """`sde` restricted to [0, t_start], with the perturbation kernel of `clip` at t_start as its prior."""

    def __init__(self, sde: SDE, clip: torch.Tensor, t_start: float):
        self.base, self.clip, self.T = sde, clip, float(t_start)

    def sde(self, x, t):
        return self.base.sde(x, t)

    def marginal_prob(self, x, t):
        return self.base.marginal_prob(x, t)

    @property
    def prior_std(self):
        return self.base.marginal_prob(torch.ones(1), torch.tensor([self.T]))[1].item()

    def prior_sampling(self, shape, generator=None, device=None):
        if tuple(shape) != tuple(self.clip.shape):
            raise ValueError(f"FromClip draws the shape of its clips {tuple(self.clip.shape)}, not {tuple(shape)}")
        time = torch.full((shape[0],), self.T, device=self.clip.device, dtype=self.clip.dtype)
        mean, std = self.base.marginal_prob(self.clip, time)
        noise = torch.randn(self.clip.shape, generator=generator, device=self.clip.device, dtype=self.clip.dtype)
        return mean + per_example(std, self.clip) * noise


def vary(score_fn, sde: SDE, clip: torch.Tensor, strength: float, sampler: str = "euler_maruyama", generator=None, **settings):
    """Variations of `clip` (B, ...), one per example: noise to t0 = strength * T and sample back; returns (x, nfe).

    `settings` are the sampler's own (steps, eps, ...); steps cover [eps, t0], not [eps, T].
    """
    eps = settings.get("eps", 1e-3)
    if not eps < strength * sde.T <= sde.T:
        raise ValueError(f"strength must lie in ({eps / sde.T:g}, 1] (noise up to t0 = strength * T above eps = {eps:g}), got {strength}")
    sample = get_sampler(sampler)
    return sample(score_fn, FromClip(sde, clip, strength * sde.T), clip.shape, generator=generator, device=clip.device, **settings)
