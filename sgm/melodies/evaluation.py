"""How melodies are judged: every set of rolls against the same held-out segments.

The held-out segments are `evaluate.heldout_clips` test segments spread over the test set (whose
pieces are never trained on). The references, at the samples' set size `sample.n_samples`:
`real`, random training segments (what a perfect model would score), and `random_rolls`, random
notes with the training data's note statistics (the noise floor; sgm.melodies.metrics.random_rolls).
"""

from __future__ import annotations

import numpy as np
import torch

from sgm.kinds.kind import DataError, DataSet
from sgm.kinds.splits import spread
from sgm.melodies.metrics import melody_metrics, random_rolls


def heldout_rolls(data: DataSet, settings) -> torch.Tensor:
    x = data.test["x"]
    heldout = data.layout.to_rolls(x[spread(len(x), settings.heldout_clips)])
    if len(heldout) < 2:
        raise DataError(f"{data.test_file or 'the test split'} gives {len(heldout)} held-out segment(s); the Frechet distance needs at least 2")
    return heldout


def reference(params, data: DataSet) -> dict:
    """{"real": ..., "random_rolls": ...}, each scored against the held-out segments."""
    layout = data.layout
    heldout = heldout_rolls(data, params.evaluate)
    train = layout.to_rolls(data.train["x"])
    n = params.sample.n_samples
    if not 2 <= n <= len(train):
        raise DataError(f"sample.n_samples={n}: the references need 2 <= n_samples <= {len(train)} training segments")
    generator = torch.Generator().manual_seed(params.seed)
    chosen = torch.randperm(len(train), generator=generator)[:n].sort().values
    noise = random_rolls(train, n, np.random.default_rng(params.seed))
    return {
        "real": melody_metrics(train[chosen], heldout, layout.pitch_low),
        "random_rolls": melody_metrics(noise, heldout, layout.pitch_low),
    }


def score(params, data: DataSet, samples: dict) -> dict:
    """The melody numbers of every (checkpoint, sampler) samples.pt in `samples`."""
    heldout = heldout_rolls(data, params.evaluate)
    layout = data.layout
    return {key: melody_metrics(layout.to_rolls(torch.load(path, weights_only=True)["x"]), heldout, layout.pitch_low) for key, path in samples.items()}
