import pytest
import torch

from sgm.generation.variation import vary
from tests.helpers.gaussian_data import GaussianData
from tests.helpers.reference_settings import reference_sde, settings

pytestmark = pytest.mark.usefixtures("single_thread")

DIMS = 16
DATA_STD = 0.5


def gaussian():
    return GaussianData(torch.zeros(DIMS), torch.full((DIMS,), DATA_STD**2))


@pytest.mark.parametrize("sampler, options", [("euler_maruyama", {"steps": 50}), ("heun", {"steps": 10}), ("probability_flow_ode", {})])
def test_small_strength_returns_nearly_the_input(sampler, options):
    # VE: at t0 = 0.1 the kernel's std is 0.01 * 5000^0.1 = 0.023, 5% of the data's std; denoising
    # pulls the clip slightly towards the data mean. Measured RMS change 0.02-0.03.
    sde = reference_sde("ve")
    clip = torch.randn(64, DIMS, generator=torch.Generator().manual_seed(0)) * DATA_STD
    x, nfe = vary(gaussian().score(sde), sde, clip, 0.1, sampler, settings(sampler, **options), generator=torch.Generator().manual_seed(1))
    change = (x - clip).pow(2).mean().sqrt().item()
    assert change < 0.05 and nfe > 0
    far, _ = vary(gaussian().score(sde), sde, clip, 0.6, sampler, settings(sampler, **options), generator=torch.Generator().manual_seed(1))
    assert (far - clip).pow(2).mean().sqrt().item() > 5 * change


def test_full_strength_forgets_the_input():
    # VP at T keeps e^-5 = 0.7% of the clip: two opposite clips (+-2 everywhere) give samples of
    # the data distribution N(0, 0.25) with the same mean and spread (standard error 0.004).
    sde = reference_sde("vp")
    outputs = []
    for level in (2.0, -2.0):
        clip = torch.full((512, DIMS), level)
        x, _ = vary(gaussian().score(sde), sde, clip, 1.0, "euler_maruyama", settings("euler_maruyama", steps=200), generator=torch.Generator().manual_seed(2))
        outputs.append(x)
        assert abs(x.mean().item()) < 0.03
        assert abs(x.std().item() - DATA_STD) < 0.02
    assert abs(outputs[0].mean().item() - outputs[1].mean().item()) < 0.03


@pytest.mark.parametrize("strength", [0.0, 5e-4, 1.5])
def test_strength_outside_its_range_is_refused(strength):
    with pytest.raises(ValueError, match=r"strength must lie in \(0.001, 1\]"):
        vary(lambda x, t: -x, reference_sde("ve"), torch.zeros(2, 4), strength, "euler_maruyama", settings("euler_maruyama"))
