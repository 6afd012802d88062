import math

import pytest
import torch
from scipy.integrate import solve_ivp

from sgm.core.ode import solve_rk45

ROTATION = torch.tensor([[-0.5, 2.0], [-2.0, -0.3]], dtype=torch.float64)


def damped_rotation(t: float, y: torch.Tensor) -> torch.Tensor:
    """A batch of 2-D linear systems whose speed grows with time."""
    return (y @ ROTATION.T) * (1 + t)


@pytest.mark.parametrize("t0, t1", [(0.0, 3.0), (3.0, 0.1)])
def test_takes_the_same_steps_as_scipy_rk45(t0, t1):
    y0 = torch.tensor([[1.0, 0.5], [0.2, -1.0], [3.0, 0.0]], dtype=torch.float64)
    y, nfe = solve_rk45(damped_rotation, y0, t0, t1, rtol=1e-6, atol=1e-8)

    def flat(t, v):
        return damped_rotation(t, torch.from_numpy(v).reshape(y0.shape)).numpy().ravel()

    reference = solve_ivp(flat, (t0, t1), y0.numpy().ravel(), method="RK45", rtol=1e-6, atol=1e-8)
    assert nfe == reference.nfev
    torch.testing.assert_close(y.flatten(), torch.from_numpy(reference.y[:, -1]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("rtol", [1e-3, 1e-6])
def test_meets_its_tolerance_on_an_analytic_solution(rtol):
    # dy/dt = -t y, y(t) = y0 exp(-(t^2 - t0^2) / 2), integrated backwards like a sampler.
    y0 = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]
    y, nfe = solve_rk45(lambda t, y: -t * y, y0, 2.0, 0.0, rtol=rtol, atol=rtol)
    exact = y0 * math.exp(2.0)
    assert (y - exact).abs().max() < rtol * exact.abs().max()  # measured 0.05 rtol
    assert nfe % 6 == 2  # one evaluation to start, one to pick the first step, six per attempt


def test_zero_interval_returns_the_start_without_evaluations():
    y0 = torch.ones(2, 3)
    y, nfe = solve_rk45(lambda t, y: y, y0, 0.5, 0.5, rtol=1e-5, atol=1e-5)
    assert torch.equal(y, y0) and nfe == 0


def test_rejects_bad_tolerances():
    with pytest.raises(ValueError, match="rtol=0"):
        solve_rk45(lambda t, y: y, torch.ones(1, 1), 0.0, 1.0, rtol=0.0, atol=1e-5)
    with pytest.raises(ValueError, match="atol=-1"):
        solve_rk45(lambda t, y: y, torch.ones(1, 1), 0.0, 1.0, rtol=1e-5, atol=-1.0)


def test_fails_loudly_when_the_step_collapses():
    def blows_up_at_half(t, y):
        return y / (t - 0.5) ** 2

    with pytest.raises(RuntimeError, match="step size fell below"):
        solve_rk45(blows_up_at_half, torch.ones(1, 1, dtype=torch.float64), 0.0, 1.0, rtol=1e-5, atol=1e-5)
