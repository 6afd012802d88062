"""The digit judge: a classifier fitted on the training digits, to check samples against requested digits.

The reference stage scores the held-out digits with the same judge: the best a model can do. It is
fitted on first use only.
"""

from __future__ import annotations

import functools

from sgm.images.digits import DigitClassifier
from sgm.kinds.kind import DataError, DataSet, sample_requests

DIGITS = list(range(10))


class DigitJudge:
    def __init__(self, data: DataSet):
        self.data = data

    @functools.cached_property
    def classifier(self) -> DigitClassifier:
        train = self.data.train
        return DigitClassifier.fit(self.data.layout.to_images(train["x"]), train["program"].numpy())

    def applies(self) -> bool:
        """Whether the images are labelled with the ten digits."""
        return sorted(set(self.data.train["program"].tolist())) == DIGITS

    def heldout_accuracy(self) -> dict[str, float]:
        if not self.applies():
            return {}
        test = self.data.test
        return {"digit_accuracy": self.classifier.recognized(self.data.layout.to_images(test["x"]), test["program"].numpy())}

    def requested_accuracy(self, record: dict, source) -> dict[str, float]:
        """digit_accuracy of samples (samples.pt `record`) against their requests, when digits were asked for."""
        requested = sample_requests(record, source)
        if "digit" not in requested:
            return {}
        try:
            return {"digit_accuracy": self.classifier.recognized(self.data.layout.to_images(record["x"]), requested["digit"])}
        except ValueError as err:
            raise DataError(f"{source}: {err}") from None
