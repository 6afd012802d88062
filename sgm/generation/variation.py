"""Variations of a clip by SDEdit (Meng et al. 2022): noise it up to time t0, then denoise.

The ordinary samplers run unchanged from a different starting point: a draw of the perturbation
kernel p_t0(x(t0) | clip) = N(m(t0) clip, std(t0)^2), walked down from t0. `strength` = t0 / T goes
from "almost the same clip" (small) to "a new sample of the model" (1, where the kernel forgets the
clip up to m(T) clip / std(T)).
"""

from __future__ import annotations

import torch

from sgm.core.samplers import sample
from sgm.core.sde import SDE, per_example


def noised(sde: SDE, clip: torch.Tensor, t: float, generator=None) -> torch.Tensor:
    """A draw of p_t(x(t) | clip) for each example of `clip` (B, ...)."""
    time = torch.full((clip.shape[0],), t, device=clip.device, dtype=clip.dtype)
    mean, std = sde.marginal_prob(clip, time)
    noise = torch.randn(clip.shape, generator=generator, device=clip.device, dtype=clip.dtype)
    return mean + per_example(std, clip) * noise


def vary(score_fn, sde: SDE, clip: torch.Tensor, strength: float, sampler: str, settings: dict, generator=None, progress=False):
    """Variations of `clip` (B, ...), one per example: noise to t0 = strength * T and sample back; returns (x, nfe).

    `settings` are the sampler's own (sgm.core.samplers.sample); its steps cover [eps, t0], not [eps, T].
    """
    eps = settings["eps"]
    if not eps < strength * sde.T <= sde.T:
        raise ValueError(f"strength must lie in ({eps / sde.T:g}, 1] (noise up to t0 = strength * T above eps = {eps:g}), got {strength}")
    t_start = strength * sde.T
    start = noised(sde, clip, t_start, generator)
    return sample(sampler, score_fn, sde, start, settings, t_start=t_start, generator=generator, progress=progress)
