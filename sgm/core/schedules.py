"""The times (and noise levels) a sampler walks, from a start time down to eps.

A schedule starts at `t_start` (the SDE's T for a new sample; earlier for a variation of a clip,
see sgm.generation.variation) and ends at eps > 0. `resampled` turns a schedule into one that
takes every step several times, jumping back up in between (RePaint's resampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sgm.core.sde import SDE

HEUN_MIN_STEPS = 2  # Heun's noise levels run from sigma(t_start) to sigma(eps): at least those two


def check_span(sde: SDE, eps: float, t_start: float | None = None) -> float:
    """The start time (t_start, or T) after checking that eps lies in (0, start); ValueError otherwise."""
    start = sde.T if t_start is None else t_start
    if not 0 < eps < start:
        raise ValueError(f"eps must lie in (0, T={start}), got {eps}")
    return start


def check_steps(steps, least: int = 1) -> None:
    if not (isinstance(steps, int) and steps >= least):
        raise ValueError(f"steps must be an integer >= {least}, got {steps!r}")


def uniform_times(sde: SDE, steps: int, eps: float, t_start: float | None = None) -> list[float]:
    """steps + 1 equally spaced times from t_start (T) down to eps."""
    check_steps(steps)
    start = check_span(sde, eps, t_start)
    return torch.linspace(start, eps, steps + 1, dtype=torch.float64).tolist()


def karras_schedule(sde: SDE, steps: int, rho: float, eps: float, t_start: float | None = None, device=None):
    """Karras et al.'s rho-schedule of noise levels from t_start (T) to eps and the times that reach them.

    sigma_i = (sigma_max^(1/rho) + i/steps (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, i = 0..steps,
    with sigma = sde.noise_level; times invert the (increasing) noise level by bisection.
    Returns (sigmas, times), float64 tensors of length steps + 1.
    """
    check_steps(steps)
    start = check_span(sde, eps, t_start)
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho}")
    ends = torch.tensor([start, eps], dtype=torch.float64, device=device)
    root_max, root_min = sde.noise_level(ends) ** (1 / rho)
    ramp = torch.linspace(0, 1, steps + 1, dtype=torch.float64, device=device)
    sigmas = (root_max + ramp * (root_min - root_max)) ** rho
    times = sde.time_at_noise_level(sigmas, eps, t_max=start)
    times[0], times[-1] = start, eps
    return sigmas, times


@dataclass(frozen=True)
class HeunSchedule:
    """Heun's grid: `steps` noise levels with their times and signal scales m(t), then a last level 0."""

    sigmas: list[float]  # steps + 1 entries, the last 0
    times: list[float]  # steps entries
    scales: list[float]  # steps entries

    @property
    def steps(self) -> int:
        return len(self.times)


def heun_schedule(sde: SDE, steps: int, rho: float, eps: float, t_start: float | None = None, device=None) -> HeunSchedule:
    """`steps` noise levels of karras_schedule from sigma(t_start) to sigma(eps), then 0."""
    if not (isinstance(steps, int) and steps >= HEUN_MIN_STEPS):
        raise ValueError(f"heun needs steps >= {HEUN_MIN_STEPS} (noise levels from sigma(T) to sigma(eps)), got {steps!r}")
    sigmas, times = karras_schedule(sde, steps - 1, rho, eps, t_start, device=device)
    scales = sde.marginal_prob(torch.ones_like(times), times)[0]
    return HeunSchedule(sigmas.tolist() + [0.0], times.tolist(), scales.tolist())


def kernel_steps(sde: SDE, times: list[float], like: torch.Tensor):
    """Forward one-step transitions x(t_i) = a_i x(t_{i+1}) + sqrt(v_i) z implied by the kernels.

    For each pair of consecutive times (t_i, t_{i+1}) it returns the signal retention
    a_i = m(t_i) / m(t_{i+1}) and the noise variance v_i = std(t_i)^2 - a_i^2 std(t_{i+1})^2,
    in the dtype of `like`. For t_i > t_{i+1} and the VE SDE this is Song et al.'s
    sigma_i^2 - sigma_{i-1}^2, for the VP SDE a_i^2 = 1 - beta_i and v_i = beta_i of the DDPM
    discretisation.
    """
    grid = torch.tensor(times, dtype=torch.float64, device=like.device)
    mean, std = sde.marginal_prob(torch.ones_like(grid), grid)
    retention = mean[:-1] / mean[1:]
    variance = std[:-1] ** 2 - retention**2 * std[1:] ** 2
    return retention.to(like.dtype), variance.to(like.dtype)


def langevin_steps(sde: SDE, times: list[float], retention: torch.Tensor, snr: float) -> torch.Tensor:
    """Corrector step sizes 2 a_i^2 (snr std(t_i))^2 at the times but the last."""
    grid = torch.tensor(times[:-1], dtype=torch.float64, device=retention.device)
    _, std = sde.marginal_prob(torch.ones_like(grid), grid)
    return (2 * (snr * std) ** 2).to(retention.dtype) * retention**2


def resampled(times: list[float], resample: int) -> list[float]:
    """`times` with every step taken `resample` times, going back up to its start in between.

    [t0, t1, t2] with resample 2 becomes [t0, t1, t0, t1, t2, t1, t2]: a stochastic sampler walks
    each step down, jumps back up along the forward kernel and walks it again (RePaint, Lugmayr et
    al. 2022), which lets what a callback fixes at each step (sgm.generation.inpainting) settle.
    """
    if not (isinstance(resample, int) and resample >= 1):
        raise ValueError(f"resample must be an integer >= 1, got {resample!r}")
    walked = [times[0]]
    for t, t_next in zip(times[:-1], times[1:]):
        walked += [t_next, t] * (resample - 1) + [t_next]
    return walked
