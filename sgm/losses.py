"""Denoising score matching (Song et al., ICLR 2021) and the net -> score parametrisation.

A net's raw output is turned into a score by dividing by std(t) (Song's tutorial), so the
net predicts roughly -z, a target of unit scale at every noise level.
"""

from __future__ import annotations

from typing import Callable

import torch

from sgm.sde import SDE, per_example

WEIGHTINGS = ("study", "likelihood")


def score_fn_from_net(net: torch.nn.Module, sde: SDE, class_labels: torch.Tensor | None = None) -> Callable:
    """score(x, t) = net(x, t[, class_labels]) / std(t), std broadcast per example."""
    extra = () if class_labels is None else (class_labels,)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, std = sde.marginal_prob(x, t)
        return net(x, t, *extra) / per_example(std, x)

    return score


def dsm_loss(
    net: torch.nn.Module,
    sde: SDE,
    x: torch.Tensor,
    eps: float = 1e-5,
    weighting: str = "study",
    class_labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Denoising score-matching loss of `net` on clean data x, a scalar.

    t ~ U(eps, T) per example, z ~ N(0, I), x_t = mean(t) + std(t) z; all draws come from
    `generator`. The loss is the batch mean of the sum over dimensions of
    lambda(t) ||score(x_t, t) + z / std(t)||^2 with
      "study":      lambda = std^2 (Song's tutorial), i.e. ||score std + z||^2;
      "likelihood": lambda = g(t)^2. Its expectation is 2 / (T - eps) times the
                    score-matching term of the KL bound of Song, Durkan et al. (NeurIPS
                    2021, Thm 1), in nats per example, up to a constant free of the net;
                    it equals score_sde's likelihood-weighted loss with reduce_mean=False.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; accepted: {', '.join(WEIGHTINGS)}")
    if not 0 < eps < sde.T:
        raise ValueError(f"eps must lie in (0, T={sde.T}), got {eps}")
    t = eps + (sde.T - eps) * torch.rand(x.shape[0], device=x.device, dtype=x.dtype, generator=generator)
    z = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    mean, std = sde.marginal_prob(x, t)
    std = per_example(std, x)
    score = score_fn_from_net(net, sde, class_labels)(mean + std * z, t)
    if weighting == "study":
        residual = score * std + z
    else:
        _, diffusion = sde.sde(x, t)
        residual = per_example(diffusion, x) * (score + z / std)
    return residual.square().flatten(1).sum(dim=1).mean()
