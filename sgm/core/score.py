"""A net's raw output as a score, with classifier-free guidance (Ho & Salimans 2022).

A net returns roughly -z, a target of unit scale at every noise level; dividing by std(t) makes it
a score (Song's tutorial). Preconditioned nets (sgm.core.precond) return the same quantity.
"""

from __future__ import annotations

from typing import Callable

import torch

from sgm.core.labels import null_labels
from sgm.core.sde import SDE, per_example


def check_guidance(guidance: float, guidance_interval: tuple[float, float] | None) -> None:
    """ValueError unless guidance >= 0 and the interval, when given, is (low, high) with 0 <= low < high."""
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, got {guidance}")
    if guidance_interval is not None and not 0 <= guidance_interval[0] < guidance_interval[1]:
        raise ValueError(f"guidance_interval must be (low, high) noise levels with 0 <= low < high, got {guidance_interval}")


def score_fn_from_net(
    net: torch.nn.Module,
    sde: SDE,
    class_labels: torch.Tensor | None = None,
    guidance: float = 0.0,
    guidance_interval: tuple[float, float] | None = None,
) -> Callable:
    """score(x, t) = net(x, t[, class_labels]) / std(t), std broadcast per example.

    With guidance w > 0 the score is (1 + w) score(x | labels) - w score(x | no label), from one
    net call on a doubled batch. With `guidance_interval` (low, high) that guidance applies only
    where the noise level sde.noise_level(t) lies in [low, high] (Kynkaanniemi et al. 2024);
    elsewhere the score is the plain conditional one, from one net call on the batch. A single
    label row (1, K) is repeated for any batch size.
    """
    check_guidance(guidance, guidance_interval)
    if guidance and class_labels is None:
        raise ValueError("guidance needs class_labels: an unconditional score has nothing to guide towards")

    def labels_for(x: torch.Tensor) -> torch.Tensor:
        return class_labels.expand(len(x), -1) if len(class_labels) == 1 else class_labels

    def conditional(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return net(x, t) if class_labels is None else net(x, t, labels_for(x))

    def guided(x: torch.Tensor, t: torch.Tensor, inside: torch.Tensor | None) -> torch.Tensor:
        unconditional = null_labels(net.embed.num_classes, len(x), x.device)
        both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels_for(x), unconditional]))
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
