"""A net's raw output as a score, with classifier-free guidance (Ho & Salimans 2022).

A net returns roughly -z, a target of unit scale at every noise level; dividing by std(t) makes it
a score (Song's tutorial). Preconditioned nets (sgm.core.precond) return the same quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from sgm.core.labels import null_labels
from sgm.core.sde import SDE, per_example


def check_guidance(guidance: float, guidance_interval: tuple[float, float] | None) -> None:
    """ValueError unless guidance >= 0 and the interval, when given, is (low, high) with 0 <= low < high."""
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, got {guidance}")
    if guidance_interval is not None and not 0 <= guidance_interval[0] < guidance_interval[1]:
        raise ValueError(f"guidance_interval must be (low, high) noise levels with 0 <= low < high, got {guidance_interval}")


EVERY_LABEL = -1  # the column of plain classifier-free guidance, which drops every label


@dataclass(frozen=True)
class LabelGuidance:
    """Guidance towards one kind of label alone (column `column` of the labels): the direction
    score(x | labels) - score(x | labels but that one), with its own scale and noise-level interval."""

    column: int
    scale: float
    interval: tuple[float, float] | None = None

    def __post_init__(self):
        check_guidance(self.scale, self.interval)

    def without(self, labels: torch.Tensor, sizes) -> torch.Tensor:
        dropped = labels.clone()
        dropped[:, self.column] = sizes[self.column]
        return dropped


def label_guidance_for(conditioning: dict, settings: dict) -> list[LabelGuidance]:
    """LabelGuidance terms from {kind: (scale, interval)}; ValueError naming a kind the model does not know."""
    kinds = list(conditioning)
    unknown = sorted(set(settings) - set(kinds))
    if unknown:
        raise ValueError(f"label guidance on {unknown}: the model is conditioned on {', '.join(kinds) or 'nothing'}")
    return [LabelGuidance(kinds.index(kind), scale, interval) for kind, (scale, interval) in settings.items()]


def score_fn_from_net(
    net: torch.nn.Module,
    sde: SDE,
    class_labels: torch.Tensor | None = None,
    guidance: float = 0.0,
    guidance_interval: tuple[float, float] | None = None,
    label_guidance: Sequence[LabelGuidance] = (),
) -> Callable:
    """score(x, t) = net(x, t[, class_labels]) / std(t), std broadcast per example.

    With guidance w > 0 the score is (1 + w) score(x | labels) - w score(x | no label). With
    `guidance_interval` (low, high) that guidance applies only where the noise level
    sde.noise_level(t) lies in [low, high] (Kynkaanniemi et al. 2024); elsewhere the score is the
    plain conditional one. Each `label_guidance` term adds w_k (score(x | labels) - score(x | labels
    without kind k)) in its own interval: guidance towards, say, the instrument with the pitch held.
    The guided terms come from one net call on a batch stacked once per term in force. A single
    label row (1, K) is repeated for any batch size.
    """
    if (guidance or label_guidance) and class_labels is None:
        raise ValueError("guidance needs class_labels: an unconditional score has nothing to guide towards")
    terms = [term for term in [LabelGuidance(EVERY_LABEL, guidance, guidance_interval), *label_guidance] if term.scale]
    sizes = net.embed.num_classes if terms else None  # read only when guiding: a DDP-wrapped training net has no .embed
    by_level = any(term.interval is not None for term in terms)

    def labels_for(x: torch.Tensor) -> torch.Tensor:
        return class_labels.expand(len(x), -1) if len(class_labels) == 1 else class_labels

    def guiding(term: LabelGuidance, labels: torch.Tensor) -> torch.Tensor:
        return null_labels(sizes, len(labels), labels.device) if term.column == EVERY_LABEL else term.without(labels, sizes)

    def raw(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        labels = None if class_labels is None else labels_for(x)
        level = sde.noise_level(t) if by_level else None
        inside = [(term, in_interval(level, term.interval)) for term in terms]
        inside = [(term, mask) for term, mask in inside if mask is None or mask.any()]
        if not inside:
            return net(x, t) if labels is None else net(x, t, labels)
        copies = 1 + len(inside)
        outputs = net(torch.cat([x] * copies), torch.cat([t] * copies), torch.cat([labels, *(guiding(term, labels) for term, _ in inside)])).chunk(copies)
        weights = [term.scale if mask is None else per_example(term.scale * mask.to(x.dtype), x) for term, mask in inside]
        return (1 + sum(weights)) * outputs[0] - sum(weight * other for weight, other in zip(weights, outputs[1:]))

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, std = sde.marginal_prob(x, t)
        return raw(x, t) / per_example(std, x)

    return score


def in_interval(level: torch.Tensor, interval: tuple[float, float] | None) -> torch.Tensor | None:
    """Which examples' noise levels lie in [low, high]; None where every level does (no interval)."""
    if interval is None:
        return None
    inside = (level >= interval[0]) & (level <= interval[1])
    return None if inside.all() else inside
