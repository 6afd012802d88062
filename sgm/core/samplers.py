"""Reverse-time samplers for score SDEs (Song et al. 2021; Karras et al. 2022), in k-diffusion's shape.

Every sampler is a plain function of (score_fn, sde, x, schedule, ..., callback, progress) that
walks the state x from the schedule's first time down to its last and returns (samples, nfe), the
number of score evaluations. `score_fn(x, t)` takes t of shape (batch,). The caller owns the start
(a prior draw for a new sample, a noised clip for a variation) and the schedule (sgm.core.schedules),
and `callback(t, x)`, called whenever the state has reached time t of the schedule, returns the state
to go on from: inpainting, variations and guidance are things a caller does around these four,
never copies of their step math. Samplers only use the SDE's public methods, so any SDE works with
any sampler. `sample` builds the start's schedule from a sampler's settings and runs it.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch

from sgm.core.ode import solve_rk45
from sgm.core.schedules import HeunSchedule, check_span, heun_schedule, kernel_steps, langevin_steps, resampled, uniform_times
from sgm.core.sde import SDE, per_example
from sgm.progress import progress_bar


def _noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _time_vector(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), t, device=x.device, dtype=x.dtype)


def probability_flow_drift(score_fn, sde: SDE, x: torch.Tensor, t: float) -> torch.Tensor:
    """Velocity f(x, t) - g(t)^2 score(x, t) / 2 of the probability-flow ODE at time t."""
    vec_t = _time_vector(t, x)
    drift, diffusion = sde.sde(x, vec_t)
    return drift - 0.5 * per_example(diffusion**2, x) * score_fn(x, vec_t)


def jump_up(sde: SDE, x: torch.Tensor, t: float, t_next: float, generator: torch.Generator | None) -> torch.Tensor:
    """x(t) moved up to the later time t_next along the forward kernel: a x + sqrt(v) z."""
    retention, variance = kernel_steps(sde, [t_next, t], x)
    return retention[0] * x + torch.sqrt(variance[0]) * _noise(x, generator)


@torch.no_grad()
def euler_maruyama(score_fn, sde: SDE, x, times: list[float], generator=None, callback=None, progress=False):
    """Euler-Maruyama on the reverse SDE dx = [f - g^2 score] dt + g dw along `times`.

    Where `times` rises (a resampled schedule), the state jumps back up along the forward kernel.
    Returns the noise-free mean of the last step, as Song et al.'s code does.
    """
    nfe = 0
    for t, t_next in progress_bar(list(pairwise(times)), disable=not progress, desc="Euler-Maruyama", unit="step"):
        if t_next > t:
            x = jump_up(sde, x, t, t_next, generator)
            continue
        dt = t_next - t
        vec_t = _time_vector(t, x)
        drift, diffusion = sde.sde(x, vec_t)
        g = per_example(diffusion, x)
        mean = x + (drift - g**2 * score_fn(x, vec_t)) * dt
        x = mean + g * math.sqrt(-dt) * _noise(x, generator)
        nfe += 1
        if callback is not None:
            x = callback(t_next, x)
    return mean, nfe


@torch.no_grad()
def predictor_corrector(score_fn, sde: SDE, x, times: list[float], snr, corrector_steps, generator=None, callback=None, progress=False):
    """Predictor-corrector sampling (Song et al., Algorithms 2-5) along `times`, corrector first at each time.

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
    discretisation. The callback sees the state after every corrector and predictor step; where
    `times` rises, the state jumps back up along the forward kernel. Returns the noise-free mean of
    the last predictor step.
    """
    if not snr > 0:
        raise ValueError(f"snr must be > 0, got {snr}")
    if not (isinstance(corrector_steps, int) and corrector_steps >= 0):
        raise ValueError(f"corrector_steps must be an integer >= 0, got {corrector_steps!r}")
    retention, variance = kernel_steps(sde, times, x)
    step_sizes = langevin_steps(sde, times, retention, snr)
    nfe = 0
    for i, (t, t_next) in enumerate(progress_bar(list(pairwise(times)), disable=not progress, desc="predictor-corrector", unit="step")):
        if t_next > t:
            x = jump_up(sde, x, t, t_next, generator)
            continue
        vec_t = _time_vector(t, x)
        for _ in range(corrector_steps):
            size = step_sizes[i]
            x = x + size * score_fn(x, vec_t) + torch.sqrt(2 * size) * _noise(x, generator)
            if callback is not None:
                x = callback(t, x)
        mean = (2 - retention[i]) * x + variance[i] * score_fn(x, vec_t)
        x = mean + torch.sqrt(variance[i]) * _noise(x, generator)
        nfe += corrector_steps + 1
        if callback is not None:
            x = callback(t_next, x)
    return mean, nfe


@torch.no_grad()
def heun(score_fn, sde: SDE, x, schedule: HeunSchedule, callback=None, progress=False):
    """Karras et al.'s deterministic Heun sampler (EDM Algorithm 1) on the probability-flow ODE.

    With x = m(t) y and sigma = noise_level(t), the probability-flow ODE of any SDE with
    affine drift reads dy/dsigma = -sigma m(t) score(m(t) y, t), which is nearly linear in
    sigma; Heun steps it over the schedule's noise levels and a last plain Euler step from
    sigma(eps) to 0 (where m = 1). That step is Tweedie's denoiser E[x(0) | x(eps)], so no noise
    of std sigma(eps) is left in the sample, and nfe = 2 * steps - 1. The callback sees the state
    at each of the schedule's times, not after the last step to sigma 0.
    """
    sigmas, times, scales = schedule.sigmas, schedule.times, schedule.scales

    def slope(y: torch.Tensor, i: int) -> torch.Tensor:
        """dy/dsigma at noise level i (< steps)."""
        return -sigmas[i] * scales[i] * score_fn(scales[i] * y, _time_vector(times[i], y))

    y = x / scales[0]
    last = schedule.steps - 1
    for i in progress_bar(range(schedule.steps), disable=not progress, desc="Heun", unit="step"):
        step = sigmas[i + 1] - sigmas[i]
        direction = slope(y, i)
        y_next = y + step * direction
        if i < last:
            y_next = y + step * 0.5 * (direction + slope(y_next, i + 1))
            if callback is not None:
                y_next = callback(times[i + 1], scales[i + 1] * y_next) / scales[i + 1]
        y = y_next
    return y, 2 * schedule.steps - 1


@torch.no_grad()
def probability_flow_ode(score_fn, sde: SDE, x, t_start: float, t_end: float, rtol, atol, callback=None, progress=False):
    """Integrate the probability-flow ODE from x at t_start to t_end (either direction) with adaptive RK45.

    Deterministic given x. The callback sees the state after every accepted step.
    """

    def velocity(t: float, y: torch.Tensor) -> torch.Tensor:
        return probability_flow_drift(score_fn, sde, y, t)

    return solve_rk45(velocity, x, t_start, t_end, rtol=rtol, atol=atol, callback=callback, progress=progress)


SAMPLERS = ("euler_maruyama", "predictor_corrector", "heun", "probability_flow_ode")
STOCHASTIC = ("euler_maruyama", "predictor_corrector")  # they draw fresh noise at every step


def sample(name: str, score_fn, sde: SDE, x, settings: dict, t_start=None, resample=1, generator=None, callback=None, progress=False):
    """Run sampler `name` from x at time t_start (T) down to eps with its settings; returns (samples, nfe).

    `settings` are the sampler's own, named as in params.yaml's `sample` section: steps and eps
    (euler_maruyama), steps, snr, corrector_steps and eps (predictor_corrector), steps, rho and eps
    (heun), rtol, atol and eps (probability_flow_ode). `resample` > 1 takes every step that many
    times (sgm.core.schedules.resampled); it needs a stochastic sampler.
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; accepted: {', '.join(SAMPLERS)}")
    if resample != 1 and name not in STOCHASTIC:
        raise ValueError(f"resample > 1 needs a stochastic sampler ({', '.join(STOCHASTIC)}), not {name}")
    settings = dict(settings)
    eps = settings.pop("eps")
    walk = {"callback": callback, "progress": progress}
    if name == "heun":
        return heun(score_fn, sde, x, heun_schedule(sde, settings.pop("steps"), settings.pop("rho"), eps, t_start, x.device), **walk, **settings)
    if name == "probability_flow_ode":
        return probability_flow_ode(score_fn, sde, x, check_span(sde, eps, t_start), eps, **walk, **settings)
    times = resampled(uniform_times(sde, settings.pop("steps"), eps, t_start), resample)
    sampler = euler_maruyama if name == "euler_maruyama" else predictor_corrector
    return sampler(score_fn, sde, x, times, generator=generator, **walk, **settings)
