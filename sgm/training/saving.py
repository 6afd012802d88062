"""When a run writes last.pt in the middle of an epoch, so a killed run loses little work."""

from __future__ import annotations

import time
from typing import Callable

import torch

from sgm.training import distributed


class SaveSchedule:
    """Save every `every_steps` steps, every `every_seconds` seconds, or as soon as `stop()` returns
    True; all ranks agree on it."""

    def __init__(self, every_steps: int | None, every_seconds: float | None, stop: Callable[[], bool] | None, here: distributed.World):
        self.every_steps, self.every_seconds, self.stop, self.here = every_steps, every_seconds, stop, here
        self.last_save = time.monotonic()
        self.stopping = False

    def due(self, step: int) -> bool:
        """Whether to save after optimizer step `step`; sets `stopping` when a stop was asked for."""
        if self.every_steps is None and self.every_seconds is None and self.stop is None:
            return False
        stopping = self.stop is not None and self.stop()
        due = (
            stopping
            or (self.every_steps is not None and step % self.every_steps == 0)
            or (self.every_seconds is not None and time.monotonic() - self.last_save >= self.every_seconds)
        )
        flags = distributed.min_over_ranks(torch.tensor([not due, not stopping]), self.here)  # any rank's yes is everyone's
        self.stopping = not bool(flags[1])
        return not bool(flags[0])

    def saved(self) -> None:
        self.last_save = time.monotonic()
