"""The digits rung: scikit-learn's bundled digits and the classifier that checks requested digits."""

import numpy as np
import pytest
import torch

from sgm.images.digits import DigitClassifier, digit_images
from sgm.kinds import make_layout


@pytest.fixture(scope="module")
def split():
    images, labels = digit_images()
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1617], order[1617:]
    return images[train], labels[train], images[test], labels[test]


@pytest.fixture(scope="module")
def classifier(split):
    train_images, train_labels, _, _ = split
    return DigitClassifier.fit(train_images, train_labels)


def test_held_out_real_digits_are_recognised(classifier, split):
    _, _, test_images, test_labels = split
    assert classifier.recognized(test_images, test_labels) >= 0.95
    assert classifier.recognized(test_images, test_labels, confidence=0.99) < classifier.recognized(test_images, test_labels)
    assert classifier.recognized(test_images, (test_labels + 1) % 10) <= 0.02


def test_fitting_is_deterministic(classifier, split):
    train_images, train_labels, test_images, _ = split
    again = DigitClassifier.fit(train_images, train_labels)
    np.testing.assert_array_equal(again.probabilities(test_images), classifier.probabilities(test_images))


def test_images_through_the_enlarging_layout_are_read_as_before(classifier, split):
    _, _, test_images, test_labels = split
    layout = make_layout("image", 64, 0).fit_scale(torch.from_numpy(test_images))
    x = layout.to_model(torch.from_numpy(test_images))
    noisy = x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert classifier.recognized(layout.to_images(noisy), test_labels) >= 0.95


def test_noise_and_blank_images_are_not_recognised_as_the_digits_asked_for(classifier):
    generator = np.random.default_rng(1)
    noise = generator.integers(0, 256, (200, 8, 8), dtype=np.uint8)
    requested = np.arange(200) % 10
    assert classifier.recognized(noise, requested) <= 0.15
    assert classifier.recognized(np.zeros((200, 8, 8), np.uint8), requested) <= 0.1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.recognized(np.zeros((2, 28, 28), np.uint8), [0, 1]), r"reads \(8, 8\) images, got \(28, 28\)"),
        (lambda c: c.recognized(np.zeros((2, 8, 8), np.uint8), [0, 1, 2]), r"2 images but \(3,\) requested"),
        (lambda c: c.recognized(np.zeros((2, 8, 8), np.uint8), [0, 10]), r"requested digit\(s\) \[10\] are not digits"),
        (lambda c: c.recognized(np.zeros((2, 8, 8)), [0, 1]), "must be uint8"),
        (lambda c: DigitClassifier.fit(np.zeros((3, 8, 8), np.uint8), [0, 1, 2]), r"lack digit\(s\) \[3, 4, 5, 6, 7, 8, 9\]"),
    ],
)
def test_bad_input_is_reported(classifier, call, message):
    with pytest.raises(ValueError, match=message):
        call(classifier)
