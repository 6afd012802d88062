"""The handwritten-digits sanity rung: scikit-learn's 8x8 digits and a classifier that reads samples.

The 1797 images (UCI optical digits, 16 grey levels) ship inside the scikit-learn wheel, so the
rung works offline, like the study's FashionMNIST check but small enough for a CPU. A model
conditioned on the digit passes when its samples are recognised as the digit that was asked for:
`DigitClassifier` is a multinomial logistic regression on standardised pixels (closed-form
preprocessing, L-BFGS, no random draws: the same images give the same classifier), which reads
about 98% of held-out real digits correctly and, at its 0.5 confidence default, recognises nearly
as many.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

DIGIT_LEVELS = 16  # the data set's pixels run 0..16
PIXEL_MAX = 255
DIGITS = 10
CONFIDENCE = 0.5  # above this, the classifier prefers the digit to all others together


def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as uint8 images (N, 8, 8) on 0..255 (16 levels stretched) and int64 labels (N,)."""
    digits = load_digits()
    images = np.rint(digits.images * (PIXEL_MAX / DIGIT_LEVELS)).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def _pixels(images) -> np.ndarray:
    images = torch.as_tensor(images)
    if images.ndim != 3 or images.dtype != torch.uint8:
        raise ValueError(f"digit images must be uint8 (N, height, width), got {images.dtype} {tuple(images.shape)}")
    return images.reshape(len(images), -1).double().numpy() / PIXEL_MAX


@dataclass(frozen=True)
class DigitClassifier:
    """Which digit an image shows, with a probability; fitted on real images of one size."""

    model: Pipeline
    image_shape: tuple[int, int]

    @classmethod
    def fit(cls, images, labels) -> DigitClassifier:
        """Fit on uint8 images (N, H, W) and their digits (N,); every digit 0-9 must occur."""
        labels = np.asarray(labels, dtype=np.int64)
        pixels = _pixels(images)
        if len(labels) != len(pixels):
            raise ValueError(f"{len(pixels)} images but {len(labels)} labels")
        missing = sorted(set(range(DIGITS)) - set(labels.tolist()))
        if missing:
            raise ValueError(f"the training images lack digit(s) {missing}: a digit classifier needs all ten")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return cls(model.fit(pixels, labels), tuple(torch.as_tensor(images).shape[1:]))

    def probabilities(self, images) -> np.ndarray:
        """Probability of each digit (N, 10) for uint8 images of the fitted size."""
        shape = tuple(torch.as_tensor(images).shape[1:])
        if shape != self.image_shape:
            raise ValueError(f"the classifier reads {self.image_shape} images, got {shape}")
        return self.model.predict_proba(_pixels(images))

    def recognized(self, images, requested, confidence: float = CONFIDENCE) -> float:
        """Share of images classified as their requested digit with probability >= `confidence`."""
        requested = np.asarray(requested, dtype=np.int64)
        probabilities = self.probabilities(images)
        if requested.shape != (len(probabilities),):
            raise ValueError(f"{len(probabilities)} images but {requested.shape} requested digits")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
        unknown = sorted(set(requested.tolist()) - set(range(DIGITS)))
        if unknown:
            raise ValueError(f"requested digit(s) {unknown} are not digits 0-9")
        chosen = probabilities[np.arange(len(requested)), requested]
        return float(((probabilities.argmax(axis=1) == requested) & (chosen >= confidence)).mean())
