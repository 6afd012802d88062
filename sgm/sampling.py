"""Reverse-time samplers for score SDEs (Song et al. 2021; Karras et al. 2022).

Every sampler is a plain function `(score_fn, sde, shape, ..., generator, device)`
returning `(samples, nfe)`: it draws x(T) from the prior, walks back to t = eps and
counts score evaluations. `score_fn(x, t)` takes t of shape (batch,). Samplers only
use the SDE's public methods, so any SDE works with any sampler. Without `device`,
samples live on the generator's device (CPU when there is no generator).
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch

from sgm.ode import solve_rk45
from sgm.progress import progress_bar
from sgm.sde import SDE, per_example


def _check_eps(sde: SDE, eps: float) -> None:
    if not 0 < eps < sde.T:
        raise ValueError(f"eps must lie in (0, T={sde.T}), got {eps}")


def _check_schedule(sde: SDE, steps: int, eps: float) -> None:
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    _check_eps(sde, eps)


def _uniform_times(sde: SDE, steps: int, eps: float) -> list[float]:
    """steps + 1 equally spaced times from T down to eps."""
    _check_schedule(sde, steps, eps)
    return torch.linspace(sde.T, eps, steps + 1, dtype=torch.float64).tolist()


def _noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _time_vector(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), t, device=x.device, dtype=x.dtype)


def probability_flow_drift(score_fn, sde: SDE, x: torch.Tensor, t: float) -> torch.Tensor:
    """Velocity f(x, t) - g(t)^2 score(x, t) / 2 of the probability-flow ODE at time t."""
    vec_t = _time_vector(t, x)
    drift, diffusion = sde.sde(x, vec_t)
    return drift - 0.5 * per_example(diffusion**2, x) * score_fn(x, vec_t)


@torch.no_grad()
def euler_maruyama(score_fn, sde: SDE, shape, steps=500, eps=1e-3, progress=False, generator=None, device=None):
    """Euler-Maruyama on the reverse SDE dx = [f - g^2 score] dt + g dw from T to eps.

    Returns the noise-free mean of the last step, as Song et al.'s code does.
    """
    x = sde.prior_sampling(shape, generator=generator, device=device)
    for t, t_next in progress_bar(list(pairwise(_uniform_times(sde, steps, eps))), disable=not progress, desc="EM"):
        dt = t_next - t
        vec_t = _time_vector(t, x)
        drift, diffusion = sde.sde(x, vec_t)
        g = per_example(diffusion, x)
        mean = x + (drift - g**2 * score_fn(x, vec_t)) * dt
        x = mean + g * math.sqrt(-dt) * _noise(x, generator)
    return mean, steps


def _kernel_steps(sde: SDE, times: list[float], like: torch.Tensor):
    """Forward one-step transitions x(t_i) = a_i x(t_{i+1}) + sqrt(v_i) z implied by the kernels.

    For each pair of grid times (t_i > t_{i+1}) it returns the signal retention
    a_i = m(t_i) / m(t_{i+1}) and the noise variance v_i = std(t_i)^2 - a_i^2 std(t_{i+1})^2.
    For the VE SDE this gives Song et al.'s sigma_i^2 - sigma_{i-1}^2, for the VP SDE
    a_i^2 = 1 - beta_i and v_i = beta_i of the DDPM discretisation.
    """
    grid = torch.tensor(times, dtype=torch.float64, device=like.device)
    mean, std = sde.marginal_prob(torch.ones_like(grid), grid)
    retention = mean[:-1] / mean[1:]
    variance = std[:-1] ** 2 - retention**2 * std[1:] ** 2
    return retention.to(like.dtype), variance.to(like.dtype)


def _langevin_steps(sde: SDE, times: list[float], retention: torch.Tensor, snr: float) -> torch.Tensor:
    """Corrector step sizes 2 a_i^2 (snr std(t_i))^2 at the grid times but the last."""
    grid = torch.tensor(times[:-1], dtype=torch.float64, device=retention.device)
    _, std = sde.marginal_prob(torch.ones_like(grid), grid)
    return (2 * (snr * std) ** 2).to(retention.dtype) * retention**2


@torch.no_grad()
def predictor_corrector(
    score_fn, sde: SDE, shape, steps=500, snr=0.16, corrector_steps=1, eps=1e-3, progress=False, generator=None, device=None
):
    """Predictor-corrector sampling (Song et al., Algorithms 2-5), corrector first at each time.

    Corrector: Langevin steps x += e grad + sqrt(2 e) z with the step
    e_i = 2 alpha_i (snr std(t_i))^2, where std is the perturbation kernel's std and
    alpha_i = a_i^2 the squared signal retention of the discretised forward step (1 for
    VE-type SDEs, 1 - beta_i for VP). Song et al.'s step 2 alpha (snr ||z|| / ||grad||)^2
    estimates the same quantity from the current state, ||z||^2 / ||grad||^2 ~ std^2 in
    high dimensions; in few dimensions that ratio is heavy-tailed and the samples come out
    far too wide. With a state-free step, one Langevin step on a Gaussian marginal of
    variance v >= std^2 leaves it stationary at v / (1 - e / 2v), at most 1 / (1 - alpha snr^2):
    a bias set by the snr alone, in any dimension.
    Predictor: reverse diffusion x = (2 - a_i) x + v_i score + sqrt(v_i) z on the same
    discretisation. Returns the noise-free mean of the last predictor step.
    """
    if not snr > 0:
        raise ValueError(f"snr must be > 0, got {snr}")
    if not (isinstance(corrector_steps, int) and corrector_steps >= 0):
        raise ValueError(f"corrector_steps must be an integer >= 0, got {corrector_steps!r}")
    x = sde.prior_sampling(shape, generator=generator, device=device)
    times = _uniform_times(sde, steps, eps)
    retention, variance = _kernel_steps(sde, times, x)
    langevin_steps = _langevin_steps(sde, times, retention, snr)
    for i, t in enumerate(progress_bar(times[:-1], disable=not progress, desc="PC")):
        vec_t = _time_vector(t, x)
        for _ in range(corrector_steps):
            step = langevin_steps[i]
            x = x + step * score_fn(x, vec_t) + torch.sqrt(2 * step) * _noise(x, generator)
        mean = (2 - retention[i]) * x + variance[i] * score_fn(x, vec_t)
        x = mean + torch.sqrt(variance[i]) * _noise(x, generator)
    return mean, steps * (corrector_steps + 1)


@torch.no_grad()
def probability_flow_ode(
    score_fn, sde: SDE, shape, rtol=1e-5, atol=1e-5, eps=1e-3, z=None, progress=False, generator=None, device=None
):
    """Integrate the probability-flow ODE from z ~ prior at T to eps with adaptive RK45.

    Deterministic given z; z is drawn from the prior with `generator` when not given.
    """
    _check_eps(sde, eps)
    if z is None:
        z = sde.prior_sampling(shape, generator=generator, device=device)
    elif tuple(z.shape) != tuple(shape):
        raise ValueError(f"z has shape {tuple(z.shape)}, expected {tuple(shape)}")

    def velocity(t: float, x: torch.Tensor) -> torch.Tensor:
        return probability_flow_drift(score_fn, sde, x, t)

    return solve_rk45(velocity, z, sde.T, eps, rtol=rtol, atol=atol, progress=progress)


def karras_schedule(sde: SDE, steps: int, rho: float = 7.0, eps: float = 1e-3, device=None):
    """Karras et al.'s rho-schedule of noise levels from T to eps and the times that reach them.

    sigma_i = (sigma_max^(1/rho) + i/steps (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, i = 0..steps,
    with sigma = sde.noise_level; times invert the (increasing) noise level by bisection.
    Returns (sigmas, times), float64 tensors of length steps + 1.
    """
    _check_schedule(sde, steps, eps)
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho}")
    ends = torch.tensor([sde.T, eps], dtype=torch.float64, device=device)
    root_max, root_min = sde.noise_level(ends) ** (1 / rho)
    ramp = torch.linspace(0, 1, steps + 1, dtype=torch.float64, device=device)
    sigmas = (root_max + ramp * (root_min - root_max)) ** rho
    times = sde.time_at_noise_level(sigmas, eps)
    times[0], times[-1] = sde.T, eps
    return sigmas, times


HEUN_MIN_STEPS = 2  # Heun's noise levels run from sigma(T) to sigma(eps): at least those two


def heun_schedule(sde: SDE, steps: int, rho: float, eps: float, device=None) -> tuple[list[float], list[float], list[float]]:
    """Heun's grid: `steps` noise levels of karras_schedule from sigma(T) to sigma(eps), then 0.

    Returns lists (sigmas, times, scales m(t)); sigmas has one more entry (the final 0) than the others.
    """
    if not (isinstance(steps, int) and steps >= HEUN_MIN_STEPS):
        raise ValueError(f"heun needs steps >= {HEUN_MIN_STEPS} (noise levels from sigma(T) to sigma(eps)), got {steps!r}")
    sigmas, times = karras_schedule(sde, steps - 1, rho, eps, device=device)
    scales = sde.marginal_prob(torch.ones_like(times), times)[0]
    return sigmas.tolist() + [0.0], times.tolist(), scales.tolist()


@torch.no_grad()
def heun(score_fn, sde: SDE, shape, steps=18, rho=7.0, eps=1e-3, progress=False, generator=None, device=None):
    """Karras et al.'s deterministic Heun sampler (EDM Algorithm 1) on the probability-flow ODE.

    With x = m(t) y and sigma = noise_level(t), the probability-flow ODE of any SDE with
    affine drift reads dy/dsigma = -sigma m(t) score(m(t) y, t), which is nearly linear in
    sigma; Heun steps it over `steps` noise levels, the rho-schedule of karras_schedule from
    sigma(T) to sigma(eps), and a last plain Euler step from sigma(eps) to 0 (where m = 1).
    That step is Tweedie's denoiser E[x(0) | x(eps)], so no noise of std sigma(eps) is left in
    the sample, and nfe = 2 * steps - 1.
    """
    x = sde.prior_sampling(shape, generator=generator, device=device)
    sigmas, times, scales = heun_schedule(sde, steps, rho, eps, device=x.device)

    def slope(y: torch.Tensor, i: int) -> torch.Tensor:
        """dy/dsigma at noise level i (< steps)."""
        return -sigmas[i] * scales[i] * score_fn(scales[i] * y, _time_vector(times[i], y))

    y = x / scales[0]
    for i in progress_bar(range(steps), disable=not progress, desc="Heun"):
        step = sigmas[i + 1] - sigmas[i]
        direction = slope(y, i)
        y_next = y + step * direction
        if i < steps - 1:
            y_next = y + step * 0.5 * (direction + slope(y_next, i + 1))
        y = y_next
    return y, 2 * steps - 1


SAMPLERS = {
    "euler_maruyama": euler_maruyama,
    "predictor_corrector": predictor_corrector,
    "probability_flow_ode": probability_flow_ode,
    "heun": heun,
}


def get_sampler(name: str):
    """The sampler function registered under name in SAMPLERS."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; accepted: {', '.join(SAMPLERS)}")
    return SAMPLERS[name]
