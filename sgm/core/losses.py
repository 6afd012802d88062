"""Denoising score matching (Song et al., ICLR 2021) as a loss object the training loop calls.

As in EDM's training/loss.py, a loss is a small callable holding its own settings; the loop
calls `loss(net, sde, x, class_labels, generator, part)` and knows nothing of what is inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sgm.core.score import score_fn_from_net
from sgm.core.sde import SDE, per_example
from sgm.core.spectral_loss import SpectralTerm

WEIGHTINGS = ("study", "likelihood", "edm")
TRAINING_EPS = 1e-5  # the lowest time (noise level) trained on, as in Song et al.'s code


@dataclass(frozen=True)
class DenoisingScoreMatching:
    """The DSM loss of a net on clean data x, a scalar: the batch mean of the sum over dimensions of
    lambda(t) ||score(x_t, t) + z / std(t)||^2, with x_t = mean(t) + std(t) z, z ~ N(0, I) and

      "study":      t ~ U(eps, T), lambda = std^2 (Song's tutorial), i.e. ||score std + z||^2;
      "likelihood": t ~ U(eps, T), lambda = g(t)^2. Its expectation is 2 / (T - eps) times the
                    score-matching term of the KL bound of Song, Durkan et al. (NeurIPS 2021,
                    Thm 1), in nats per example, up to a constant free of the net; it equals
                    score_sde's likelihood-weighted loss with reduce_mean=False;
      "edm":        Karras et al.'s loss for an EDMPrecond net: the noise level sigma is lognormal,
                    ln sigma ~ N(log_sigma = (mean, std)), clamped to the SDE's range
                    [sigma(eps), sigma(T)], t = the time of that level, and
                    lambda = std^2 (sigma^2 + sigma_data^2) / sigma_data^2, which makes the
                    residual that of the net's raw output against its unit-variance target.

    With `spectral` (sgm.core.spectral_loss), its term on the net's denoised estimate
    x + std (score std + z) / s(t) (Tweedie's formula; s(t) the mean's scale, 1 for the VE SDE)
    against x is added: no longer a proper score-matching objective, so its cost shows in bits/dim.

    All draws come from the `generator` of the call, for every example of x; with `part` (a slice
    of the batch), the loss is that of the part's examples alone. Ranks of a data-parallel run
    each pass the whole global batch and their own part: together they draw what one process does.
    """

    weighting: str
    log_sigma: tuple[float, float] | None = None  # (mean, std) of ln sigma; the "edm" weighting needs it
    eps: float = TRAINING_EPS
    spectral: SpectralTerm | None = None

    def __post_init__(self):
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; accepted: {', '.join(WEIGHTINGS)}")
        if self.weighting == "edm" and self.log_sigma is None:
            raise ValueError("the 'edm' weighting needs log_sigma = (mean, std) of the training noise levels")

    def __call__(
        self,
        net: torch.nn.Module,
        sde: SDE,
        x: torch.Tensor,
        class_labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        part: slice = slice(None),
    ) -> torch.Tensor:
        eps = self.eps
        if not 0 < eps < sde.T:
            raise ValueError(f"eps must lie in (0, T={sde.T}), got {eps}")
        sigma_data = getattr(getattr(net, "module", net), "sigma_data", None)  # through DDP and torch.compile
        if self.weighting == "edm":
            if sigma_data is None:
                raise ValueError("the 'edm' weighting needs an EDMPrecond net (train.precond: edm)")
            centre, spread = self.log_sigma
            log_sigma = centre + spread * torch.randn(x.shape[0], device=x.device, dtype=torch.float64, generator=generator)
            ends = sde.noise_level(torch.tensor([eps, sde.T], dtype=torch.float64, device=x.device))
            t = sde.time_at_noise_level(log_sigma.exp().clamp(*ends), eps).to(x.dtype)
        else:
            t = eps + (sde.T - eps) * torch.rand(x.shape[0], device=x.device, dtype=x.dtype, generator=generator)
        z = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        x, t, z = x[part], t[part], z[part]
        class_labels = None if class_labels is None else class_labels[part]
        mean, std = sde.marginal_prob(x, t)
        std = per_example(std, x)
        score = score_fn_from_net(net, sde, class_labels)(mean + std * z, t)
        extra = 0.0
        if self.spectral is not None:
            scale, _ = sde.marginal_prob(torch.ones_like(x), t)
            denoised = x + std * (score * std + z) / scale
            extra = self.spectral(denoised, x, sde.noise_level(t))
        if self.weighting == "study":
            residual = score * std + z
        elif self.weighting == "edm":
            sigma = per_example(sde.noise_level(t), x)
            residual = (score * std + z) * (sigma.square() / sigma_data**2 + 1).sqrt()
        else:
            _, diffusion = sde.sde(x, t)
            residual = per_example(diffusion, x) * (score + z / std)
        return residual.square().flatten(1).sum(dim=1).mean() + extra
