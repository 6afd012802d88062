"""The study's 2-D U-Net: Song's tutorial ScoreNet made to fit any size divisible by 2**(blocks-1) and any channel count."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sgm.nets.layers import TimeEmbedding, check_channels, check_time, group_norm


class ConvBlock2d(nn.Module):
    """conv -> + dense(time embedding) per channel -> group norm -> swish."""

    def __init__(self, conv: nn.Module, embed_dim: int):
        super().__init__()
        self.conv = conv
        self.dense = nn.Linear(embed_dim, conv.out_channels)
        self.norm = group_norm(conv.out_channels)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv(x) + self.dense(embedding)[:, :, None, None]
        return F.silu(self.norm(h))


class UNet2d(nn.Module):
    """U-Net on (batch, in_channels, H, W) with one down block per entry of `channels`.

    Down block i: 3x3 conv (stride 1 for the first, 2 after, so sizes halve exactly).
    Up path mirrors it with stride-2 transposed convs and concatenated skips; a 3x3 conv
    maps to in_channels. H and W must be divisible by 2**(len(channels)-1); `input_size`
    (int or (H, W)), when given, is checked against that at construction.
    """

    def __init__(self, channels, in_channels: int = 1, embed_dim: int = 256, num_classes=0, input_size=None):
        super().__init__()
        channels = check_channels(channels)
        self.channels = channels
        self.in_channels = in_channels
        self.size_multiple = 2 ** (len(channels) - 1)
        self.input_size = input_size
        if input_size is not None:
            height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
            self._check_shape((1, in_channels, height, width))
        self.embed = TimeEmbedding(embed_dim, num_classes)
        widths = [in_channels] + channels
        self.down = nn.ModuleList(
            ConvBlock2d(nn.Conv2d(c_in, c_out, 3, stride=1 if i == 0 else 2, padding=1, bias=False), embed_dim)
            for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:]))
        )
        self.up = nn.ModuleList(
            ConvBlock2d(
                nn.ConvTranspose2d(c_in if i == 0 else 2 * c_in, c_out, 3, stride=2, padding=1, output_padding=1, bias=False),
                embed_dim,
            )
            for i, (c_in, c_out) in enumerate(zip(channels[:0:-1], channels[-2::-1]))
        )
        head_in = channels[0] if len(channels) == 1 else 2 * channels[0]
        self.head = nn.Conv2d(head_in, in_channels, 3, padding=1)

    def _check_shape(self, shape) -> None:
        m = self.size_multiple
        if len(shape) != 4 or shape[1] != self.in_channels or shape[2] % m or shape[3] % m:
            raise ValueError(
                f"UNet2d with {len(self.channels)} blocks takes (batch, {self.in_channels}, H, W) with H and W "
                f"divisible by {m} = 2**({len(self.channels)}-1); got shape {tuple(shape)}"
            )

    def forward(self, x: torch.Tensor, t: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        self._check_shape(x.shape)
        check_time(t, x)
        embedding = self.embed(t, class_labels)
        skips = []
        h = x
        for block in self.down:
            h = block(h, embedding)
            skips.append(h)
        h = skips.pop()
        for block in self.up:
            h = torch.cat([block(h, embedding), skips.pop()], dim=1)
        return self.head(h)


