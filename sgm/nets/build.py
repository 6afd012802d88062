"""Nets from plain configuration data, and their FLOPs.

Both U-Nets return net(x, t), not the score: `sgm.core.score.score_fn_from_net` divides by std(t).
"""

from __future__ import annotations

import inspect

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sgm.nets.layers import check_channels
from sgm.nets.unet1d import UNet1d
from sgm.nets.unet2d import UNet2d

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
