import math

import pytest
import torch

from sgm.core.sde import SDES, VESDE, make_sde
from tests.helpers.reference_settings import reference_sde

SDE_NAMES = list(SDES)


pytestmark = pytest.mark.usefixtures("single_thread")


def simulate_forward(sde, x0, paths, dt, checkpoints, generator):
    """Euler-Maruyama paths of the forward SDE (coefficients at mid-step times), started from the kernel at t = 0.

    x(0) ~ N(mean(0), std(0)^2): std(0) is sigma_min for VE (Song et al.'s convention), 0 otherwise.
    Returns {checkpoint: samples (paths, dims)} in float64.
    """
    mean0, std0 = sde.marginal_prob(x0.expand(paths, -1), torch.zeros(paths, dtype=torch.float64))
    x = mean0 + std0[:, None] * torch.randn(mean0.shape, generator=generator, dtype=torch.float64)
    step, taken = 0, {}
    for checkpoint in checkpoints:
        while step < round(checkpoint / dt):
            drift, diffusion = sde.sde(x, torch.full((paths,), (step + 0.5) * dt, dtype=torch.float64))
            noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
            x = x + drift * dt + diffusion[:, None] * math.sqrt(dt) * noise
            step += 1
        taken[checkpoint] = x
    return taken


@pytest.mark.parametrize("name", SDE_NAMES)
def test_marginal_prob_matches_simulated_forward_sde(name):
    # 20k paths, 1000 Euler steps. Standardised by the claimed kernel, the samples must
    # have mean 0 (standard error 1/sqrt(20000) = 0.007) and std 1 (standard error
    # 0.005); tolerances are 5 standard errors, plus 0.5% for the Euler bias of the
    # std at dt = 1e-3 (beta dt / 8 for VP with beta <= 20). A wrong diffusion, such as
    # sub-VP's g^2 with e^(-B) in place of e^(-2B), is off by 30% at t = 0.05.
    sde = reference_sde(name)
    x0 = torch.tensor([[1.5]], dtype=torch.float64)
    checkpoints = (0.05, 0.3, 1.0)
    samples = simulate_forward(sde, x0, 20_000, 1e-3, checkpoints, torch.Generator().manual_seed(0))
    for t in checkpoints:
        mean, std = sde.marginal_prob(x0, torch.tensor([t], dtype=torch.float64))
        standardised = (samples[t] - mean) / std
        assert standardised.mean(0).abs().max() < 0.035, (name, t, standardised.mean(0))
        assert (standardised.std(0) - 1).abs().max() < 0.03, (name, t, standardised.std(0))


@pytest.mark.parametrize("name", SDE_NAMES)
def test_prior_logp_is_isotropic_gaussian(name):
    sde = reference_sde(name)
    z = torch.randn(5, 2, 3, 4, generator=torch.Generator().manual_seed(1)) * 7
    expected = torch.distributions.Normal(0.0, sde.prior_std).log_prob(z).flatten(1).sum(1)
    torch.testing.assert_close(sde.prior_logp(z), expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", SDE_NAMES)
def test_prior_sampling_has_prior_std_and_matches_marginal_at_T(name):
    sde = reference_sde(name)
    z = sde.prior_sampling((4000, 50), generator=torch.Generator().manual_seed(2))
    assert z.shape == (4000, 50)
    assert abs(z.std().item() / sde.prior_std - 1) < 0.005  # standard error 1/sqrt(400000) = 0.0011
    assert abs(z.mean().item()) < 0.01 * sde.prior_std  # 4.5 standard errors
    _, std_at_T = sde.marginal_prob(torch.zeros(1), torch.ones(1) * sde.T)
    assert std_at_T.item() == pytest.approx(sde.prior_std, rel=1e-3)


def test_prior_sampling_is_reproducible_with_a_seed():
    sde = reference_sde("ve")
    first = sde.prior_sampling((3, 8), generator=torch.Generator().manual_seed(3))
    second = sde.prior_sampling((3, 8), generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)


@pytest.mark.parametrize("name", SDE_NAMES)
def test_noise_level_increases_from_near_zero(name):
    sde = reference_sde(name)
    levels = sde.noise_level(torch.linspace(1e-3, sde.T, 200, dtype=torch.float64))
    assert (levels.diff() > 0).all()
    assert levels[0] < 0.05


def test_ve_noise_level_is_its_geometric_sigma():
    sde = VESDE(sigma_min=0.01, sigma_max=50.0)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(sde.noise_level(t), torch.tensor([0.01, 0.01 * 5000**0.5, 50.0], dtype=torch.float64))


def test_make_sde_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"unknown SDE 'brownian'.*ve, vp, subvp, tutorial_ve"):
        make_sde("brownian")


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("ve", {"sigma_min": 5.0, "sigma_max": 1.0}, "sigma_min=5.0"),
        ("ve", {"sigma_min": 0.0, "sigma_max": 50.0}, "0 < sigma_min"),
        ("vp", {"beta_min": 0.0, "beta_max": 20.0}, "beta_min=0.0"),
        ("subvp", {"beta_min": 30.0, "beta_max": 20.0}, "beta_max=20.0"),
        ("tutorial_ve", {"sigma": 1.0}, "sigma > 1"),
        ("vp", {"sigma": 3.0}, "bad parameters"),
    ],
)
def test_make_sde_rejects_bad_parameters(name, params, message):
    with pytest.raises(ValueError, match=message):
        make_sde(name, **params)
