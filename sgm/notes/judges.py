"""The instrument judge: a timbre classifier fitted on the training split, to check samples against requests.

A conditional model's samples.pt records its requests ("requested": {kind: one value per sample});
requested instruments are checked by sgm.notes.timbre_classifier, requested pitches by CREPE in
the audio metrics. The reference stage scores the held-out clips with the same judge: the best a
model can do. The classifier is fitted on first use only, so runs without instruments pay nothing.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from sgm.kinds.kind import DataError, DataSet, sample_requests
from sgm.kinds.naming import instrument_names
from sgm.notes.timbre_classifier import InstrumentClassifier


class InstrumentJudge:
    """The timbre classifier of one data set, fitted lazily on its training clips of known instrument."""

    def __init__(self, data: DataSet):
        self.data = data
        self.names = instrument_names(data.label_names)

    def labels(self, programs: torch.Tensor) -> np.ndarray:
        """Instrument names of program codes, as conditional models name them (sgm.kinds.naming)."""
        return np.array([self.names(p) for p in programs.tolist()])

    @functools.cached_property
    def classifier(self) -> InstrumentClassifier:
        train = self.data.train
        known = train["program"] >= 0
        audio = self.data.layout.to_audio(train["x"][known])
        return InstrumentClassifier.fit(audio, self.labels(train["program"][known]), self.data.layout.sample_rate)

    def applies(self) -> bool:
        """Whether the data name two or more instruments."""
        return len(set(self.data.train["program"].tolist()) - {-1}) >= 2

    def heldout_accuracy(self) -> dict[str, float]:
        """The judge's accuracy on the held-out clips of known instrument, where there are instruments to tell apart."""
        if not self.applies():
            return {}
        test = self.data.test
        known = test["program"] >= 0
        predicted = self.classifier.predict(self.data.layout.to_audio(test["x"][known]))
        return {"instrument_accuracy": float((predicted == self.labels(test["program"][known])).mean())}

    def requested_accuracy(self, record: dict, source) -> dict[str, float]:
        """instrument_accuracy of samples (samples.pt `record`) against their requests, when instruments were asked for."""
        requested = sample_requests(record, source)
        if "instrument" not in requested:
            return {}
        try:
            return {"instrument_accuracy": self.classifier.accuracy(record["audio"], requested["instrument"])}
        except ValueError as err:
            raise DataError(f"{source}: {err}") from None
