"""Adaptive Dormand-Prince RK45 in torch, for batched ODEs on any device.

It follows scipy's RK45 step by step (initial step selection, RMS error norm over
every element, step-size control), so for the same problem it takes the same steps
and the same number of function evaluations. The only host round trip per step is
the error norm, one scalar.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from sgm.progress import progress_bar

SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
ERROR_EXPONENT = -1 / 5  # the embedded error estimate is of order 4

# Dormand & Prince (1980) 5(4) tableau; the seventh stage is f(t + h, y_new) (FSAL).
NODES = (1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
COUPLING = (
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
WEIGHTS = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
ERROR_WEIGHTS = (-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40)

Velocity = Callable[[float, torch.Tensor], torch.Tensor]


def _combine(coefficients, stages: list[torch.Tensor]) -> torch.Tensor:
    return sum(c * k for c, k in zip(coefficients, stages) if c != 0.0)


def _rms(x: torch.Tensor) -> float:
    return (torch.linalg.vector_norm(x) / math.sqrt(x.numel())).item()


def _dormand_prince_step(fn: Velocity, t: float, y: torch.Tensor, f: torch.Tensor, h: float):
    """One 5th-order step; returns y_new, f(t + h, y_new) and the local error estimate."""
    stages = [f]
    for node, row in zip(NODES, COUPLING):
        stages.append(fn(t + node * h, y + h * _combine(row, stages)))
    y_new = y + h * _combine(WEIGHTS, stages)
    stages.append(fn(t + h, y_new))
    return y_new, stages[-1], h * _combine(ERROR_WEIGHTS, stages)


def _initial_step(fn: Velocity, t0: float, y0, f0, span: float, rtol: float, atol: float) -> float:
    """Hairer, Norsett & Wanner's starting step (Sec. II.4), as scipy picks it; one evaluation."""
    scale = atol + rtol * y0.abs()
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, abs(span))
    direction = math.copysign(1.0, span)
    f1 = fn(t0 + direction * h0, y0 + direction * h0 * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (-ERROR_EXPONENT)
    return min(100 * h0, h1, abs(span))


def solve_rk45(
    fn: Velocity,
    y0: torch.Tensor,
    t0: float,
    t1: float,
    rtol: float,
    atol: float,
    callback: Callable[[float, torch.Tensor], torch.Tensor] | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, int]:
    """Integrate dy/dt = fn(t, y) from t0 to t1 (either direction); returns (y(t1), nfe).

    fn takes a Python float time and a tensor shaped like y0. Tolerances act on the RMS
    over all elements of y, like scipy.integrate.solve_ivp(method="RK45"). After every accepted
    step, `callback(t, y)` returns the state to go on from; a new state costs one more evaluation.
    """
    if not (rtol > 0 and atol >= 0):
        raise ValueError(f"solve_rk45 needs rtol > 0 and atol >= 0, got rtol={rtol}, atol={atol}")
    t, t1, y = float(t0), float(t1), y0
    if t == t1:
        return y, 0
    direction = math.copysign(1.0, t1 - t)
    f = fn(t, y)
    step = _initial_step(fn, t, y, f, t1 - t, rtol, atol)
    nfe = 2
    with progress_bar(desc="RK45", unit="step", disable=not progress) as bar:
        while direction * (t1 - t) > 0:
            min_step = 10 * abs(math.nextafter(t, direction * math.inf) - t)
            step, rejected = max(step, min_step), False
            while True:
                if step < min_step:
                    raise RuntimeError(f"RK45 step size fell below {min_step:.3g} at t={t}: the ODE is too stiff")
                t_new = t + direction * step
                if direction * (t_new - t1) > 0:
                    t_new = t1
                step = abs(t_new - t)
                y_new, f_new, error = _dormand_prince_step(fn, t, y, f, t_new - t)
                nfe += 6
                error_norm = _rms(error / (atol + rtol * torch.maximum(y.abs(), y_new.abs())))
                if error_norm < 1:
                    factor = MAX_FACTOR if error_norm == 0 else min(MAX_FACTOR, SAFETY * error_norm**ERROR_EXPONENT)
                    step *= min(1.0, factor) if rejected else factor
                    break
                step *= max(MIN_FACTOR, SAFETY * error_norm**ERROR_EXPONENT)
                rejected = True
            if callback is not None:
                moved = callback(t_new, y_new)
                if moved is not y_new:
                    y_new, f_new = moved, fn(t_new, moved)
                    nfe += 1
            bar.update()
            bar.set_postfix_str(f"t={t_new:.4g} of {t1:g}")
            t, y, f = t_new, y_new, f_new
    return y, nfe
