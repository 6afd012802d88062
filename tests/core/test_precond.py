"""EDM preconditioning inside every SDE, checked where the answer is closed-form.

A zero net makes EDMPrecond's denoiser c_skip * y, which is the exact denoiser of Gaussian data of
std sigma_data: so its score must be the exact score of N(0, sigma_data^2 I) through any SDE,
samplers must return that Gaussian, and the EDM loss must be one per dimension at every noise level.
"""

import functools

import pytest
import torch

from sgm.checkpoints.model import build_model
from sgm.core.likelihood import log_likelihood
from sgm.core.precond import EDMPrecond
from sgm.core.score import label_guidance_for, score_fn_from_net
from sgm.core.sde import VESDE, max_pairwise_distance
from tests.helpers.gaussian_data import GaussianData
from tests.helpers.reference_settings import draw, dsm_loss, reference_sde

SIGMA_DATA = 0.5


class ZeroNet(torch.nn.Module):
    def forward(self, x, t, class_labels=None):
        return torch.zeros_like(x)


SDES = {"ve": VESDE(0.002, 80.0), "vp": reference_sde("vp"), "subvp": reference_sde("subvp")}


@pytest.mark.parametrize("name", SDES)
def test_zero_net_gives_the_exact_score_of_gaussian_data(name):
    sde, dims = SDES[name], 6
    model = EDMPrecond(ZeroNet(), sde, SIGMA_DATA)
    exact = GaussianData(torch.zeros(dims), torch.full((dims,), SIGMA_DATA**2)).score(sde)
    x, t = torch.randn(5, dims, dtype=torch.float64) * 3, torch.tensor([0.01, 0.1, 0.3, 0.7, 1.0], dtype=torch.float64)
    torch.testing.assert_close(score_fn_from_net(model, sde)(x, t), exact(x, t))


@pytest.mark.parametrize("name", SDES)
def test_heun_with_the_preconditioned_zero_net_draws_the_data_gaussian(name):
    sde = SDES[name]
    model = EDMPrecond(ZeroNet(), sde, SIGMA_DATA)
    x, _ = draw("heun", score_fn_from_net(model, sde), sde, (4000, 4), steps=30, eps=1e-4, generator=torch.Generator().manual_seed(0))
    assert abs(x.std().item() - SIGMA_DATA) < 0.02
    assert x.mean().abs().item() < 0.02


def test_edm_loss_of_the_exact_denoiser_is_one_per_dimension():
    sde, dims = VESDE(0.002, 80.0), 16
    model = EDMPrecond(ZeroNet(), sde, SIGMA_DATA)
    generator = torch.Generator().manual_seed(0)
    data = torch.randn(4096, dims, generator=generator) * SIGMA_DATA
    loss = dsm_loss(model, sde, data, weighting="edm", generator=generator)
    assert abs(loss.item() / dims - 1) < 0.03
    study = dsm_loss(model, sde, data, weighting="study", generator=generator)
    assert abs(study.item() / dims - 1) > 0.1  # without the EDM weighting the same denoiser scores differently


def test_edm_loss_draws_lognormal_noise_levels_clamped_to_the_sde():
    sde = VESDE(0.01, 10.0)
    seen = []

    class Recorder(ZeroNet):
        def forward(self, x, t, class_labels=None):
            seen.append(t)  # EDMPrecond passes c_noise = ln(sigma) / 4
            return super().forward(x, t)

    model = EDMPrecond(Recorder(), sde, SIGMA_DATA)
    dsm_loss(model, sde, torch.zeros(20000, 2), weighting="edm", generator=torch.Generator().manual_seed(0))
    log_sigma = 4 * seen[0]
    inside = (log_sigma > torch.log(torch.tensor(0.02))) & (log_sigma < torch.log(torch.tensor(5.0)))
    assert abs(log_sigma[inside].median().item() - -1.2) < 0.05
    assert log_sigma.min().item() >= torch.log(torch.tensor(0.01)).item() - 1e-4  # clamped to sigma_min..sigma_max
    assert log_sigma.max().item() <= torch.log(torch.tensor(10.0)).item() + 1e-4


def test_edm_loss_refuses_a_net_without_preconditioning():
    with pytest.raises(ValueError, match="needs an EDMPrecond net"):
        dsm_loss(ZeroNet(), reference_sde("ve"), torch.zeros(2, 4), weighting="edm")


def test_guidance_mixes_conditional_and_unconditional_scores():
    torch.manual_seed(0)
    config = {"net": "unet1d", "channels": [4, 8], "embed_dim": 8, "sde": {"name": "ve", "sigma_min": 0.01, "sigma_max": 10.0},
              "conditioning": {"pitch": [60, 62]}, "precond": {"name": "edm", "sigma_data": 0.5}}
    net, sde = build_model(config)
    x, t, labels = torch.randn(3, 1, 16), torch.tensor([0.2, 0.5, 0.9]), torch.tensor([[0], [1], [0]])
    conditional = score_fn_from_net(net, sde, labels)(x, t)
    free = score_fn_from_net(net, sde, torch.tensor([[2], [2], [2]]))(x, t)
    guided = score_fn_from_net(net, sde, labels, guidance=2.0)(x, t)
    torch.testing.assert_close(guided, 3 * conditional - 2 * free, rtol=1e-4, atol=1e-5)
    assert (conditional - free).abs().max() > 1e-4
    with pytest.raises(ValueError, match="guidance needs class_labels"):
        score_fn_from_net(net, sde, None, guidance=1.0)


def test_guidance_interval_guides_only_the_noise_levels_inside_it():
    torch.manual_seed(0)
    config = {"net": "unet1d", "channels": [4, 8], "embed_dim": 8, "sde": {"name": "ve", "sigma_min": 0.01, "sigma_max": 10.0},
              "conditioning": {"pitch": [60, 62]}, "precond": {"name": "edm", "sigma_data": 0.5}}
    net, sde = build_model(config)
    x, labels = torch.randn(3, 1, 16), torch.tensor([[0], [1], [0]])
    t = sde.time_at_noise_level(torch.tensor([0.05, 0.5, 5.0]))  # below, inside and above [0.1, 1]
    conditional = score_fn_from_net(net, sde, labels)(x, t)
    guided = score_fn_from_net(net, sde, labels, guidance=2.0)(x, t)
    interval = score_fn_from_net(net, sde, labels, guidance=2.0, guidance_interval=(0.1, 1.0))(x, t)
    torch.testing.assert_close(interval[[0, 2]], conditional[[0, 2]])
    torch.testing.assert_close(interval[1], guided[1])
    assert (guided - conditional)[[0, 2]].abs().max() > 1e-4  # the interval made a difference there
    batches = []
    net.register_forward_hook(lambda module, args, output: batches.append(len(args[0])))
    for inside, level in ((True, 0.5), (False, 5.0)):  # a whole batch on one side: the same scores, one net pass
        one = sde.time_at_noise_level(torch.full((3,), level))
        expected = score_fn_from_net(net, sde, labels, guidance=2.0 if inside else 0.0)(x, one)
        batches.clear()
        torch.testing.assert_close(score_fn_from_net(net, sde, labels, guidance=2.0, guidance_interval=(0.1, 1.0))(x, one), expected)
        assert batches == ([6] if inside else [3])  # the unconditional half only where guided
    with pytest.raises(ValueError, match=r"0 <= low < high, got \(1.0, 0.1\)"):
        score_fn_from_net(net, sde, labels, guidance=2.0, guidance_interval=(1.0, 0.1))


def test_label_guidance_guides_towards_one_kind_with_the_others_held():
    torch.manual_seed(0)
    config = {"net": "unet1d", "channels": [4, 8], "embed_dim": 8, "sde": {"name": "ve", "sigma_min": 0.01, "sigma_max": 10.0},
              "conditioning": {"pitch": [60, 62], "instrument": ["flute", "piano", "violin"]}, "precond": {"name": "edm", "sigma_data": 0.5}}
    net, sde = build_model(config)
    x, labels = torch.randn(3, 1, 16), torch.tensor([[0, 1], [1, 2], [0, 0]])
    t = sde.time_at_noise_level(torch.tensor([0.05, 0.5, 5.0]))
    conditional = score_fn_from_net(net, sde, labels)(x, t)
    pitch_only = score_fn_from_net(net, sde, torch.tensor([[0, 3], [1, 3], [0, 3]]))(x, t)  # 3: "no instrument"
    free = score_fn_from_net(net, sde, torch.tensor([[2, 3]] * 3))(x, t)
    (instrument,) = label_guidance_for(config["conditioning"], {"instrument": (1.5, None)})
    assert instrument.column == 1
    # each path batches the net's passes its own way, so float32 rounding differs (1e-5 relative on AMX);
    # the guidance terms compared are 1e-2 to 3 here, far above this tolerance
    assert_near = functools.partial(torch.testing.assert_close, rtol=1e-4, atol=1e-5)
    alone = score_fn_from_net(net, sde, labels, label_guidance=[instrument])(x, t)
    assert_near(alone, 2.5 * conditional - 1.5 * pitch_only)
    assert (conditional - pitch_only).abs().max() > 1e-4
    both = score_fn_from_net(net, sde, labels, guidance=2.0, label_guidance=[instrument])(x, t)
    assert_near(both, 4.5 * conditional - 2.0 * free - 1.5 * pitch_only)
    (inside,) = label_guidance_for(config["conditioning"], {"instrument": (1.5, (0.1, 1.0))})  # its own interval
    interval = score_fn_from_net(net, sde, labels, guidance=2.0, guidance_interval=(0.01, 0.1), label_guidance=[inside])(x, t)
    assert_near(interval[0], score_fn_from_net(net, sde, labels, guidance=2.0)(x, t)[0])
    assert_near(interval[1], alone[1])
    assert_near(interval[2], conditional[2])
    with pytest.raises(ValueError, match=r"label guidance on \['velocity'\]: the model is conditioned on pitch, instrument"):
        label_guidance_for(config["conditioning"], {"velocity": (1.0, None)})
    with pytest.raises(ValueError, match="guidance must be >= 0, got -1.0"):
        label_guidance_for(config["conditioning"], {"instrument": (-1.0, None)})


def test_old_unconditional_configs_build_the_same_net_as_before():
    old = {"net": "unet2d", "channels": [8, 16], "embed_dim": 16, "in_channels": 1, "num_classes": 0, "sde": {"name": "tutorial_ve", "sigma": 25.0}}
    net, _ = build_model(old)
    assert not isinstance(net, EDMPrecond) and net.embed.num_classes == []
    assert not any(key.startswith("embed.classes") for key in net.state_dict())


def test_max_pairwise_distance_is_the_largest_distance():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0], [-3.0, -4.0]]).reshape(4, 1, 2)
    assert max_pairwise_distance(x, chunk=3) == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize("name", SDES)
def test_likelihood_through_the_preconditioned_zero_net_is_the_gaussian_density(name, single_thread):
    sde, dims, eps = SDES[name], 4, 1e-4
    data = GaussianData(torch.zeros(dims, dtype=torch.float64), torch.full((dims,), SIGMA_DATA**2, dtype=torch.float64))
    x = torch.randn(8, dims, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * SIGMA_DATA
    model = EDMPrecond(ZeroNet(), sde, SIGMA_DATA)
    logp, _ = log_likelihood(score_fn_from_net(model, sde), sde, x, rtol=1e-5, atol=1e-5, eps=eps, generator=torch.Generator().manual_seed(1))
    exact, _ = log_likelihood(data.score(sde), sde, x, rtol=1e-5, atol=1e-5, eps=eps, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logp, exact, rtol=0, atol=1e-4)
    assert (logp - data.log_density(sde, x, eps)).abs().max() < 0.1  # and near the true density (up to the prior mismatch)
