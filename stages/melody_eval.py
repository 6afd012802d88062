"""Melody numbers for the reference and evaluate stages when the layout is `pianoroll`.

Every set is compared with the same held-out segments: `evaluate.heldout_clips` test segments
spread over the test set (whose pieces are never trained on). The references, at the samples'
set size `sample.n_samples`: `real`, random training segments (what a perfect model would
score), and `random_rolls`, random notes with the training data's note statistics (the noise
floor; sgm.melody_metrics.random_rolls).
"""

from __future__ import annotations

import json

import numpy as np
import torch

from sgm.layouts import PianoRoll, layout_from_dict
from sgm.melody_metrics import melody_metrics, random_rolls
from stages.common import TENSORS_DIR, StageError, checkpoint_name, samples_dir
from stages.config import Params
from stages.reference import spread


def read_layout():
    path = TENSORS_DIR / "layout.json"
    if not path.is_file():
        raise StageError(f"missing input {path} (run the tensorize stage first)")
    return layout_from_dict(json.loads(path.read_text()))


def heldout_rolls(layout: PianoRoll, params: Params) -> torch.Tensor:
    x = torch.load(TENSORS_DIR / "test.pt", weights_only=True)["x"]
    heldout = layout.to_rolls(x[spread(len(x), params.evaluate.heldout_clips)])
    if len(heldout) < 2:
        raise StageError(f"{TENSORS_DIR / 'test.pt'} gives {len(heldout)} held-out segment(s); the Frechet distance needs at least 2")
    return heldout


def melody_reference(layout: PianoRoll, params: Params) -> dict:
    """{"real": ..., "random_rolls": ...}, each scored against the held-out segments."""
    heldout = heldout_rolls(layout, params)
    train = layout.to_rolls(torch.load(TENSORS_DIR / "train.pt", weights_only=True)["x"])
    n = params.sample.n_samples
    if not 2 <= n <= len(train):
        raise StageError(f"sample.n_samples={n}: the references need 2 <= n_samples <= {len(train)} training segments")
    generator = torch.Generator().manual_seed(params.seed)
    chosen = torch.randperm(len(train), generator=generator)[:n].sort().values
    noise = random_rolls(train, n, np.random.default_rng(params.seed))
    return {
        "real": melody_metrics(train[chosen], heldout, layout.pitch_low),
        "random_rolls": melody_metrics(noise, heldout, layout.pitch_low),
    }


def melody_evaluation(layout: PianoRoll, params: Params, point: str) -> dict:
    """{"epoch_NNN": {sampler: numbers}} for every checkpoint and sampler of one grid point."""
    heldout = heldout_rolls(layout, params)
    metrics = {}
    for epoch in params.train.epochs:
        name = checkpoint_name(epoch)
        metrics[name] = {}
        for sampler in params.sample.samplers:
            path = samples_dir(point) / name / sampler / "samples.pt"
            if not path.is_file():
                raise StageError(f"missing input {path} (run the sample stage first)")
            rolls = layout.to_rolls(torch.load(path, weights_only=True)["x"])
            metrics[name][sampler] = melody_metrics(rolls, heldout, layout.pitch_low)
    return metrics
