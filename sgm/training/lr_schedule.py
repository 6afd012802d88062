"""Learning-rate schedules: the step size of optimizer step s of a run of `total` steps."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "linear", "cosine")


def learning_rate(step: int, total: int, lr: float, schedule: str = "constant", decay_fraction: float = 1.0) -> float:
    """The learning rate of optimizer step `step` (1-based) of `total`.

    `constant` keeps `lr`. `linear` and `cosine` hold `lr` for the first 1 - `decay_fraction` of
    the run and then decay it to zero at step total + 1, linearly or along half a cosine: the last
    step still moves (by lr / decay steps for linear), and with decay_fraction < 1 every
    checkpoint written before the decay starts equals the constant-rate run's.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"learning-rate schedule {schedule!r} is not one of {SCHEDULES}")
    if not 0 < decay_fraction <= 1:
        raise ValueError(f"decay_fraction must lie in (0, 1], got {decay_fraction}")
    if schedule == "constant":
        return lr
    decay_steps = max(1, round(decay_fraction * total))
    progress = min(max(step - 1 - (total - decay_steps), 0) / decay_steps, 1.0)
    if schedule == "linear":
        return lr * (1 - progress)
    return lr * 0.5 * (1 + math.cos(math.pi * progress))
