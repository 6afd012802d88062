"""The partials judge: it reads the harmonics of a known pitch, so noise between them does not fool it."""

import numpy as np
import pytest
import torch

from sgm.notes.judges import with_noise_floor
from sgm.notes.metrics import spectral_flatness
from sgm.notes.partials import N_FFT, fundamentals, partial_features
from sgm.notes.timbre_classifier import InstrumentClassifier
from tests.notes.test_timbre_classifier import RATE, tones

TRAINED, UNHEARD = list(range(48, 85, 2)), list(range(49, 84, 2))


def pitches(notes) -> torch.Tensor:
    return torch.tensor([p for p in notes for _ in range(3)])  # tones() makes three waves a pitch


@pytest.fixture(scope="module")
def judges():
    audio, labels = tones(TRAINED, seed=0)
    return InstrumentClassifier.fit(audio, labels, RATE), InstrumentClassifier.fit(audio, labels, RATE, partial_features, pitches(TRAINED))


def test_noise_between_the_partials_fools_the_spectrum_judge_but_not_the_partials_judge(judges, single_thread):
    whole_spectrum, partials = judges
    audio, labels = tones(UNHEARD, seed=1)
    assert partials.accuracy(audio, labels, pitches(UNHEARD)) == 1.0
    generator = torch.Generator().manual_seed(0)
    for ratio, spectrum_at_most in ((10, 0.8), (30, 0.7)):
        noisy = with_noise_floor(audio, ratio, RATE, None, generator)
        assert spectral_flatness(noisy, RATE) == pytest.approx(ratio * spectral_flatness(audio, RATE), rel=0.02)
        assert whole_spectrum.accuracy(noisy, labels) <= spectrum_at_most  # measured 0.67 and 0.56
        assert partials.accuracy(noisy, labels, pitches(UNHEARD)) == 1.0
    asked_wrong = np.roll(labels, 1)
    assert partials.accuracy(audio, asked_wrong, pitches(UNHEARD)) == 0.0


def test_the_fundamental_is_found_within_half_a_semitone_of_the_pitch_given():
    t = torch.arange(N_FFT * 2, dtype=torch.float64) / RATE
    hz = 440.0 * 2 ** (20 / 1200)  # A4, 20 cents sharp
    clip = sum(torch.sin(2 * torch.pi * k * hz * t) / k for k in range(1, 9))
    spectrum = torch.stft(clip[None], N_FFT, N_FFT // 4, window=torch.hann_window(N_FFT, dtype=torch.float64), return_complex=True).abs().mean(-1)
    found = float(fundamentals(spectrum, torch.tensor([69]), RATE / N_FFT, RATE / 2))
    assert abs(1200 * np.log2(found / hz)) <= 5


def test_the_partials_judge_needs_the_pitches(judges):
    audio, labels = tones([60], seed=2)
    with pytest.raises(ValueError, match="give the clips' \\(requested\\) MIDI pitches"):
        judges[1].accuracy(audio, labels)
    with pytest.raises(ValueError, match=r"need clips \(N, L >= 4096\) and one pitch each, got \(3, 4096\) and \(2,\)"):
        partial_features(audio, RATE, torch.tensor([60, 62]))
