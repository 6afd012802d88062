"""Time-conditioned U-Nets that output the raw network value used by `sgm.losses`.

`UNet2d` is the study's net (Song's tutorial ScoreNet made to fit any size divisible by
2**(blocks-1) and any channel count); `UNet1d` is a CRASH-style (Rouard & Hadjeres 2021)
waveform net. Both return net(x, t), not the score: `sgm.losses.score_fn_from_net` divides
by std(t). `build_net` makes either from plain configuration data.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode


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
    (batch, kinds) and index `num_classes[k]` of kind k means "no label" (see sgm.conditioning).
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


def _check_time(t: torch.Tensor, x: torch.Tensor) -> None:
    if t.shape != x.shape[:1]:
        raise ValueError(f"t must have shape (batch,) = ({x.shape[0]},), got {tuple(t.shape)}")


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
        _check_time(t, x)
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
        _check_time(t, x)
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


NETS = {"unet2d": UNet2d, "unet1d": UNet1d}


def build_net(kind: str, channels, blocks: int | None = None, **kwargs) -> nn.Module:
    """Build a net of `kind` (one of NETS); `blocks`, when given, must equal len(channels)."""
    if kind not in NETS:
        raise ValueError(f"unknown net kind {kind!r}; accepted: {', '.join(NETS)}")
    channels = check_channels(channels)
    if blocks is not None and blocks != len(channels):
        raise ValueError(f"channel list {channels} has {len(channels)} entries but blocks={blocks}")
    try:
        inspect.signature(NETS[kind]).bind(channels, **kwargs)
    except TypeError as err:
        raise ValueError(f"bad parameters {kwargs} for net {kind!r}: {err}") from None
    return NETS[kind](channels, **kwargs)


def count_flops(net: nn.Module, example_x: torch.Tensor, class_labels: torch.Tensor | None = None) -> int:
    """Forward FLOPs of net on example_x (a multiply-add counts 2), as torch's FlopCounterMode counts them.

    Counts convolutions, transposed convolutions and matrix products; a training step costs
    about 3x this. Works on meta tensors, so big nets can be counted without memory.
    """
    t = torch.full(example_x.shape[:1], 0.5, device=example_x.device)
    extra = () if class_labels is None else (class_labels,)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(example_x, t, *extra)
    return counter.get_total_flops()
