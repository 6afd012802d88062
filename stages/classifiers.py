"""Classifiers that check samples against what was asked for, fitted on the training split.

A conditional model's samples.pt records its requests ("requested": {kind: one value per sample}).
Requested digits are checked by sgm.digits.DigitClassifier (image data), requested instruments by
sgm.instruments.InstrumentClassifier (audio); requested pitches by CREPE in the audio metrics. The
reference stage scores the held-out real data with the same classifiers: the best a model can do.
Each classifier is fitted on first use only, so unconditional runs pay nothing.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from sgm.digits import DigitClassifier
from sgm.instruments import InstrumentClassifier
from sgm.layouts import Layout
from stages.common import TENSORS_DIR, StageError
from stages.labels import instrument_names

DIGITS = list(range(10))


class LabelClassifiers:
    """The digit and instrument classifiers of one data set (data/tensors), fitted lazily."""

    def __init__(self, layout: Layout, programs: dict[str, int]):
        self.layout = layout
        self.names = instrument_names(programs)

    @functools.cached_property
    def train(self) -> dict:
        return torch.load(TENSORS_DIR / "train.pt", weights_only=True)

    def instrument_labels(self, programs: torch.Tensor) -> np.ndarray:
        """Instrument names of GM programs, as conditional models name them (see stages.labels)."""
        return np.array([self.names.get(p, f"program_{p}") for p in programs.tolist()])

    @functools.cached_property
    def digit(self) -> DigitClassifier:
        return DigitClassifier.fit(self.layout.to_images(self.train["x"]), self.train["program"].numpy())

    @functools.cached_property
    def instrument(self) -> InstrumentClassifier:
        known = self.train["program"] >= 0
        audio = self.layout.to_audio(self.train["x"][known])
        return InstrumentClassifier.fit(audio, self.instrument_labels(self.train["program"][known]), self.layout.sample_rate)

    def has_digits(self) -> bool:
        return self.layout.name == "image" and sorted(set(self.train["program"].tolist())) == DIGITS

    def has_instruments(self) -> bool:
        return self.layout.name != "image" and len(set(self.train["program"].tolist()) - {-1}) >= 2


def requested_accuracy(classifiers: LabelClassifiers, record: dict, source) -> dict[str, float]:
    """digit_accuracy and/or instrument_accuracy of samples (samples.pt `record`) against their requests."""
    requested = record.get("requested") or {}
    n = len(record["x"])
    wrong = {kind: len(values) for kind, values in requested.items() if len(values) != n}
    if wrong:
        raise StageError(f"{source}: {n} samples but requests of other lengths {wrong}")
    try:
        accuracy = {}
        if "digit" in requested:
            accuracy["digit_accuracy"] = classifiers.digit.recognized(classifiers.layout.to_images(record["x"]), requested["digit"])
        if "instrument" in requested:
            accuracy["instrument_accuracy"] = classifiers.instrument.accuracy(record["audio"], requested["instrument"])
    except ValueError as err:
        raise StageError(f"{source}: {err}") from None
    return accuracy


def heldout_accuracy(classifiers: LabelClassifiers, test: dict) -> dict[str, float]:
    """The classifiers' accuracy on the held-out split (test.pt `test`), where the data has such labels."""
    if classifiers.has_digits():
        return {"digit_accuracy": classifiers.digit.recognized(classifiers.layout.to_images(test["x"]), test["program"].numpy())}
    if classifiers.has_instruments():
        known = test["program"] >= 0
        labels = classifiers.instrument_labels(test["program"][known])
        predicted = classifiers.instrument.predict(classifiers.layout.to_audio(test["x"][known]))
        return {"instrument_accuracy": float((predicted == labels).mean())}
    return {}
