"""Denoising score matching (Song et al., ICLR 2021) and the net -> score parametrisation.

A net's raw output is turned into a score by dividing by std(t) (Song's tutorial), so the
net predicts roughly -z, a target of unit scale at every noise level.
"""

from __future__ import annotations

from typing import Callable

import torch

from sgm.conditioning import null_labels
from sgm.sde import SDE, per_example

WEIGHTINGS = ("study", "likelihood", "edm")


def score_fn_from_net(
    net: torch.nn.Module,
    sde: SDE,
    class_labels: torch.Tensor | None = None,
    guidance: float = 0.0,
    guidance_interval: tuple[float, float] | None = None,
) -> Callable:
    """score(x, t) = net(x, t[, class_labels]) / std(t), std broadcast per example.

    With guidance w > 0 (classifier-free guidance, Ho & Salimans 2022) the score is
    (1 + w) score(x | labels) - w score(x | no label), from one net call on a doubled batch.
    With `guidance_interval` (low, high) that guidance applies only where the noise level
    sde.noise_level(t) lies in [low, high] (Kynkaanniemi et al. 2024); elsewhere the score is
    the plain conditional one, from one net call on the batch.
    """
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, got {guidance}")
    if guidance and class_labels is None:
        raise ValueError("guidance needs class_labels: an unconditional score has nothing to guide towards")
    if guidance_interval is not None and not 0 <= guidance_interval[0] < guidance_interval[1]:
        raise ValueError(f"guidance_interval must be (low, high) noise levels with 0 <= low < high, got {guidance_interval}")

    def conditional(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return net(x, t) if class_labels is None else net(x, t, class_labels)

    def guided(x: torch.Tensor, t: torch.Tensor, inside: torch.Tensor | None) -> torch.Tensor:
        unconditional = null_labels(net.embed.num_classes, len(x), x.device)
        both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([class_labels, unconditional]))
        labelled, free = both.chunk(2)
        mixed = (1 + guidance) * labelled - guidance * free
        return mixed if inside is None else torch.where(per_example(inside, x), mixed, labelled)

    def raw(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not guidance:
            return conditional(x, t)
        if guidance_interval is None:
            return guided(x, t, None)
        level = sde.noise_level(t)
        inside = (level >= guidance_interval[0]) & (level <= guidance_interval[1])
        if not inside.any():
            return conditional(x, t)
        return guided(x, t, None if inside.all() else inside)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, std = sde.marginal_prob(x, t)
        return raw(x, t) / per_example(std, x)

    return score


def dsm_loss(
    net: torch.nn.Module,
    sde: SDE,
    x: torch.Tensor,
    eps: float = 1e-5,
    weighting: str = "study",
    class_labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    log_sigma_mean: float = -1.2,
    log_sigma_std: float = 1.2,
) -> torch.Tensor:
    """Denoising score-matching loss of `net` on clean data x, a scalar.

    t ~ U(eps, T) per example, z ~ N(0, I), x_t = mean(t) + std(t) z; all draws come from
    `generator`. The loss is the batch mean of the sum over dimensions of
    lambda(t) ||score(x_t, t) + z / std(t)||^2 with
      "study":      lambda = std^2 (Song's tutorial), i.e. ||score std + z||^2;
      "likelihood": lambda = g(t)^2. Its expectation is 2 / (T - eps) times the
                    score-matching term of the KL bound of Song, Durkan et al. (NeurIPS
                    2021, Thm 1), in nats per example, up to a constant free of the net;
                    it equals score_sde's likelihood-weighted loss with reduce_mean=False;
      "edm":        Karras et al.'s loss for an EDMPrecond net: the noise level sigma is
                    lognormal, ln sigma ~ N(log_sigma_mean, log_sigma_std^2), clamped to the
                    SDE's range [sigma(eps), sigma(T)], t = the time of that level, and
                    lambda = std^2 (sigma^2 + sigma_data^2) / sigma_data^2, which makes the
                    residual that of the net's raw output against its unit-variance target.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; accepted: {', '.join(WEIGHTINGS)}")
    if not 0 < eps < sde.T:
        raise ValueError(f"eps must lie in (0, T={sde.T}), got {eps}")
    sigma_data = getattr(getattr(net, "module", net), "sigma_data", None)  # through DDP and torch.compile
    if weighting == "edm":
        if sigma_data is None:
            raise ValueError("the 'edm' weighting needs an EDMPrecond net (train.precond: edm)")
        log_sigma = log_sigma_mean + log_sigma_std * torch.randn(x.shape[0], device=x.device, dtype=torch.float64, generator=generator)
        ends = sde.noise_level(torch.tensor([eps, sde.T], dtype=torch.float64, device=x.device))
        t = sde.time_at_noise_level(log_sigma.exp().clamp(*ends), eps).to(x.dtype)
    else:
        t = eps + (sde.T - eps) * torch.rand(x.shape[0], device=x.device, dtype=x.dtype, generator=generator)
    z = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    mean, std = sde.marginal_prob(x, t)
    std = per_example(std, x)
    score = score_fn_from_net(net, sde, class_labels)(mean + std * z, t)
    if weighting == "study":
        residual = score * std + z
    elif weighting == "edm":
        sigma = per_example(sde.noise_level(t), x)
        residual = (score * std + z) * (sigma.square() / sigma_data**2 + 1).sqrt()
    else:
        _, diffusion = sde.sde(x, t)
        residual = per_example(diffusion, x) * (score + z / std)
    return residual.square().flatten(1).sum(dim=1).mean()
