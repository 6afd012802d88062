"""A CRASH-style (Rouard & Hadjeres 2021) U-Net on waveforms, with optional self-attention at its lowest resolution."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sgm.nets.layers import TimeEmbedding, check_channels, check_time, group_norm


class ResBlock1d(nn.Module):
    """Pre-norm residual block of two kernel-5 convs with FiLM (scale, shift) from the embedding."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int):
        super().__init__()
        self.norm1 = group_norm(c_in)
        self.conv1 = nn.Conv1d(c_in, c_out, 5, padding=2)
        self.film = nn.Linear(embed_dim, 2 * c_out)
        self.norm2 = group_norm(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 5, padding=2)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(embedding)[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.conv2(F.silu(h)) + self.skip(x)


class DownBlock1d(nn.Module):
    """Kernel-5 conv (stride 1 or 4) to c_out channels, then a residual block."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int, stride: int):
        super().__init__()
        self.resample = nn.Conv1d(c_in, c_out, 5, stride=stride, padding=2)
        self.res = ResBlock1d(c_out, c_out, embed_dim)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.res(self.resample(x), embedding)


class UpBlock1d(nn.Module):
    """Transposed conv upsampling by 4, concatenation with the skip, then a residual block."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int):
        super().__init__()
        self.resample = nn.ConvTranspose1d(c_in, c_out, 8, stride=4, padding=2)
        self.res = ResBlock1d(2 * c_out, c_out, embed_dim)

    def forward(self, x: torch.Tensor, skip: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.res(torch.cat([self.resample(x), skip], dim=1), embedding)


class SelfAttention1d(nn.Module):
    """Pre-norm multi-head self-attention over positions, added to its input.

    The output projection starts at zero, so a new block is the identity and training adds
    only what helps.
    """

    def __init__(self, channels: int, heads: int):
        super().__init__()
        if heads < 1 or channels % heads:
            raise ValueError(f"attention over {channels} channels needs a head count >= 1 that divides it, got {heads}")
        self.heads = heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, length = x.shape
        q, k, v = self.qkv(self.norm(x)).view(batch, 3 * self.heads, channels // self.heads, length).transpose(2, 3).chunk(3, dim=1)
        h = F.scaled_dot_product_attention(q, k, v)
        return x + self.out(h.transpose(2, 3).reshape(batch, channels, length))


class UNet1d(nn.Module):
    """CRASH-style waveform U-Net on (batch, in_channels, length).

    Down block i: kernel-5 conv (stride 1 for the first, 4 after) and a FiLM-conditioned
    residual block; each up block upsamples by 4 (transposed conv, kernel 8) and merges the
    skip. Downsampling by 4 keeps 16384 samples at 16 or more positions even with 6 blocks.
    With `attention_heads` > 0, self-attention at the lowest resolution (256 positions for
    16384 samples and 4 blocks) lets every position see the whole clip; the convolutions of 4
    blocks alone see +-512 samples. The length must be divisible by 4**(len(channels)-1);
    `input_size`, when given, is checked against that at construction.
    """

    def __init__(self, channels, in_channels: int = 1, embed_dim: int = 256, num_classes=0, input_size=None, attention_heads: int = 0):
        super().__init__()
        channels = check_channels(channels)
        self.channels = channels
        self.in_channels = in_channels
        self.size_multiple = 4 ** (len(channels) - 1)
        self.input_size = input_size
        if input_size is not None:
            self._check_shape((1, in_channels, input_size))
        self.embed = TimeEmbedding(embed_dim, num_classes)
        widths = [in_channels] + channels
        self.down = nn.ModuleList(
            DownBlock1d(c_in, c_out, embed_dim, stride=1 if i == 0 else 4)
            for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:]))
        )
        self.up = nn.ModuleList(UpBlock1d(c_in, c_out, embed_dim) for c_in, c_out in zip(channels[:0:-1], channels[-2::-1]))
        self.head = nn.Sequential(group_norm(channels[0]), nn.SiLU(), nn.Conv1d(channels[0], in_channels, 5, padding=2))
        self.middle = SelfAttention1d(channels[-1], attention_heads) if attention_heads else nn.Identity()

    def _check_shape(self, shape) -> None:
        m = self.size_multiple
        if len(shape) != 3 or shape[1] != self.in_channels or shape[2] % m:
            raise ValueError(
                f"UNet1d with {len(self.channels)} blocks takes (batch, {self.in_channels}, length) with length "
                f"divisible by {m} = 4**({len(self.channels)}-1); got shape {tuple(shape)}"
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
        h = self.middle(skips.pop())
        for block in self.up:
            h = block(h, skips.pop(), embedding)
        return self.head(h)


