import pytest
import torch

from sgm.core.samplers import SAMPLERS
from sgm.generation.inpainting import inpaint
from sgm.kinds import make_layout
from tests.helpers.gaussian_data import GaussianData
from tests.helpers.reference_settings import draw, reference_sde, settings

pytestmark = pytest.mark.usefixtures("single_thread")

# 32 independent copies of one correlated 3-dim Gaussian; the first coordinate of each is kept.
# Pooling the copies gives 32 draws of the filled pair per sample.
BLOCK = 0.25 * torch.tensor([[1.0, 0.8, 0.5], [0.8, 1.0, 0.8], [0.5, 0.8, 1.0]], dtype=torch.float64)
BLOCK_MEAN = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64)
COPIES = 32
KEPT_VALUE = 0.9


def block_problem():
    data = GaussianData(BLOCK_MEAN.repeat(COPIES), torch.block_diag(*[BLOCK] * COPIES))
    keep = torch.tensor([True, False, False]).repeat(COPIES)
    known = torch.tensor([KEPT_VALUE, 0.0, 0.0]).repeat(COPIES)
    # closed-form conditional of coordinates 1, 2 given coordinate 0 = KEPT_VALUE
    gain = BLOCK[1:, :1] / BLOCK[0, 0]
    mean = BLOCK_MEAN[1:] + gain[:, 0] * (KEPT_VALUE - BLOCK_MEAN[0])
    cov = BLOCK[1:, 1:] - gain @ BLOCK[:1, 1:]
    return data, keep, known, mean, cov


def filled_moments(sampler, sde_name, n=250, resample=1, **options):
    data, keep, known, mean, cov = block_problem()
    sde = reference_sde(sde_name)
    x, nfe = inpaint(data.score(sde), sde, known.expand(n, -1).clone(), keep, sampler, settings(sampler, **options), resample=resample, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x[:, keep], known[keep].expand(n, -1))
    filled = x.reshape(n * COPIES, 3)[:, 1:].double()
    return (filled.mean(0) - mean).abs().max().item(), (torch.cov(filled.T) - cov).abs().max().item(), nfe


@pytest.mark.parametrize("sampler, calls_per_step", [("euler_maruyama", 1), ("predictor_corrector", 2)])
def test_resampled_replacement_matches_the_conditional_gaussian(sampler, calls_per_step):
    # Target: mean (0.46, 0.65), covariance [[0.09, 0.10], [0.10, 0.1875]] (conditional stds 0.3, 0.43).
    # 8000 pooled draws give a mean standard error of 0.005. Measured errors (50 steps x 20
    # resamplings): mean 0.017 / 0.004, covariance 0.010 / 0.005 for EM / PC.
    mean_error, cov_error, nfe = filled_moments(sampler, "ve", steps=50, resample=20)
    assert mean_error < 0.03 and cov_error < 0.02
    assert nfe == 50 * 20 * calls_per_step


@pytest.mark.parametrize("sde_name", ["ve", "vp", "tutorial_ve"])
def test_plain_replacement_is_biased_towards_the_unconditional(sde_name):
    # Why `resample` exists: without it the filled coordinates see only a noisy copy of the kept
    # one and stop part-way (measured mean error 0.24 of the 0.26-0.35 shift, covariance 0.04).
    mean_error, cov_error, _ = filled_moments("euler_maruyama", sde_name, steps=50)
    assert 0.15 < mean_error < 0.35 and cov_error > 0.02


@pytest.mark.parametrize("sampler", ["heun", "probability_flow_ode"])
def test_deterministic_variants_keep_the_known_part_and_reduce_to_their_sampler(sampler):
    data, keep, known, _, _ = block_problem()
    sde = reference_sde("vp")
    known = known.expand(8, -1).clone()
    options = {"steps": 10} if sampler == "heun" else {"rtol": 1e-4, "atol": 1e-4}
    x, _ = inpaint(data.score(sde), sde, known, keep, sampler, settings(sampler, **options), generator=torch.Generator().manual_seed(1))
    again, _ = inpaint(data.score(sde), sde, known, keep, sampler, settings(sampler, **options), generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, again) and torch.equal(x[:, keep], known[:, keep])
    nothing_kept, nfe = inpaint(data.score(sde), sde, known, torch.zeros_like(keep), sampler, settings(sampler, **options), generator=torch.Generator().manual_seed(1))
    plain, plain_nfe = draw(sampler, data.score(sde), sde, known.shape, generator=torch.Generator().manual_seed(1), **options)
    torch.testing.assert_close(nothing_kept, plain, rtol=0, atol=1e-6)
    assert nfe == plain_nfe


def test_waveform_mask_keeps_exactly_the_kept_samples():
    layout = make_layout("waveform2d", 16, 8000, scale=3.0)
    keep = torch.arange(16) < 6
    mask = layout.keep_mask(keep)
    assert mask.shape == (1, 1, 4, 4) and mask.dtype == torch.bool
    assert torch.equal(mask.flatten(), keep)


def test_stft_mask_keeps_frames_whose_window_is_all_kept():
    layout = make_layout("stft", 64, 8000, n_fft=16, hop=8)
    keep = torch.arange(64) < 40
    mask = layout.keep_mask(keep)
    assert mask.shape == (1, *layout.shape)
    left = layout._padding[0]
    frames = mask[0, 0, 0]
    expected = torch.tensor([f * 8 - left + 16 <= 40 for f in range(layout.frames)])
    assert torch.equal(frames, expected) and 0 < frames.sum() < layout.frames
    assert (mask == frames).all()


@pytest.mark.parametrize(
    "sampler, options, message",
    [
        ("ddim", {}, "unknown sampler 'ddim'"),
        ("heun", {"resample": 2}, "resample > 1 needs a stochastic sampler"),
        ("euler_maruyama", {"resample": 0}, "resample must be an integer >= 1"),
    ],
)
def test_inpaint_rejects_bad_settings(sampler, options, message):
    sde = reference_sde("ve")
    with pytest.raises(ValueError, match=message):
        inpaint(lambda x, t: -x, sde, torch.zeros(2, 3), torch.tensor([True, False, False]), sampler, settings(sampler) if sampler in SAMPLERS else {}, **options)


def test_inpaint_rejects_a_mask_of_another_shape():
    with pytest.raises(ValueError, match=r"keep of shape \(4,\) does not broadcast to the clips' shape \(2, 3\)"):
        inpaint(lambda x, t: -x, reference_sde("ve"), torch.zeros(2, 3), torch.ones(4, dtype=torch.bool), "euler_maruyama", settings("euler_maruyama"))
