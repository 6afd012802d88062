"""The exponential moving average of the weights, the net every later stage samples from."""

from __future__ import annotations

import torch


def ema_decay_at(step: int, decay: float) -> float:
    """The EMA decay at optimizer step `step` (1-based): `decay`, warmed up as min(decay, (1 + step) / (10 + step)).

    Without the warm-up an average with decay 0.999 is still ~97% the random initial weights after
    the 32 steps of a short CPU run; with it, short runs average their recent weights and long runs
    reach `decay` after about 10 / (1 - decay) steps.
    """
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net for the parameters; buffers are copied."""
    torch._foreach_lerp_(list(ema.parameters()), list(net.parameters()), 1 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), net.buffers()):
        ema_buffer.copy_(buffer)
