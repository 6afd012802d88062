"""A multi-resolution STFT term on the denoised estimate, for the quiet bins the squared error barely sees.

The score-matching loss weights every frequency by its energy, so the floor between the partials
(40-60 dB below them) costs the net almost nothing to get wrong. The log magnitude of
auraloss's multi-resolution STFT loss (Yamamoto et al. 2019: spectral convergence plus log
magnitude, averaged over resolutions) weights every bin alike, the quiet ones included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import auraloss
import torch


@dataclass(frozen=True)
class SpectralTerm:
    """weight x D x MRSTFT(denoised, clean) over the examples whose noise level is at most `sigma_max`,
    scaled by their share of the batch, where D is an example's number of dimensions: at weight 1
    a unit of the STFT loss costs as much as a unit of residual in every dimension does in the
    score-matching sum. Hann windows of each of `fft_sizes`, hop a quarter of it.
    """

    weight: float
    sigma_max: float
    fft_sizes: tuple[int, ...]
    _loss: torch.nn.Module = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.weight >= 0 or not self.sigma_max > 0 or not self.fft_sizes or any(size < 4 for size in self.fft_sizes):
            raise ValueError(f"a spectral term needs weight >= 0, sigma_max > 0 and FFT sizes >= 4, got {self}")
        sizes = list(self.fft_sizes)
        loss = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=sizes, hop_sizes=[size // 4 for size in sizes], win_lengths=sizes)
        object.__setattr__(self, "_loss", loss)

    def __call__(self, denoised: torch.Tensor, clean: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The term for 1-D examples (N, C, L) with noise levels sigma (N,), in float32 outside any autocast."""
        if denoised.dim() != 3 or denoised.shape[-1] < max(self.fft_sizes):
            raise ValueError(f"the spectral term needs 1-D examples (N, C, L >= {max(self.fft_sizes)}), got shape {tuple(denoised.shape)}")
        chosen = sigma <= self.sigma_max
        if not chosen.any():
            return denoised.new_zeros(())
        with torch.autocast(denoised.device.type, enabled=False):
            value = self._loss(denoised[chosen].float(), clean[chosen].float())
        share = chosen.float().mean()
        return self.weight * clean[0].numel() * share * value
