"""Class labels for conditional models: vocabularies, requests, label dropout and null labels.

A conditional model knows an ordered `conditioning` {kind: vocabulary}, e.g.
{"pitch": [55, ..., 91], "instrument": ["flute", ...]}, or {"digit": [0, ..., 9]} for images. Its
labels are an int64 tensor (B, K), one column per kind, holding the index of the value in that
kind's vocabulary; the index len(vocabulary) is the "no label" class, used for label dropout during training and for the
unconditional half of classifier-free guidance.
"""

from __future__ import annotations

import numpy as np
import torch


def label_sizes(conditioning: dict) -> list[int]:
    """The vocabulary size of each kind, in order (a net needs one embedding of size + 1 per kind)."""
    return [len(values) for values in conditioning.values()]


def null_labels(sizes, batch: int, device=None) -> torch.Tensor:
    """(batch, K) labels that say "no label" for every kind."""
    return torch.tensor(list(sizes), dtype=torch.int64, device=device).expand(batch, -1).clone()


def encode_labels(conditioning: dict, requests: list[dict]) -> torch.Tensor:
    """(B, K) labels for requests like {"pitch": 67, "instrument": "flute"}; a missing kind is "no label".

    ValueError naming the unknown kind or value and listing the known ones.
    """
    labels = torch.empty(len(requests), len(conditioning), dtype=torch.int64)
    for row, request in enumerate(requests):
        unknown = set(request) - set(conditioning)
        if unknown:
            known = ", ".join(conditioning) or "none (the model is unconditional)"
            raise ValueError(f"the model is not conditioned on {sorted(unknown)}; it takes: {known}")
        for column, (kind, values) in enumerate(conditioning.items()):
            value = request.get(kind)
            if value is None:
                labels[row, column] = len(values)
            elif value in values:
                labels[row, column] = values.index(value)
            else:
                raise ValueError(f"unknown {kind} {value!r}; the model knows: {', '.join(map(str, values))}")
    return labels


def drop_labels(labels: torch.Tensor, sizes, probability: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each label by "no label" independently with `probability` (classifier-free guidance training).

    Kinds drop independently, so one model also runs with any subset of its labels.
    """
    if probability == 0:
        return labels
    drop = torch.rand(labels.shape, generator=generator, device=labels.device) < probability
    return torch.where(drop, null_labels(sizes, len(labels), labels.device), labels)


def balanced_requests(conditioning: dict, n: int, seed: int) -> list[dict]:
    """n seeded requests spread evenly over each kind's vocabulary, kinds paired at random.

    With n below a vocabulary's size, the values are spread across its whole (sorted) range;
    above it, every value appears n // size or n // size + 1 times.
    """
    rng = np.random.default_rng(seed)
    columns = {}
    for kind, values in conditioning.items():
        if n <= len(values):
            chosen = [values[i] for i in np.round(np.linspace(0, len(values) - 1, n)).astype(int)]
        else:
            chosen = [values[i % len(values)] for i in range(n)]
        columns[kind] = [chosen[i] for i in rng.permutation(n)]
    return [{kind: columns[kind][i] for kind in conditioning} for i in range(n)]
