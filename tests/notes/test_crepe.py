import math

import pytest
import torch

from sgm.notes.crepe import CREPE_SAMPLE_RATE, HOP_SAMPLES, analyze, frames, load_crepe

SAMPLE_RATE = 44100
CLIP = 16384


def harmonic_tone(hz: float, harmonics: int = 5) -> torch.Tensor:
    t = torch.arange(CLIP, dtype=torch.float64) / SAMPLE_RATE
    return (0.3 * sum(torch.sin(2 * math.pi * hz * k * t) / k for k in range(1, harmonics + 1))).float()


@pytest.fixture(scope="module")
def clips():
    noise = 0.3 * torch.randn(CLIP, generator=torch.Generator().manual_seed(0))
    return torch.stack([harmonic_tone(440.0), harmonic_tone(196.0), noise])


def test_frames_are_normalised_16khz_windows_every_10ms(clips):
    framed = frames(clips, SAMPLE_RATE)
    resampled = math.ceil(CLIP * CREPE_SAMPLE_RATE / SAMPLE_RATE)
    assert framed.shape == (3, 1 + resampled // HOP_SAMPLES, 1024)
    assert framed.mean(dim=-1).abs().max() < 1e-5
    assert torch.allclose(framed.std(dim=-1), torch.ones(3, framed.shape[1]), atol=1e-4)


def test_tracks_pitch_and_periodicity_of_tones_and_noise(clips):
    analysis = analyze(clips, SAMPLE_RATE)
    middle = slice(5, -5)
    cents_off = 1200 * torch.log2(analysis.f0_hz[:2, middle] / torch.tensor([[440.0], [196.0]]))
    assert cents_off.abs().max() < 15
    assert analysis.periodicity[:2, middle].min() > 0.7
    assert analysis.periodicity[2].median() < 0.3
    assert analysis.embedding.shape == (3, 32)


def test_one_pass_salience_matches_torchcrepe_forward(clips):
    net = load_crepe("tiny", torch.device("cpu"))
    batch = frames(clips[:1], SAMPLE_RATE)[0]
    with torch.inference_mode():
        expected = net(batch)
    analysis = analyze(clips[:1], SAMPLE_RATE, device="cpu")
    assert torch.allclose(analysis.periodicity[0], expected.max(dim=1).values, atol=1e-6)


def test_same_numbers_whatever_the_frame_batch(clips):
    whole = analyze(clips[:1], SAMPLE_RATE)
    small = analyze(clips[:1], SAMPLE_RATE, batch_frames=15)
    assert torch.allclose(whole.embedding, small.embedding, atol=1e-5)
    assert torch.allclose(whole.f0_hz, small.f0_hz, rtol=1e-5)


def test_network_is_loaded_once_per_process():
    assert load_crepe("tiny", torch.device("cpu")) is load_crepe("tiny", torch.device("cpu"))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown CREPE model 'huge'"):
        load_crepe("huge", torch.device("cpu"))
    with pytest.raises(ValueError, match=r"\(N, L\).*got shape \(16384,\)"):
        frames(torch.zeros(CLIP), SAMPLE_RATE)
    with pytest.raises(ValueError, match="sample_rate must be a positive int, got 0"):
        frames(torch.zeros(1, CLIP), 0)
