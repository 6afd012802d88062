"""Labels of the data set's clips as a conditional model sees them: vocabularies and label tensors."""

from __future__ import annotations

import torch

from sgm.conditioning import encode_labels
from stages.common import TENSORS_DIR, StageError


def instrument_names(programs: dict[str, int]) -> dict[int, str]:
    """GM program -> the instrument's name in params.render.programs (the first, if two share it)."""
    names = {}
    for name, program in programs.items():
        names.setdefault(program, name)
    return names


def label_vocabularies(kinds: list[str], train_set: dict, programs: dict[str, int]) -> dict[str, list]:
    """{kind: sorted values seen in the training split}: MIDI pitches, instrument names, image classes (digits)."""
    names = instrument_names(programs)
    conditioning = {}
    for kind in kinds:
        column = train_set["pitch" if kind == "pitch" else "program"]
        values = sorted({int(v) for v in column if v >= 0})
        if not values:
            raise StageError(f"train.conditioning names {kind!r}, but no training clip in {TENSORS_DIR / 'train.pt'} has a known {kind}")
        conditioning[kind] = [names.get(v, f"program_{v}") for v in values] if kind == "instrument" else values
    return conditioning


def tensor_labels(conditioning: dict, split: dict, programs: dict[str, int]) -> torch.Tensor | None:
    """(N, K) labels of a split's clips; unknown or unseen values become "no label"."""
    if not conditioning:
        return None
    names = instrument_names(programs)
    requests = []
    for pitch, program in zip(split["pitch"].tolist(), split["program"].tolist()):
        request = {"pitch": pitch, "instrument": names.get(program, f"program_{program}"), "digit": program}
        requests.append({kind: request[kind] for kind in conditioning if request[kind] in conditioning[kind]})
    return encode_labels(conditioning, requests)
