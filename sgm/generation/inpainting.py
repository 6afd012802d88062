"""Fill part of a clip consistently with the rest, around the ordinary samplers (Song et al. 2021, App. I.2).

`keep` (bool, broadcastable to x) marks the model coordinates whose clean values `known` are given.

A stochastic sampler walks the reverse SDE over every coordinate, and its callback overwrites the
kept ones, after each step to time t, with a fresh draw of the perturbation kernel
p_0t(x(t) | known) = N(m(t) known, std(t)^2): the replacement method. On its own that is biased:
the filled coordinates only see a noisy copy of the kept ones, so with strongly correlated data
(and the exact score) their mean stops part-way to the conditional mean and their spread stays too
wide. With `resample` = r > 1 every step is taken r times, jumping back up one forward-kernel step
in between (RePaint, Lugmayr et al. 2022, sgm.core.schedules.resampled), which lets the filled part
settle on the kept part; the Gaussian tests measure both.

A deterministic sampler (heun, probability_flow_ode) is given a score under which the kept
coordinates are known: theirs is the score of a point mass at `known`, -(x - m(t) known) / std(t)^2,
whose probability-flow path is m(t) known + std(t) z for the noise z they start from. Their result
is a function of the seed; resampling needs fresh noise and does not apply to them.
"""

from __future__ import annotations

import torch

from sgm.core.samplers import STOCHASTIC, sample
from sgm.core.sde import SDE, per_example


def _check(known: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    if keep.dtype != torch.bool:
        raise ValueError(f"keep must be a bool mask, got {keep.dtype}")
    try:
        return torch.broadcast_to(keep.to(known.device), known.shape)
    except RuntimeError:
        raise ValueError(f"keep of shape {tuple(keep.shape)} does not broadcast to the clips' shape {tuple(known.shape)}") from None


def _time_vector(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), t, device=x.device, dtype=x.dtype)


def kernel_draw(sde: SDE, known: torch.Tensor, t: float, noise: torch.Tensor) -> torch.Tensor:
    """m(t) known + std(t) noise: the kept coordinates at time t."""
    mean, std = sde.marginal_prob(known, _time_vector(t, known))
    return mean + per_example(std, known) * noise


class Replacement:
    """callback(t, x) of a stochastic sampler: x with its kept coordinates drawn afresh from p_0t(x(t) | known)."""

    def __init__(self, sde: SDE, known: torch.Tensor, keep: torch.Tensor, generator: torch.Generator | None):
        self.sde, self.known, self.keep, self.generator = sde, known, keep, generator

    def __call__(self, t: float, x: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        return torch.where(self.keep, kernel_draw(self.sde, self.known, t, noise), x)


def known_score(score_fn, sde: SDE, known: torch.Tensor, keep: torch.Tensor):
    """score_fn with the kept coordinates' score replaced by that of a point mass at `known`."""

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        mean, std = sde.marginal_prob(known, t)
        return torch.where(keep, -(x - mean) / per_example(std, x) ** 2, score_fn(x, t))

    return score


def inpaint(score_fn, sde: SDE, known: torch.Tensor, keep: torch.Tensor, sampler: str, settings: dict, resample: int = 1, generator=None, progress=False):
    """Fill the coordinates of `known` (B, ...) outside `keep` with the sampler named `sampler`; returns (x, nfe).

    `settings` are the sampler's own (sgm.core.samplers.sample).
    """
    keep = _check(known, keep)
    if sampler in STOCHASTIC:
        replace = Replacement(sde, known, keep, generator)
        start = replace(sde.T, sde.prior_sampling(known.shape, generator, known.device))
        x, nfe = sample(sampler, score_fn, sde, start, settings, resample=resample, generator=generator, callback=replace, progress=progress)
    else:
        prior = sde.prior_sampling(known.shape, generator, known.device)
        noise = torch.randn(prior.shape, generator=generator, device=prior.device, dtype=prior.dtype)
        start = torch.where(keep, kernel_draw(sde, known, sde.T, noise), prior)
        x, nfe = sample(sampler, known_score(score_fn, sde, known, keep), sde, start, settings, resample=resample, progress=progress)
    return torch.where(keep, known, x), nfe
