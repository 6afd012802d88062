"""Probability-flow ODE sampling: our torch RK45 against scipy's solve_ivp(RK45).

Same problem for both: Gaussian data N(mu, s^2 I), its exact perturbed score, the same
prior draw z, rtol = atol = 1e-5. Prints NFE, seconds and the largest difference of the
samples, per SDE (with score_sde's parameters). Run: python -m benchmarks.ode_vs_scipy
"""

import time

import torch
from scipy.integrate import solve_ivp

from sgm.core.samplers import probability_flow_drift, probability_flow_ode
from sgm.core.sde import make_sde

BATCH, DIMS, DATA_STD, TOL, EPS = 64, 8, 0.5, 1e-5, 1e-3
SDE_PARAMETERS = {  # score_sde_pytorch's (the tutorial's sigma 25 for tutorial_ve), as tests/helpers/reference_settings.py
    "ve": {"sigma_min": 0.01, "sigma_max": 50.0},
    "vp": {"beta_min": 0.1, "beta_max": 20.0},
    "subvp": {"beta_min": 0.1, "beta_max": 20.0},
    "tutorial_ve": {"sigma": 25.0},
}


def gaussian_score(sde, mean):
    def score(x, t):
        m, std = sde.marginal_prob(torch.ones_like(t), t)
        variance = m**2 * DATA_STD**2 + std**2
        return -(x - m[:, None] * mean) / variance[:, None]

    return score


def scipy_probability_flow(score, sde, z):
    def velocity(t, flat):
        x = torch.from_numpy(flat).reshape(z.shape)
        return probability_flow_drift(score, sde, x, t).numpy().ravel()

    solution = solve_ivp(velocity, (sde.T, EPS), z.numpy().ravel(), method="RK45", rtol=TOL, atol=TOL)
    return torch.from_numpy(solution.y[:, -1]).reshape(z.shape), solution.nfev


def main():
    print(f"{'sde':12s} {'dtype':8s} {'torch nfe':>9s} {'scipy nfe':>9s} {'torch s':>8s} {'scipy s':>8s} {'max |dx|':>9s}")
    for name, parameters in SDE_PARAMETERS.items():
        for dtype in (torch.float64, torch.float32):
            sde = make_sde(name, **parameters)
            mean = torch.linspace(-1, 1, DIMS, dtype=dtype)
            score = gaussian_score(sde, mean)
            z = sde.prior_sampling((BATCH, DIMS), generator=torch.Generator().manual_seed(0)).to(dtype)
            start = time.perf_counter()
            ours, our_nfe = probability_flow_ode(score, sde, z, sde.T, EPS, rtol=TOL, atol=TOL)
            our_seconds = time.perf_counter() - start
            start = time.perf_counter()
            theirs, their_nfe = scipy_probability_flow(score, sde, z.double())
            their_seconds = time.perf_counter() - start
            gap = (ours.double() - theirs).abs().max().item()
            print(f"{name:12s} {str(dtype)[6:]:8s} {our_nfe:9d} {their_nfe:9d} {our_seconds:8.3f} {their_seconds:8.3f} {gap:9.2e}")


if __name__ == "__main__":
    main()
