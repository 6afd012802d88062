"""A checkpoint ready to generate from, shared by `sgm-generate` and the play stage.

A Session holds the EMA net of a checkpoint with its SDE and label vocabularies, the layout of the
data it was trained on, the device and the seed, and times every generation and counts its score
evaluations (NFE) by name.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sgm.checkpoints.inference import load_for_inference
from sgm.core.samplers import sample
from sgm.core.score import score_fn_from_net
from sgm.generation.requests import labels_for
from sgm.kinds.layout import Layout


class Session:
    def __init__(self, checkpoint, layout: Layout, seed: int, device=None):
        self.layout, self.seed = layout, seed
        self.net, self.sde, self.conditioning = load_for_inference(checkpoint, device=device)
        self.device = next(self.net.parameters()).device
        self.cost: dict[str, dict] = {}  # name -> {"nfe", "seconds"} of the generations run under it

    def generator(self, offset: int = 0) -> torch.Generator:
        """A generator on the session's device, seeded with its seed plus `offset`."""
        return torch.Generator(self.device).manual_seed(self.seed + offset)

    def labels(self, requests: list[dict]) -> torch.Tensor | None:
        return labels_for(self.conditioning, requests, self.device)

    def score(self, labels: torch.Tensor | None, guidance: float, guidance_interval=None):
        """The net's score for `labels` (one row serves any batch), with classifier-free guidance."""
        return score_fn_from_net(self.net, self.sde, labels, guidance, guidance_interval)

    def run(self, name: str, fn, *args, **kwargs) -> torch.Tensor:
        """fn(...) -> (x, nfe); returns x and adds its NFE and seconds to cost[name]."""
        start = time.perf_counter()
        x, nfe = fn(*args, **kwargs)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        cost = self.cost.setdefault(name, {"nfe": 0, "seconds": 0.0})
        cost["nfe"] += nfe
        cost["seconds"] += time.perf_counter() - start
        return x

    def notes(self, name: str, requests: list[dict], sampler: str, settings: dict, guidance: float, guidance_interval, generator) -> torch.Tensor:
        """One new sample per request, drawn from the prior with `generator` and sampled under `name`."""
        score = self.score(self.labels(requests), guidance, guidance_interval)
        start = self.sde.prior_sampling((len(requests), *self.layout.shape), generator=generator, device=self.device)
        return self.run(name, sample, sampler, score, self.sde, start, settings, generator=generator)

    def audio(self, x: torch.Tensor) -> np.ndarray:
        """Model tensors as clips (N, L) on the CPU."""
        return self.layout.to_audio(x.float().cpu()).numpy()
