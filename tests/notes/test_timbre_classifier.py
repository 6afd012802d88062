"""The instrument classifier: it tells waveforms apart at pitches it never heard, and says so honestly."""

import numpy as np
import pytest
import torch

from sgm.notes.timbre_classifier import InstrumentClassifier, timbre_features

RATE = 22050
L = 4096
HARMONICS = {"sine": lambda k: k == 1, "square": lambda k: k % 2 == 1, "sawtooth": lambda k: k >= 1}  # amplitude 1/k


def band_limited(name, hz, start, t):
    """A sine, square or sawtooth wave summed from its harmonics below Nyquist (no aliasing, as in real recordings)."""
    ks = [k for k in range(1, int(RATE / 2 / hz) + 1) if HARMONICS[name](k)]
    return sum(torch.sin(2 * torch.pi * k * (hz * t + start)) / k for k in ks)


def tones(pitches, seed):
    """One clip per wave and pitch, with a random start phase, level and decay; labels are wave names."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(L, dtype=torch.float64) / RATE
    clips, labels = [], []
    for pitch in pitches:
        hz = 440.0 * 2 ** ((pitch - 69) / 12)
        for name in HARMONICS:
            start, level, decay = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
            clips.append((0.2 + 0.6 * level) * torch.exp(-decay * 4 * t) * band_limited(name, hz, start, t))
            labels.append(name)
    return torch.stack(clips).float(), np.array(labels)


@pytest.fixture(scope="module")
def classifier():
    audio, labels = tones(range(48, 85, 2), seed=0)  # even MIDI pitches C3..C6
    return InstrumentClassifier.fit(audio, labels, RATE)


def test_waveforms_are_recognised_at_pitches_not_trained_on(classifier, single_thread):
    audio, labels = tones(range(49, 84, 2), seed=1)  # the odd pitches in between
    assert classifier.accuracy(audio, labels) >= 0.95
    assert classifier.accuracy(audio, np.roll(labels, 1)) <= 0.05  # every clip asked as the next wave


def test_noise_is_not_counted_as_the_instrument_asked_for(classifier, single_thread):
    noise = 0.3 * torch.randn(30, L, generator=torch.Generator().manual_seed(2))
    requested = np.array(list(HARMONICS) * 10)
    assert classifier.accuracy(noise, requested) <= 0.4  # at most one of three: it names one wave for all


def test_features_are_deterministic_and_do_not_mix_clips(single_thread):
    audio, _ = tones([60, 72], seed=3)
    assert torch.isfinite(timbre_features(audio, 16000)).all()  # below 22.05 kHz the mel bands stop at Nyquist
    features = timbre_features(audio, RATE)
    assert features.shape == (6, 40 * 4 + 32 * 3 + L // 512 + 1) and torch.isfinite(features).all()
    torch.testing.assert_close(timbre_features(audio[2:4], RATE), features[2:4], rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.accuracy(torch.zeros(2, L), ["sine", "flute"]), r"requested instrument\(s\) \['flute'\] are not among the 3"),
        (lambda c: c.accuracy(torch.zeros(2, 1000), ["sine", "sine"]), r"reads \(N, 4096\) clips, got shape \(2, 1000\)"),
        (lambda c: c.accuracy(torch.zeros(2, L), ["sine"]), r"2 clips but requested instruments of shape \(1,\)"),
        (lambda c: InstrumentClassifier.fit(torch.zeros(2, L), ["sine", "sine"], RATE), r"at least two instruments, got \['sine'\]"),
        (lambda c: timbre_features(torch.zeros(2, L), 44.1), "sample_rate must be an int above 60 Hz, got 44.1"),
    ],
)
def test_bad_input_is_reported(classifier, call, message):
    with pytest.raises(ValueError, match=message):
        call(classifier)
