import math

import pytest
import torch

from sgm.core.samplers import SAMPLERS, heun, probability_flow_ode, sample
from sgm.core.schedules import heun_schedule, karras_schedule, resampled, uniform_times
from sgm.core.sde import SDES
from tests.helpers.gaussian_data import GaussianData, GaussianMixture
from tests.helpers.reference_settings import draw, reference_sde, settings

SDE_NAMES = list(SDES)
EPS = 1e-3
DATA_STD = 0.5


pytestmark = pytest.mark.usefixtures("single_thread")


def isotropic_data(dims: int) -> GaussianData:
    return GaussianData(torch.linspace(-1, 1, dims), torch.full((dims,), DATA_STD**2))


@pytest.mark.parametrize("name", SDE_NAMES)
@pytest.mark.parametrize(
    "sampler, options, std_tolerance, expected_nfe",
    [
        ("euler_maruyama", {}, 0.02, 500),
        ("predictor_corrector", {"corrector_steps": 0}, 0.02, 500),
        ("predictor_corrector", {}, 0.035, 1000),
    ],
    ids=["euler_maruyama", "reverse_diffusion", "predictor_corrector"],
)
def test_stochastic_samplers_reproduce_gaussian_data(name, sampler, options, std_tolerance, expected_nfe):
    # Target: the eps-marginal N(m(eps) mu, m(eps)^2 s^2 + std(eps)^2), which the reverse
    # SDE reaches from T. 128 samples in 256 dims. Mean: the RMS over dims of the error of
    # the sample mean is SE * sqrt(chi2_256 / 256) with SE = s / sqrt(128); it lies in
    # 1 +- 0.044 SE, so < 1.2 SE is 4.5 sigma. Std (pooled over 32768 values, standard
    # error 0.4%): 5 standard errors plus the samplers' own bias, 0.5% for 500 Euler
    # steps; the Langevin corrector at snr 0.16 inflates the std by at most
    # 1/sqrt(1 - snr^2) - 1 = 1.3% (measured +0.4..0.8% here).
    sde = reference_sde(name)
    data = isotropic_data(256)
    x, nfe = draw(sampler, data.score(sde), sde, (128, 256), generator=torch.Generator().manual_seed(0), **options)
    mean, std = data.marginal_moments(sde, EPS)
    error = x.double() - mean
    assert error.mean(0).pow(2).mean().sqrt() < 1.2 * DATA_STD / math.sqrt(128)
    assert abs(error.pow(2).mean().sqrt().item() / std[0].item() - 1) < std_tolerance
    assert nfe == expected_nfe


def four_dimensional_mixture() -> GaussianMixture:
    means = torch.tensor([[1.5, 1.5, 1.5, 1.5], [-1.5, -1.5, -1.5, -1.5], [1.5, -1.5, 1.5, -1.5]])
    return GaussianMixture(means, 0.3)


@pytest.mark.parametrize("name", SDE_NAMES)
def test_predictor_corrector_keeps_the_component_std_in_four_dimensions(name):
    # Exact score of three well-separated N(mu_k, 0.3^2 I) in 4-D: the component std must
    # come out 0.30 (the eps-kernel adds < 0.2%). Pooled over 8000 values its standard
    # error is 0.8%; the corrector's own bias is at most 1.3% at snr 0.16. A step size
    # estimated from ||z|| / ||score|| of the current state gave 0.43-0.47 here.
    mixture = four_dimensional_mixture()
    sde = reference_sde(name)
    x, _ = draw("predictor_corrector", mixture.score(sde), sde, (2000, 4), generator=torch.Generator().manual_seed(0))
    assert mixture.component_std(x) == pytest.approx(0.30, rel=0.04)


def test_langevin_corrector_repairs_a_coarse_predictor():
    # Ten reverse-diffusion steps on VP leave the component std 16% too wide (measured
    # 0.349); five Langevin steps per time bring it within 2% (measured 0.305). A corrector
    # that did not move the samples toward the marginal would leave the error as it was.
    mixture = four_dimensional_mixture()
    sde = reference_sde("vp")
    errors = {}
    for corrector_steps in (0, 5):
        x, nfe = draw(
            "predictor_corrector", mixture.score(sde), sde, (4000, 4), steps=10, corrector_steps=corrector_steps, generator=torch.Generator().manual_seed(0)
        )
        errors[corrector_steps] = abs(mixture.component_std(x) / 0.30 - 1)
        assert nfe == 10 * (corrector_steps + 1)
    assert errors[0] > 0.1
    assert errors[5] < 0.04


def euler_maruyama_moments(sde, data_mean: float, data_var: float, steps: int) -> tuple[float, float]:
    """Mean and variance of Euler-Maruyama's output for N(data_mean, data_var) data, per coordinate.

    With the exact score -(x - m mu) / V(t) and a linear drift a(t) x, each step
    x += (a x + g^2 (x - m mu) / V) dt + g sqrt(-dt) z is affine in x, with every coefficient
    taken at the step's start t; mean and variance follow exactly. The last step adds no noise.
    """
    times = torch.linspace(sde.T, EPS, steps + 1, dtype=torch.float64)
    mean, var = 0.0, sde.prior_std**2
    for i in range(steps):
        t, dt = times[i : i + 1], (times[i + 1] - times[i]).item()
        drift, diffusion = sde.sde(torch.ones(1, 1, dtype=torch.float64), t)
        m, std = (v.item() for v in sde.marginal_prob(torch.ones(1, dtype=torch.float64), t))
        a, g2, marginal_var = drift.item(), diffusion.item() ** 2, m**2 * data_var + std**2
        gain = 1 + (a + g2 / marginal_var) * dt
        mean = gain * mean - g2 * m * data_mean / marginal_var * dt
        var = gain**2 * var + (-g2 * dt if i < steps - 1 else 0.0)
    return mean, var


@pytest.mark.parametrize("name", SDE_NAMES)
def test_euler_maruyama_takes_each_steps_coefficients_at_its_start(name):
    # 16 coarse steps leave a discretisation error of several % that depends on where the
    # drift, diffusion and score are evaluated; the exact law of the scheme (above) pins it.
    # 80000 values: the standard error of the variance ratio is 0.5%, of the mean 0.4% of the std.
    # Coefficients taken at the step's end instead move the variance by +35% (VP), +3.8%
    # (sub-VP), -18% (tutorial VE) and only -0.1% (VE, where the test cannot tell).
    sde = reference_sde(name)
    data = GaussianData(torch.full((4,), 0.5), torch.full((4,), 0.25))
    x, _ = draw("euler_maruyama", data.score(sde), sde, (20000, 4), steps=16, generator=torch.Generator().manual_seed(0))
    mean, var = euler_maruyama_moments(sde, 0.5, 0.25, 16)
    x = x.double()
    assert abs(x.mean().item() - mean) < 5 * math.sqrt(var / x.numel())
    assert x.var().item() / var == pytest.approx(1, abs=0.025)


@pytest.mark.parametrize("name", SDE_NAMES)
def test_probability_flow_ode_transports_prior_like_exact_flow(name):
    # The exact probability-flow map of Gaussian data is affine; RK45 at rtol = atol = 1e-5
    # in float32 must land within 2e-4 of it (values are O(1); measured <= 2e-5). Mean and
    # spread of the samples follow from the map (up to the prior's mismatch with p_T).
    sde = reference_sde(name)
    data = isotropic_data(8)
    z = sde.prior_sampling((256, 8), generator=torch.Generator().manual_seed(1))
    x, nfe = draw("probability_flow_ode", data.score(sde), sde, z.shape, z=z)
    assert (x.double() - data.flow(sde, z, sde.T, EPS)).abs().max() < 2e-4
    assert 20 <= nfe <= 300 and nfe % 6 == 2


def test_probability_flow_ode_is_deterministic_given_z():
    sde = reference_sde("vp")
    data = isotropic_data(8)
    z = sde.prior_sampling((16, 8), generator=torch.Generator().manual_seed(2))
    first, first_nfe = draw("probability_flow_ode", data.score(sde), sde, z.shape, z=z)
    second, second_nfe = draw("probability_flow_ode", data.score(sde), sde, z.shape, z=z.clone())
    assert torch.equal(first, second) and first_nfe == second_nfe
    drawn, _ = draw("probability_flow_ode", data.score(sde), sde, z.shape, generator=torch.Generator().manual_seed(2))
    assert torch.equal(drawn, first)


@pytest.mark.parametrize("name", SDE_NAMES)
def test_heun_converges_to_exact_flow_at_second_order(name):
    # Heun ends on the noise-free data; its last (Euler) step from sigma(eps) to 0 is first
    # order, so eps is small here. Measured max errors at 18 steps: 0.04 (tutorial VE) .. 0.19
    # (sub-VP); doubling the steps must cut the error about 4x (second order).
    sde = reference_sde(name)
    data = isotropic_data(8)
    errors = []
    for steps in (18, 36):
        generator = torch.Generator().manual_seed(3)
        x, nfe = draw("heun", data.score(sde), sde, (256, 8), steps=steps, eps=1e-5, generator=generator)
        z = sde.prior_sampling((256, 8), generator=torch.Generator().manual_seed(3))
        errors.append((x.double() - data.flow_to_data(sde, z, sde.T)).abs().max().item())
        assert nfe == 2 * steps - 1
    assert errors[0] < 0.25
    assert 0.2 < errors[1] / errors[0] < 0.3


@pytest.mark.parametrize("name", ["ve", "vp", "tutorial_ve"])
def test_heun_leaves_no_noise_of_its_last_level(name):
    # Data of std 1e-3 (below sigma(eps) = 0.01-0.03): a sampler that stopped at eps would
    # leave samples spread by sigma(eps); Heun's last step to sigma = 0 must not.
    sde = reference_sde(name)
    tight = GaussianData(torch.full((4,), 0.5), torch.full((4,), 1e-6))
    x, _ = draw("heun", tight.score(sde), sde, (4096, 4), steps=18, generator=torch.Generator().manual_seed(0))
    assert sde.noise_level(torch.tensor([EPS])).item() > 0.01
    assert x.double().std().item() < 1.5e-3
    assert (x.double().mean() - 0.5).abs() < 1e-3


@pytest.mark.parametrize("steps", [2, 3, 5])
def test_heun_counts_score_evaluations(steps):
    sde = reference_sde("ve")
    calls = []

    def counting_score(x, t):
        calls.append(t)
        return -x / (1 + sde.noise_level(t)[:, None] ** 2)

    _, nfe = draw("heun", counting_score, sde, (4, 3), steps=steps, generator=torch.Generator().manual_seed(0))
    assert nfe == len(calls) == 2 * steps - 1


@pytest.mark.parametrize("name", SDE_NAMES)
def test_karras_schedule_hits_its_noise_levels(name):
    sde = reference_sde(name)
    sigmas, times = karras_schedule(sde, 18, rho=7.0, eps=EPS)
    assert times[0] == sde.T and times[-1] == EPS and (times.diff() < 0).all()
    torch.testing.assert_close(sde.noise_level(times), sigmas, rtol=1e-9, atol=0)
    roots = sigmas ** (1 / 7)
    torch.testing.assert_close(roots.diff(), torch.full((18,), (roots[-1] - roots[0]).item() / 18, dtype=torch.float64))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_take_image_shaped_batches_and_repeat_with_a_seed(sampler):
    sde = reference_sde("vp")

    def unit_gaussian_score(x, t):
        return -x

    options = {"steps": 20} if sampler != "probability_flow_ode" else {}
    runs = [draw(sampler, unit_gaussian_score, sde, (3, 1, 4, 4), generator=torch.Generator().manual_seed(4), **options) for _ in range(2)]
    assert runs[0][0].shape == (3, 1, 4, 4) and torch.isfinite(runs[0][0]).all()
    assert torch.equal(runs[0][0], runs[1][0])


def test_the_samplers_are_the_four():
    assert set(SAMPLERS) == {"euler_maruyama", "predictor_corrector", "probability_flow_ode", "heun"}


def test_unknown_sampler_names_are_refused():
    with pytest.raises(ValueError, match=r"unknown sampler 'ddim'.*euler_maruyama, predictor_corrector, heun, probability_flow_ode"):
        sample("ddim", lambda x, t: -x, reference_sde("vp"), torch.zeros(4, 3), {})


@pytest.mark.parametrize(
    "sampler, options, message",
    [
        ("euler_maruyama", {"steps": 0}, "steps must be an integer >= 1, got 0"),
        ("heun", {"steps": 2.5}, "got 2.5"),
        ("heun", {"steps": 1}, "heun needs steps >= 2"),
        ("euler_maruyama", {"eps": 0.0}, r"eps must lie in \(0, T=1.0\), got 0.0"),
        ("probability_flow_ode", {"eps": 1.0}, "got 1.0"),
        ("predictor_corrector", {"snr": 0.0}, "snr must be > 0, got 0.0"),
        ("predictor_corrector", {"corrector_steps": -1}, "got -1"),
        ("heun", {"rho": 0.0}, "rho must be > 0"),
        ("euler_maruyama", {"resample": 0}, "resample must be an integer >= 1, got 0"),
        ("heun", {"resample": 2}, "resample > 1 needs a stochastic sampler"),
    ],
)
def test_samplers_reject_bad_arguments(sampler, options, message):
    resample = options.pop("resample", 1)
    with pytest.raises(ValueError, match=message):
        sample(sampler, lambda x, t: -x, reference_sde("vp"), torch.zeros(4, 3), settings(sampler, **options), resample=resample)


def test_resampled_schedule_takes_each_step_again_after_jumping_back_up():
    assert resampled([1.0, 0.5, 0.1], 2) == [1.0, 0.5, 1.0, 0.5, 0.1, 0.5, 0.1]
    assert resampled([1.0, 0.5, 0.1], 1) == [1.0, 0.5, 0.1]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_the_callback_sees_every_time_of_the_schedule_and_an_identity_callback_changes_nothing(sampler):
    # VE has m(t) = 1, so Heun's state needs no rescaling around the callback.
    sde = reference_sde("ve")
    data = isotropic_data(3)
    options = {"steps": 4} if sampler != "probability_flow_ode" else {"rtol": 1e-3, "atol": 1e-3}
    seen = []

    def record(t, x):
        seen.append(t)
        return x

    plain, plain_nfe = draw(sampler, data.score(sde), sde, (5, 3), generator=torch.Generator().manual_seed(5), **options)
    generator = torch.Generator().manual_seed(5)
    start = sde.prior_sampling((5, 3), generator=generator)
    x, nfe = sample(sampler, data.score(sde), sde, start, settings(sampler, **options), generator=generator, callback=record)
    assert nfe == plain_nfe and torch.equal(x, plain)
    times = uniform_times(sde, 4, EPS)
    expected = {
        "euler_maruyama": times[1:],
        "predictor_corrector": [t for pair in zip(times[:-1], times[1:]) for t in pair],  # after the corrector, after the predictor
        "heun": heun_schedule(sde, 4, 7.0, EPS).times[1:],
    }
    if sampler == "probability_flow_ode":
        assert seen[-1] == EPS and seen == sorted(seen, reverse=True)
    else:
        assert seen == expected[sampler]


def test_a_callback_can_move_the_state_of_the_ode_and_costs_an_evaluation_when_it_does():
    sde = reference_sde("vp")
    data = isotropic_data(3)

    def hold_first(t, x):
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:]], dim=1)

    start = sde.prior_sampling((8, 3), generator=torch.Generator().manual_seed(6))
    held, held_nfe = probability_flow_ode(data.score(sde), sde, start, sde.T, EPS, rtol=1e-4, atol=1e-4, callback=hold_first)
    plain, plain_nfe = probability_flow_ode(data.score(sde), sde, start, sde.T, EPS, rtol=1e-4, atol=1e-4)
    assert torch.equal(held[:, 0], torch.zeros(8)) and not torch.equal(plain[:, 0], torch.zeros(8))
    assert held_nfe > plain_nfe


def test_heun_callback_sees_the_state_in_the_sdes_units():
    sde = reference_sde("vp")
    scales = []

    def record(t, x):
        scales.append(sde.marginal_prob(torch.ones(1), torch.tensor([t]))[0].item())
        return x

    schedule = heun_schedule(sde, 3, 7.0, EPS)
    x0 = sde.prior_sampling((4, 2), generator=torch.Generator().manual_seed(7))
    plain, _ = heun(lambda x, t: -x, sde, x0, schedule)
    seen, _ = heun(lambda x, t: -x, sde, x0, schedule, callback=record)
    torch.testing.assert_close(seen, plain, rtol=1e-6, atol=1e-6)
    assert scales == pytest.approx(schedule.scales[1:])
