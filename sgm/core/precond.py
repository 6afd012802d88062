"""EDM preconditioning (Karras et al. 2022) of a net inside any SDE of `sgm.sde`.

With x = m(t) y and sigma = sde.noise_level(t), y is clean data plus N(0, sigma^2) noise, and the
net F becomes a denoiser D(y; sigma) = c_skip y + c_out F(c_in y, c_noise) whose input and
target have unit variance at every noise level (sigma_data is the data's std):
  c_skip = sigma_data^2 / (sigma^2 + sigma_data^2), c_out = sigma sigma_data / sqrt(sigma^2 + sigma_data^2),
  c_in = 1 / sqrt(sigma^2 + sigma_data^2), c_noise = ln(sigma) / 4.
`EDMPrecond` returns std(t) * score = (D - y) / sigma, the same quantity a plain net returns
(see sgm.losses), so every sampler, loss and the likelihood use it unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from sgm.core.sde import SDE, per_example

PRECONDITIONINGS = ("none", "edm")


class EDMPrecond(nn.Module):
    """A net wrapped as an EDM denoiser; forward(x, t, class_labels) = std(t) * score(x, t)."""

    def __init__(self, net: nn.Module, sde: SDE, sigma_data: float):
        super().__init__()
        if not sigma_data > 0:
            raise ValueError(f"sigma_data must be > 0, got {sigma_data}")
        self.net = net
        self.sde = sde
        self.sigma_data = float(sigma_data)

    @property
    def embed(self) -> nn.Module:
        """The wrapped net's time and label embedding (its label vocabulary sizes)."""
        return self.net.embed

    def denoise(self, y: torch.Tensor, sigma: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        """D(y; sigma): the net's estimate of the clean data from y = data + sigma * noise."""
        s, sd = per_example(sigma, y), self.sigma_data
        total = (s**2 + sd**2).sqrt()
        extra = () if class_labels is None else (class_labels,)
        out = self.net(y / total, sigma.log() / 4, *extra)
        return (sd**2 / total**2) * y + (s * sd / total) * out

    def forward(self, x: torch.Tensor, t: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        mean, std = self.sde.marginal_prob(torch.ones_like(t), t)
        sigma = std / mean
        y = x / per_example(mean, x)
        return (self.denoise(y, sigma, class_labels) - y) / per_example(sigma, x)
