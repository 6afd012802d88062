import math

import pytest
import torch

from sgm.core.losses import DenoisingScoreMatching
from sgm.core.sde import VESDE
from sgm.core.spectral_loss import SpectralTerm
from tests.core.test_losses import ZeroNet

RATE, LENGTH = 16000, 4096
TERM = SpectralTerm(weight=1.0, sigma_max=1.0, fft_sizes=(256, 512, 1024))


def tones(n: int) -> torch.Tensor:
    """n clips (n, 1, L) of a 440 Hz tone with its octave."""
    time = torch.arange(LENGTH) / RATE
    tone = torch.sin(2 * math.pi * 440 * time) + 0.5 * torch.sin(2 * math.pi * 880 * time)
    return tone.expand(n, 1, LENGTH).contiguous()


def test_a_perfect_estimate_costs_nothing():
    clean = tones(4)
    assert TERM(clean.clone(), clean, torch.zeros(4)).item() == pytest.approx(0.0, abs=1e-6)


def test_noise_between_the_partials_costs_far_more_than_a_louder_error_on_them():
    # The squared error ranks these two estimates the other way round: the floor's error is 100x smaller.
    clean = tones(4)
    floor = 1e-3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    louder = 0.02 * clean
    assert floor.square().mean() < louder.square().mean() / 100
    assert TERM(clean + floor, clean, torch.zeros(4)) > 10 * TERM(clean + louder, clean, torch.zeros(4))


def test_only_examples_noised_at_most_sigma_max_count_in_proportion_to_their_share():
    clean = tones(4)
    estimate = clean + 1e-3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    every = TERM(estimate, clean, torch.full((4,), 0.5))
    assert TERM(estimate, clean, torch.tensor([0.5, 0.5, 2.0, 2.0])).item() == pytest.approx(every.item() / 2, rel=0.05)
    assert TERM(estimate, clean, torch.full((4,), 2.0)).item() == 0.0


def test_the_weight_scales_the_term_by_the_dimensions_of_an_example():
    clean = tones(2)
    estimate = clean + 1e-2 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    double = SpectralTerm(weight=2.0, sigma_max=1.0, fft_sizes=TERM.fft_sizes)
    assert double(estimate, clean, torch.zeros(2)).item() == pytest.approx(2 * TERM(estimate, clean, torch.zeros(2)).item(), rel=1e-6)


def test_the_loss_adds_the_term_on_tweedies_denoised_estimate():
    # With a net whose score is 0, Tweedie's estimate is the noisy input x + std z itself.
    sde, clean = VESDE(0.002, 10.0), tones(8)
    plain = DenoisingScoreMatching("study")(ZeroNet(), sde, clean, generator=torch.Generator().manual_seed(3))
    with_term = DenoisingScoreMatching("study", spectral=TERM)(ZeroNet(), sde, clean, generator=torch.Generator().manual_seed(3))
    generator = torch.Generator().manual_seed(3)
    t = 1e-5 + (sde.T - 1e-5) * torch.rand(8, generator=generator)
    z = torch.randn(clean.shape, generator=generator)
    _, std = sde.marginal_prob(clean, t)
    expected = TERM(clean + std[:, None, None] * z, clean, sde.noise_level(t))
    assert expected > 0
    assert (with_term - plain).item() == pytest.approx(expected.item(), rel=1e-4)


def test_images_or_clips_shorter_than_the_largest_fft_are_refused():
    with pytest.raises(ValueError, match=r"1-D examples \(N, C, L >= 1024\), got shape \(2, 1, 512\)"):
        TERM(torch.zeros(2, 1, 512), torch.zeros(2, 1, 512), torch.zeros(2))
    with pytest.raises(ValueError, match="weight >= 0, sigma_max > 0"):
        SpectralTerm(weight=-1.0, sigma_max=1.0, fft_sizes=(256,))
