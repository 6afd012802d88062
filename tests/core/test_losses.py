import math

import pytest
import torch
from torch import nn

from sgm.core.score import score_fn_from_net
from sgm.core.sde import TutorialVESDE, per_example
from sgm.nets.unet2d import UNet2d
from tests.helpers.reference_settings import dsm_loss, reference_sde


class GaussianOptimalNet(nn.Module):
    """std(t) times the exact score of p_t when the data are N(mean, scale^2 I): the DSM optimum."""

    def __init__(self, sde, mean: float, scale: float):
        super().__init__()
        self.sde, self.mean, self.scale = sde, mean, scale

    def forward(self, x, t):
        coeff, std = self.sde.marginal_prob(torch.ones_like(t), t)
        variance = (coeff * self.scale) ** 2 + std**2
        return -per_example(std / variance, x) * (x - per_example(coeff, x) * self.mean)


class ZeroNet(nn.Module):
    def forward(self, x, t):
        return torch.zeros_like(x)


def stripes(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """n images of cosine stripes with random frequency (1-3 cycles), phase and amplitude."""
    freq = torch.randint(1, 4, (n, 1, 1, 1), generator=generator)
    phase = 2 * math.pi * torch.rand(n, 1, 1, 1, generator=generator)
    amplitude = 0.5 + torch.rand(n, 1, 1, 1, generator=generator)
    columns = torch.arange(size).reshape(1, 1, 1, size)
    return (amplitude * torch.cos(2 * math.pi * freq * columns / size + phase)).expand(n, 1, size, size).contiguous()


def expected_optimal_loss(sde, scale: float, dims: int, eps: float, likelihood: bool) -> float:
    """E_t of the per-example loss at the optimum: dims * lambda/std^2 * c^2 s^2 / (c^2 s^2 + std^2)."""
    t = torch.linspace(eps, sde.T, 200001, dtype=torch.float64)
    coeff, std = sde.marginal_prob(torch.ones_like(t), t)
    residual = (coeff * scale) ** 2 / ((coeff * scale) ** 2 + std**2)
    weight = sde.sde(torch.zeros_like(t), t)[1] ** 2 / std**2 if likelihood else 1.0
    return dims * torch.trapezoid(weight * residual, t).item() / (sde.T - eps)


def test_loss_falls_when_training_on_structured_data():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    data = stripes(64, 8, generator)
    net = UNet2d([8, 16, 16], embed_dim=16)
    sde = TutorialVESDE(25.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(300):
        batch = data[torch.randint(0, 64, (32,), generator=generator)]
        loss = dsm_loss(net, sde, batch, generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:50]) / 50, sum(losses[-50:]) / 50
    assert last < 0.5 * first, (first, last)


@pytest.mark.parametrize("sde", [TutorialVESDE(25.0), reference_sde("vp")], ids=["tutorial_ve", "vp"])
@pytest.mark.parametrize("weighting", ["study", "likelihood"])
def test_loss_at_the_gaussian_optimum_matches_closed_form(sde, weighting):
    mean, scale, eps = 0.5, 0.3, 1e-2
    generator = torch.Generator().manual_seed(0)
    x = mean + scale * torch.randn(40000, 1, 4, 4, generator=generator, dtype=torch.float64)
    loss = dsm_loss(GaussianOptimalNet(sde, mean, scale), sde, x, eps=eps, weighting=weighting, generator=generator)
    expected = expected_optimal_loss(sde, scale, 16, eps, likelihood=weighting == "likelihood")
    assert loss.item() == pytest.approx(expected, rel=0.04)


def test_optimal_score_beats_the_zero_net():
    sde = TutorialVESDE(25.0)
    x = 0.5 + 0.3 * torch.randn(4000, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    optimal = dsm_loss(GaussianOptimalNet(sde, 0.5, 0.3), sde, x, generator=torch.Generator().manual_seed(2))
    zero = dsm_loss(ZeroNet(), sde, x, generator=torch.Generator().manual_seed(2))
    assert zero.item() == pytest.approx(16, rel=0.03)  # E ||z||^2 over 16 dimensions
    assert optimal.item() < 0.2 * zero.item()


def test_likelihood_weighting_is_finite_with_a_real_net():
    torch.manual_seed(0)
    net = UNet2d([8, 16], embed_dim=16)
    loss = dsm_loss(net, reference_sde("vp"), torch.randn(4, 1, 8, 8), weighting="likelihood")
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_same_generator_seed_gives_same_loss():
    torch.manual_seed(0)
    net, sde, x = UNet2d([8, 16], embed_dim=16), reference_sde("tutorial_ve"), torch.randn(4, 1, 8, 8)
    a, b, c = (dsm_loss(net, sde, x, generator=torch.Generator().manual_seed(s)) for s in (3, 3, 4))
    assert a.item() == b.item() != c.item()


def test_score_is_net_output_over_std():
    torch.manual_seed(0)
    net, sde = UNet2d([8, 16], embed_dim=16, num_classes=2), reference_sde("tutorial_ve")
    x, t, labels = torch.randn(3, 1, 8, 8), torch.tensor([0.01, 0.5, 1.0]), torch.tensor([[0], [1], [1]])
    score = score_fn_from_net(net, sde, labels)(x, t)
    assert score.shape == x.shape
    std = torch.sqrt((25 ** (2 * t) - 1) / (2 * math.log(25)))
    torch.testing.assert_close(score, net(x, t, labels) / std[:, None, None, None])


def test_bad_weighting_and_eps_are_rejected():
    net, sde, x = ZeroNet(), reference_sde("tutorial_ve"), torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="'uniform'; accepted: study, likelihood, edm"):
        dsm_loss(net, sde, x, weighting="uniform")
    with pytest.raises(ValueError, match=r"\(0, T=1.0\), got 0"):
        dsm_loss(net, sde, x, eps=0)
