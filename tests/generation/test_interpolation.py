import math

import pytest
import torch

from sgm.generation.interpolation import decode, encode, interpolate, slerp
from tests.helpers.gaussian_data import GaussianData
from tests.helpers.reference_settings import reference_sde

pytestmark = pytest.mark.usefixtures("single_thread")

EPS = 1e-3


def gaussian(dims=8):
    return GaussianData(torch.linspace(-0.5, 0.5, dims), torch.linspace(0.05, 0.3, dims))


@pytest.mark.parametrize("name", ["ve", "vp", "tutorial_ve"])
def test_encode_follows_the_exact_flow_and_decode_inverts_it(name):
    # RK45 at rtol = atol = 1e-5: latents within 4e-3 of the exact map (measured 1.7e-3 for VE,
    # whose latents are ~50 in size, 4e-5 .. 3e-4 otherwise), clips back within 1e-3 (measured 1e-5 .. 5e-5).
    sde = reference_sde(name)
    data = gaussian()
    x = data.mean.float() + torch.randn(16, 8, generator=torch.Generator().manual_seed(0)) * data.eigenvalues.sqrt().float()
    z, encode_nfe = encode(data.score(sde), sde, x, rtol=1e-5, atol=1e-5, eps=EPS)
    assert (z.double() - data.flow(sde, x, EPS, sde.T)).abs().max() < 4e-3
    back, decode_nfe = decode(data.score(sde), sde, z, rtol=1e-5, atol=1e-5, eps=EPS)
    assert (back - x).abs().max() < 1e-3
    assert encode_nfe > 0 and decode_nfe > 0


def test_interpolate_returns_the_ends_and_points_between():
    sde = reference_sde("vp")
    data = gaussian()
    first, second = torch.full((8,), -0.6), torch.full((8,), 0.7)
    clips, nfe = interpolate(data.score(sde), sde, first, second, 3, rtol=1e-5, atol=1e-5, eps=EPS)
    assert clips.shape == (5, 8) and nfe > 0
    assert (clips[0] - first).abs().max() < 1e-3 and (clips[-1] - second).abs().max() < 1e-3
    mean_levels = clips.mean(dim=1)
    assert (mean_levels.diff() > 0).all()  # the path moves monotonically from one end to the other


def test_slerp_keeps_ends_and_interpolates_norm_and_angle():
    a, b = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 4.0]])
    path = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(path[0], a) and torch.allclose(path[2], b, atol=1e-6)
    middle = path[1, 0]
    assert math.isclose(middle.norm().item(), 3.0, rel_tol=1e-6)
    assert math.isclose(torch.atan2(middle[1], middle[0]).item(), math.pi / 4, rel_tol=1e-6)
    parallel = slerp(a, 2 * a, torch.tensor([0.5]))
    assert torch.allclose(parallel[0], 1.5 * a)


def test_bad_interpolation_arguments_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        slerp(torch.zeros(2), torch.zeros(3), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="between must be an integer >= 0, got -1"):
        interpolate(lambda x, t: -x, reference_sde("vp"), torch.zeros(4), torch.ones(4), -1, rtol=1e-5, atol=1e-5, eps=1e-3)
