import math

import pytest
import torch

from sgm.core.likelihood import bits_per_dim, log_likelihood
from sgm.core.sde import SDES
from sgm.kinds.layout import quantization_bin_width
from tests.helpers.gaussian_data import GaussianData
from tests.helpers.reference_settings import reference_sde

SDE_NAMES = list(SDES)
EPS = 1e-5


pytestmark = pytest.mark.usefixtures("single_thread")


def model_log_density(data: GaussianData, sde, x: torch.Tensor) -> torch.Tensor:
    """What the ODE computes with the exact score: log p_eps(x), corrected for the prior.

    log_likelihood returns prior_logp(x(T)) + log|det dx(T)/dx|, while the true marginal
    has log p_eps(x) = log p_T(x(T)) + log|det dx(T)/dx|. The prior N(0, prior_std^2) is
    not exactly p_T (it ignores the data mean), so the two differ by
    prior_logp(x(T)) - log p_T(x(T)), up to 0.035 nats for the points below.
    """
    at_T = data.flow(sde, x, EPS, sde.T)
    return data.log_density(sde, x, EPS) + sde.prior_logp(at_T) - data.log_density(sde, at_T, sde.T)


@pytest.mark.parametrize("name", SDE_NAMES)
def test_matches_exact_gaussian_log_density(name):
    # Diagonal covariance: the Jacobian of the velocity is diagonal, where the Rademacher
    # probe's trace estimate is exact, so only the ODE error remains. RK45 at
    # rtol = atol = 1e-5 on a state of O(10) nats: measured <= 2e-4 nats; tolerance 2e-3.
    sde = reference_sde(name)
    dims = 8
    data = GaussianData(torch.linspace(-1, 1, dims, dtype=torch.float64), torch.linspace(0.1, 0.5, dims) ** 2)
    x = data.flow(sde, torch.randn(16, dims, generator=torch.Generator().manual_seed(0), dtype=torch.float64), sde.T, EPS)
    logp, nfe = log_likelihood(data.score(sde), sde, x, rtol=1e-5, atol=1e-5, eps=EPS, generator=torch.Generator().manual_seed(1))
    expected = model_log_density(data, sde, x)
    assert (logp - expected).abs().max() < 2e-3
    # The same number through the change of variables: prior term plus log-Jacobian.
    jacobian = data.log_jacobian(sde, EPS, sde.T)
    torch.testing.assert_close(expected, sde.prior_logp(data.flow(sde, x, EPS, sde.T)) + jacobian)
    assert nfe % 6 == 2 and nfe < 300


def test_hutchinson_estimate_is_unbiased_for_correlated_data():
    # Full covariance: off-diagonal Jacobian entries make each example's estimate noisy.
    # 512 copies of one x, each with its own probe: their mean must match the exact value
    # within 4 standard errors of that mean plus the ODE tolerance.
    sde = reference_sde("vp")
    dims = 6
    factor = torch.randn(dims, dims, generator=torch.Generator().manual_seed(2), dtype=torch.float64) / dims
    data = GaussianData(torch.linspace(-0.5, 0.5, dims, dtype=torch.float64), factor @ factor.T + 0.05 * torch.eye(dims))
    x = torch.linspace(0.3, -0.4, dims, dtype=torch.float64).expand(512, dims)
    logp, _ = log_likelihood(data.score(sde), sde, x, rtol=1e-5, atol=1e-5, eps=EPS, generator=torch.Generator().manual_seed(3))
    expected = model_log_density(data, sde, x[:1]).item()
    spread = logp.std().item()
    assert spread > 0.05  # the probes differ per example and the estimate is really random
    assert abs(logp.mean().item() - expected) < 4 * spread / math.sqrt(512) + 2e-3


def test_is_reproducible_with_a_seed():
    sde = reference_sde("ve")
    data = GaussianData(torch.zeros(4), torch.full((4,), 0.25))
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(4))
    runs = [log_likelihood(data.score(sde), sde, x, rtol=1e-5, atol=1e-5, eps=EPS, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_rejects_eps_outside_the_time_range():
    with pytest.raises(ValueError, match=r"eps must lie in \(0, T=1.0\), got 0.0"):
        log_likelihood(lambda x, t: -x, reference_sde("vp"), torch.zeros(2, 3), rtol=1e-5, atol=1e-5, eps=0.0)


def test_bits_per_dim_by_hand():
    # logp = -1000 nats over 100 dims, bins of 2^-15: 1000 / (100 ln 2) + 15 = 29.42695 bits.
    assert bits_per_dim(-1000.0, 100, 2.0**-15) == pytest.approx(29.426950408889634, rel=1e-12)
    torch.testing.assert_close(
        bits_per_dim(torch.tensor([-1000.0, 0.0], dtype=torch.float64), 100, 2.0**-15),
        torch.tensor([29.426950408889634, 15.0], dtype=torch.float64),
    )


def test_uniform_density_over_16_bit_audio_costs_16_bits():
    width = quantization_bin_width(65536, -1.0, 1.0)
    assert width == 2.0**-15
    dims = 16384
    uniform_logp = -dims * math.log(2.0)  # density 1/2 per sample on [-1, 1)
    assert bits_per_dim(uniform_logp, dims, width) == pytest.approx(16.0, rel=1e-12)


def test_bin_width_scales_with_model_units():
    assert quantization_bin_width(65536, -1.0, 1.0, scale=4.0) == 2.0**-13
    assert quantization_bin_width(256, 0.0, 1.0) == 1 / 256


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((1, -1.0, 1.0), "levels must be an integer >= 2, got 1"),
        ((255.5, -1.0, 1.0), "got 255.5"),
        ((256, 1.0, 1.0), "need high > low, got low=1.0, high=1.0"),
        ((256, -1.0, 1.0, 0.0), "scale must be > 0, got 0.0"),
    ],
)
def test_bin_width_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        quantization_bin_width(*arguments)


@pytest.mark.parametrize(
    "dims, width, message",
    [(0, 0.1, "dims must be an integer >= 1, got 0"), (10, 0.0, "bin_width must be > 0, got 0.0"), (10, -1.0, "got -1.0")],
)
def test_bits_per_dim_rejects_bad_arguments(dims, width, message):
    with pytest.raises(ValueError, match=message):
        bits_per_dim(-5.0, dims, width)


@pytest.mark.parametrize("name", ["vp", "tutorial_ve"])
def test_image_shaped_float32_batches_match_the_exact_density(name):
    # The evaluate stage passes (batch, channels, height, width) float32 tensors. Same data
    # as above, 16 dims laid out as 1 x 4 x 4, in float32: measured <= 1.3e-4 nats; tolerance 2e-3.
    sde = reference_sde(name)
    dims = 16
    data = GaussianData(torch.linspace(-1, 1, dims, dtype=torch.float64), torch.linspace(0.1, 0.5, dims) ** 2)
    flat_score = data.score(sde)

    def image_score(x, t):
        return flat_score(x.flatten(1), t).reshape(x.shape)

    flat = data.flow(sde, torch.randn(8, dims, generator=torch.Generator().manual_seed(6), dtype=torch.float64), sde.T, EPS)
    images = flat.float().reshape(8, 1, 4, 4)
    logp, _ = log_likelihood(image_score, sde, images, rtol=1e-5, atol=1e-5, eps=EPS, generator=torch.Generator().manual_seed(7))
    assert logp.shape == (8,)
    assert (logp.double() - model_log_density(data, sde, images.double().flatten(1))).abs().max() < 2e-3
