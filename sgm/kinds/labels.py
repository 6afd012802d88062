"""Labels of a data set's examples as a conditional model sees them: vocabularies and label tensors.

The tensors carry integer label columns (sgm.kinds.kind.CleanData): a MIDI pitch, and a `program`
code that holds the instrument of a clip or the class of an image; -1 means unknown. Codes with
names (instruments) are named as the data named them, so a checkpoint's vocabulary reads
["acoustic_grand_piano", "flute", ...], ordered by code.
"""

from __future__ import annotations

import torch

from sgm.core.labels import encode_labels
from sgm.kinds.kind import DataError
from sgm.kinds.naming import instrument_names

LABEL_COLUMNS = {"pitch": "pitch", "instrument": "program", "digit": "program"}  # label kind -> its tensor column


def label_value(kind: str, code: int, label_names: dict[str, dict[int, str]]):
    """The value a model's vocabulary holds for label code `code` of `kind`: a name, or the code itself."""
    return instrument_names(label_names)(code) if kind == "instrument" else code


def label_vocabularies(kinds: list[str], train_set: dict, label_names: dict) -> dict[str, list]:
    """{kind: the values seen in the training split, ordered by code}: MIDI pitches, instrument names, image classes."""
    conditioning = {}
    for kind in kinds:
        codes = sorted({int(v) for v in train_set[LABEL_COLUMNS[kind]] if v >= 0})
        if not codes:
            raise DataError(f"train.conditioning names {kind!r}, but no training example has a known {kind}")
        conditioning[kind] = [label_value(kind, code, label_names) for code in codes]
    return conditioning


def tensor_labels(conditioning: dict, split: dict, label_names: dict) -> torch.Tensor | None:
    """(N, K) labels of a split's examples; unknown or unseen values become "no label"."""
    if not conditioning:
        return None
    columns = {kind: split[LABEL_COLUMNS[kind]].tolist() for kind in conditioning}
    requests = []
    for codes in zip(*columns.values()):
        request = {kind: label_value(kind, code, label_names) for kind, code in zip(columns, codes)}
        requests.append({kind: value for kind, value in request.items() if value in conditioning[kind]})
    return encode_labels(conditioning, requests)

