"""Interpolation between clips through the probability-flow ODE (Song et al. 2021, Sec. 4.3).

`encode` integrates the ODE from eps up to T: a clip becomes a latent of the prior, uniquely
and invertibly (up to the solver's tolerance); `decode` integrates back. Latents of a Gaussian
prior lie near a sphere, so the path between two of them is spherical (`slerp`), which keeps
every point in between as likely under the prior as the ends.
"""

from __future__ import annotations

import torch

from sgm.core.samplers import probability_flow_ode
from sgm.core.schedules import check_span
from sgm.core.sde import SDE


def encode(score_fn, sde: SDE, x: torch.Tensor, rtol: float, atol: float, eps: float, progress=False) -> tuple[torch.Tensor, int]:
    """The latents x(T) of clips x = x(eps) (B, ...) under the probability-flow ODE; returns (z, nfe)."""
    return probability_flow_ode(score_fn, sde, x, eps, check_span(sde, eps), rtol=rtol, atol=atol, progress=progress)


def decode(score_fn, sde: SDE, z: torch.Tensor, rtol: float, atol: float, eps: float, progress=False) -> tuple[torch.Tensor, int]:
    """The clips x(eps) of latents z = x(T); the inverse of `encode`. Returns (x, nfe)."""
    return probability_flow_ode(score_fn, sde, z, check_span(sde, eps), eps, rtol=rtol, atol=atol, progress=progress)


def slerp(a: torch.Tensor, b: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of two tensors of one shape at each weight in [0, 1]: (len(weights), *a.shape).

    Angle and norms are taken over all elements; the norm is interpolated linearly, so the ends
    are a and b exactly and parallel inputs fall back to linear interpolation.
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp needs two tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    w = weights.to(a.dtype).reshape(-1, *([1] * a.dim()))
    norm_a, norm_b = a.norm(), b.norm()
    cosine = torch.dot(a.flatten(), b.flatten()) / (norm_a * norm_b)
    angle = torch.arccos(cosine.clamp(-1, 1))
    if angle < 1e-6:
        return (1 - w) * a + w * b
    unit_a, unit_b = a / norm_a, b / norm_b
    direction = (torch.sin((1 - w) * angle) * unit_a + torch.sin(w * angle) * unit_b) / torch.sin(angle)
    return direction * ((1 - w) * norm_a + w * norm_b)


def interpolate(score_fn, sde: SDE, first: torch.Tensor, second: torch.Tensor, between: int, rtol: float, atol: float, eps: float) -> tuple[torch.Tensor, int]:
    """`between` clips on the way from `first` to `second` (one example each, shape (...)), ends included.

    Returns (clips (between + 2, ...), nfe of encoding both plus decoding them all). `score_fn`
    must take batches of 2 and of between + 2 clips.
    """
    ode = {"rtol": rtol, "atol": atol, "eps": eps}
    if not (isinstance(between, int) and between >= 0):
        raise ValueError(f"between must be an integer >= 0, got {between!r}")
    latents, encode_nfe = encode(score_fn, sde, torch.stack([first, second]), **ode)
    weights = torch.linspace(0, 1, between + 2, device=first.device)
    clips, decode_nfe = decode(score_fn, sde, slerp(latents[0], latents[1], weights), **ode)
    return clips, encode_nfe + decode_nfe
