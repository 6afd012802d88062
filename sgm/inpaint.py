"""Fill part of a clip consistently with the rest: the replacement method (Song et al. 2021, App. I.2).

`keep` (bool, broadcastable to x) marks the model coordinates whose clean values `known` are
given. A stochastic sampler walks the reverse SDE over every coordinate and, after each step to
time t, overwrites the kept ones with a fresh draw of the perturbation kernel
p_0t(x(t) | known) = N(m(t) known, std(t)^2). On its own that is biased: the filled coordinates
only see a noisy copy of the kept ones, so with strongly correlated data (and the exact score)
their mean stops part-way to the conditional mean and their spread stays too wide. With
`resample` = r > 1 every step is taken r times, going back up by one forward-kernel step in
between (RePaint, Lugmayr et al. 2022), which lets the filled part settle on the kept part; the
Gaussian tests measure both. The deterministic samplers (heun, probability_flow_ode) move the kept
coordinates along m(t) known + std(t) z for one noise draw z, so their result is a function of the
seed; resampling needs fresh noise and does not apply to them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from sgm.layouts import Layout, Stft
from sgm.ode import solve_rk45
from sgm.sampling import _kernel_steps, _langevin_steps, _noise, _time_vector, _uniform_times, heun_schedule, probability_flow_drift
from sgm.sde import SDE, per_example

FINITE_DIFFERENCE = 1e-6


def _check(known: torch.Tensor, keep: torch.Tensor, resample: int) -> torch.Tensor:
    if keep.dtype != torch.bool:
        raise ValueError(f"keep must be a bool mask, got {keep.dtype}")
    try:
        keep = torch.broadcast_to(keep.to(known.device), known.shape)
    except RuntimeError:
        raise ValueError(f"keep of shape {tuple(keep.shape)} does not broadcast to the clips' shape {tuple(known.shape)}") from None
    if not (isinstance(resample, int) and resample >= 1):
        raise ValueError(f"resample must be an integer >= 1, got {resample!r}")
    return keep


def _kernel_draw(sde: SDE, known: torch.Tensor, t: float, noise: torch.Tensor) -> torch.Tensor:
    """m(t) known + std(t) noise: the kept coordinates at time t."""
    mean, std = sde.marginal_prob(known, _time_vector(t, known))
    return mean + per_example(std, known) * noise


def _replacement_loop(step, sde, known, keep, times, resample, generator, progress, desc):
    """Run `step(x, i) -> (mean, x, nfe)` from times[0] to times[-1], replacing the kept coordinates after each step."""
    retention, variance = _kernel_steps(sde, times, known)
    x = sde.prior_sampling(known.shape, generator, known.device)
    x = torch.where(keep, _kernel_draw(sde, known, times[0], _noise(x, generator)), x)
    nfe = 0
    for i in tqdm(range(len(times) - 1), disable=not progress, desc=desc):
        for r in range(resample):
            mean, x, calls = step(x, i)
            nfe += calls
            x = torch.where(keep, _kernel_draw(sde, known, times[i + 1], _noise(x, generator)), x)
            if r < resample - 1:
                x = retention[i] * x + torch.sqrt(variance[i]) * _noise(x, generator)
    return torch.where(keep, known, mean), nfe


@torch.no_grad()
def replacement_euler_maruyama(score_fn, sde: SDE, known, keep, steps=500, eps=1e-3, resample=1, progress=False, generator=None):
    """`sgm.sampling.euler_maruyama` with the kept coordinates replaced after each step; returns (x, nfe)."""
    keep = _check(known, keep, resample)
    times = _uniform_times(sde, steps, eps)

    def step(x, i):
        dt = times[i + 1] - times[i]
        vec_t = _time_vector(times[i], x)
        drift, diffusion = sde.sde(x, vec_t)
        g = per_example(diffusion, x)
        mean = x + (drift - g**2 * score_fn(x, vec_t)) * dt
        return mean, mean + g * math.sqrt(-dt) * _noise(x, generator), 1

    return _replacement_loop(step, sde, known, keep, times, resample, generator, progress, "EM inpaint")


@torch.no_grad()
def replacement_predictor_corrector(
    score_fn, sde: SDE, known, keep, steps=500, snr=0.16, corrector_steps=1, eps=1e-3, resample=1, progress=False, generator=None
):
    """`sgm.sampling.predictor_corrector` with the kept coordinates replaced after every corrector and predictor step."""
    keep = _check(known, keep, resample)
    times = _uniform_times(sde, steps, eps)
    retention, variance = _kernel_steps(sde, times, known)
    langevin_steps = _langevin_steps(sde, times, retention, snr)

    def step(x, i):
        vec_t = _time_vector(times[i], x)
        for _ in range(corrector_steps):
            size = langevin_steps[i]
            x = x + size * score_fn(x, vec_t) + torch.sqrt(2 * size) * _noise(x, generator)
            x = torch.where(keep, _kernel_draw(sde, known, times[i], _noise(x, generator)), x)
        mean = (2 - retention[i]) * x + variance[i] * score_fn(x, vec_t)
        return mean, mean + torch.sqrt(variance[i]) * _noise(x, generator), corrector_steps + 1

    return _replacement_loop(step, sde, known, keep, times, resample, generator, progress, "PC inpaint")


@torch.no_grad()
def replacement_heun(score_fn, sde: SDE, known, keep, steps=18, rho=7.0, eps=1e-3, resample=1, progress=False, generator=None):
    """`sgm.sampling.heun` with the kept coordinates held on known + sigma z (in its y = x / m(t) units)."""
    keep = _check(known, keep, resample)
    if resample != 1:
        raise ValueError("resample > 1 needs a stochastic sampler (euler_maruyama, predictor_corrector), not heun")
    sigmas, times, scales = heun_schedule(sde, steps, rho, eps, device=known.device)
    prior = sde.prior_sampling(known.shape, generator, known.device)
    z = _noise(prior, generator)

    def held(y, i):
        return torch.where(keep, known + sigmas[i] * z, y)

    def slope(y, i):
        return -sigmas[i] * scales[i] * score_fn(scales[i] * y, _time_vector(times[i], y))

    y = held(prior / scales[0], 0)
    for i in tqdm(range(steps), disable=not progress, desc="Heun inpaint"):
        step = sigmas[i + 1] - sigmas[i]
        direction = slope(y, i)
        y_next = held(y + step * direction, i + 1)
        if i < steps - 1:
            y_next = held(y + step * 0.5 * (direction + slope(y_next, i + 1)), i + 1)
        y = y_next
    return y, 2 * steps - 1


def _kernel_rates(sde: SDE, t: float, like: torch.Tensor) -> tuple[float, float]:
    """d m(t)/dt and d std(t)/dt by central differences (float64)."""
    times = torch.tensor([t - FINITE_DIFFERENCE, t + FINITE_DIFFERENCE], dtype=torch.float64, device=like.device)
    mean, std = sde.marginal_prob(torch.ones_like(times), times)
    return ((mean[1] - mean[0]) / (2 * FINITE_DIFFERENCE)).item(), ((std[1] - std[0]) / (2 * FINITE_DIFFERENCE)).item()


@torch.no_grad()
def replacement_probability_flow_ode(score_fn, sde: SDE, known, keep, rtol=1e-5, atol=1e-5, eps=1e-3, resample=1, progress=False, generator=None):
    """`sgm.sampling.probability_flow_ode` whose kept coordinates follow m(t) known + std(t) z exactly (RK45)."""
    keep = _check(known, keep, resample)
    if resample != 1:
        raise ValueError("resample > 1 needs a stochastic sampler (euler_maruyama, predictor_corrector), not probability_flow_ode")
    if not 0 < eps < sde.T:
        raise ValueError(f"eps must lie in (0, T={sde.T}), got {eps}")
    prior = sde.prior_sampling(known.shape, generator, known.device)
    z = _noise(prior, generator)
    start = torch.where(keep, _kernel_draw(sde, known, sde.T, z), prior)

    def velocity(t: float, x: torch.Tensor) -> torch.Tensor:
        mean_rate, std_rate = _kernel_rates(sde, t, x)
        return torch.where(keep, mean_rate * known + std_rate * z, probability_flow_drift(score_fn, sde, x, t))

    x, nfe = solve_rk45(velocity, start, sde.T, eps, rtol=rtol, atol=atol, progress=progress)
    return torch.where(keep, known, x), nfe


def keep_mask(layout: Layout, keep: torch.Tensor) -> torch.Tensor:
    """The model coordinates (1, *layout.shape) fixed by keeping the audio samples `keep` (L,) bool.

    Waveform layouts keep exactly those samples; the stft layout keeps the frames whose window
    lies wholly on kept samples (padding counts as kept: it is silence in both).
    """
    if keep.shape != (layout.clip_samples,) or keep.dtype != torch.bool:
        raise ValueError(f"keep must be a bool tensor of shape ({layout.clip_samples},), got {keep.dtype} {tuple(keep.shape)}")
    if isinstance(layout, Stft):
        padded = F.pad(keep[None].float(), layout._padding, value=1.0)[0]
        frames = padded.unfold(0, layout.n_fft, layout.hop).all(dim=1)
        return frames.bool().expand(1, *layout.shape)
    return layout.to_model(keep[None].float()) > 0


INPAINTERS = {
    "euler_maruyama": replacement_euler_maruyama,
    "predictor_corrector": replacement_predictor_corrector,
    "heun": replacement_heun,
    "probability_flow_ode": replacement_probability_flow_ode,
}


def inpaint(score_fn, sde: SDE, known: torch.Tensor, keep: torch.Tensor, sampler: str = "euler_maruyama", **settings):
    """Fill the coordinates of `known` (B, ...) outside `keep` with the sampler named `sampler`; returns (x, nfe)."""
    if sampler not in INPAINTERS:
        raise ValueError(f"unknown sampler {sampler!r}; accepted: {', '.join(INPAINTERS)}")
    return INPAINTERS[sampler](score_fn, sde, known, keep, **settings)
