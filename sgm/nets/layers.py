"""Building blocks of the U-Nets: group norms that keep several channels per group, and the time and label embedding."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def group_norm(channels: int, max_groups: int = 32, min_group_size: int = 4) -> nn.GroupNorm:
    """GroupNorm with the most groups (<= max_groups, >= min_group_size channels each) dividing `channels`.

    Groups of a single channel would normalise away the per-channel time embedding added
    just before them (as in the tutorial's last GroupNorm(32, 32)), so groups keep
    several channels.
    """
    most = max(1, min(max_groups, channels // min_group_size))
    groups = max(g for g in range(1, most + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


def check_channels(channels) -> list[int]:
    """The channel list as ints; ValueError unless it is a non-empty list of positive integers."""
    channels = list(channels)
    if not channels or any(not isinstance(c, int) or isinstance(c, bool) or c <= 0 for c in channels):
        raise ValueError(f"channel list {channels} must be a non-empty list of positive integers")
    return channels


class GaussianFourierFeatures(nn.Module):
    """[sin(2 pi t W), cos(2 pi t W)] with W ~ N(0, scale^2) drawn once and kept fixed.

    W is a buffer (saved with the weights, never trained), drawn from torch's global RNG.
    """

    def __init__(self, embed_dim: int, scale: float = 30.0):
        super().__init__()
        if embed_dim < 2 or embed_dim % 2:
            raise ValueError(f"embed_dim must be a positive even number, got {embed_dim}")
        self.register_buffer("weight", torch.randn(embed_dim // 2) * scale)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * t[:, None] * self.weight
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class TimeEmbedding(nn.Module):
    """Embedding of t plus, for a conditional net, one learnt embedding per label kind: -> dense -> swish.

    `num_classes` is 0 (unconditional) or the vocabulary size of each label kind; labels are
    (batch, kinds) and index `num_classes[k]` of kind k means "no label" (see sgm.core.labels).
    """

    def __init__(self, embed_dim: int, num_classes=0):
        super().__init__()
        sizes = [] if num_classes == 0 else [num_classes] if isinstance(num_classes, int) else list(num_classes)
        if any(not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError(f"num_classes must be 0 or a list of positive vocabulary sizes, got {num_classes}")
        self.num_classes = sizes
        self.fourier = GaussianFourierFeatures(embed_dim)
        self.classes = nn.ModuleList(nn.Embedding(n + 1, embed_dim) for n in sizes)
        self.dense = nn.Linear(embed_dim, embed_dim)

    def forward(self, t: torch.Tensor, class_labels: torch.Tensor | None) -> torch.Tensor:
        features = self.fourier(t)
        if not self.num_classes:
            if class_labels is not None:
                raise ValueError("class_labels given to an unconditional net (num_classes=0)")
        else:
            if class_labels is None:
                raise ValueError(f"this net is class-conditional (num_classes={self.num_classes}): pass class_labels")
            if class_labels.shape != (*t.shape, len(self.num_classes)):
                raise ValueError(f"class_labels must have shape {(*t.shape, len(self.num_classes))}, got {tuple(class_labels.shape)}")
            for kind, embedding in enumerate(self.classes):
                features = features + embedding(class_labels[:, kind])
        return F.silu(self.dense(features))


def check_time(t: torch.Tensor, x: torch.Tensor) -> None:
    if t.shape != x.shape[:1]:
        raise ValueError(f"t must have shape (batch,) = ({x.shape[0]},), got {tuple(t.shape)}")


