import math

import numpy as np
import pytest
import torch

from sgm.audio.dsp import lowpass
from sgm.kinds.frechet import frechet_distance
from sgm.kinds.kernel import kernel_distance
from sgm.notes.crepe import CrepeAnalysis, analyze
from sgm.notes.metrics import (
    audio_metrics,
    clip_pitch_hz,
    flatness_by_group,
    mean_magnitude_spectrum,
    pitch_accuracy,
    pitch_error_cents,
    pitched_clips,
    pitchedness,
    shaped_noise,
    spectral_flatness,
)

SAMPLE_RATE = 44100
CLIP = 16384
THRESHOLD = 0.5
WHITE_NOISE_FLATNESS = math.exp(-np.euler_gamma)  # E[geometric/arithmetic mean] of exponential power bins


def harmonic_tone(hz: float, harmonics: int = 5, phase: float = 0.0) -> torch.Tensor:
    t = torch.arange(CLIP, dtype=torch.float64) / SAMPLE_RATE
    partials = (torch.sin(2 * math.pi * hz * k * t + phase * k) / k for k in range(1, harmonics + 1))
    return (0.3 * sum(partials)).float()


def midi_hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def white_noise(n: int, seed: int) -> torch.Tensor:
    return 0.3 * torch.randn(n, CLIP, generator=torch.Generator().manual_seed(seed))


PITCHES = (57, 63, 69, 75, 81, 87)  # A3..D#6, A4 at index 2
A4 = 2


def subset(analysis: CrepeAnalysis, rows: slice) -> CrepeAnalysis:
    return CrepeAnalysis(analysis.f0_hz[rows], analysis.periodicity[rows], analysis.embedding[rows])


@pytest.fixture(scope="module")
def bank():
    """CREPE analyses of tones, the same notes in another timbre, white noise and a detuned A4, in one pass."""
    n = len(PITCHES)
    tones = torch.stack([harmonic_tone(midi_hz(p)) for p in PITCHES])
    timbre = torch.stack([harmonic_tone(midi_hz(p), harmonics=3, phase=0.7) for p in PITCHES])
    detuned = harmonic_tone(440.0 * 2 ** (80 / 1200))[None]
    clips = torch.cat([tones, timbre, white_noise(n, 0), detuned])
    analysis = analyze(clips, SAMPLE_RATE)
    parts = {"tones": slice(0, n), "timbre": slice(n, 2 * n), "noise": slice(2 * n, 3 * n), "detuned": slice(3 * n, None)}
    return {name: (clips[rows], subset(analysis, rows)) for name, rows in parts.items()}


def test_a4_tone_is_pitched_and_in_tune(bank):
    _, tones = bank["tones"]
    a4 = subset(tones, slice(A4, A4 + 1))
    assert abs(pitch_error_cents(clip_pitch_hz(a4, THRESHOLD), target_midi=torch.tensor([69])).item()) < 10
    assert pitchedness(a4, THRESHOLD) == 1.0
    assert pitch_accuracy(a4, THRESHOLD, target_midi=torch.tensor([69])) == 1.0
    assert pitch_accuracy(tones, THRESHOLD, target_midi=torch.tensor(PITCHES)) == 1.0


def test_white_noise_is_unpitched_and_flat(bank):
    noise_clips, noise = bank["noise"]
    tone_clips, _ = bank["tones"]
    assert pitched_clips(noise, THRESHOLD).sum() == 0
    assert pitchedness(noise, THRESHOLD) == 0.0
    assert pitch_accuracy(noise, THRESHOLD, pitch_range=(55, 91)) == 0.0
    assert clip_pitch_hz(noise, THRESHOLD).isnan().all()
    assert spectral_flatness(noise_clips) == pytest.approx(WHITE_NOISE_FLATNESS, abs=0.02)
    assert spectral_flatness(tone_clips) < 1e-6


def test_in_band_flatness_still_calls_low_passed_noise_flat():
    noise = white_noise(3, 7)
    low_passed = torch.from_numpy(lowpass(noise.numpy(), SAMPLE_RATE, 5000.0))
    assert spectral_flatness(low_passed) < 0.01  # the empty band above 5 kHz drags the full-band number down
    assert spectral_flatness(low_passed, SAMPLE_RATE, 5000.0) == pytest.approx(WHITE_NOISE_FLATNESS, abs=0.03)
    assert spectral_flatness(noise, SAMPLE_RATE, SAMPLE_RATE / 2) == spectral_flatness(noise)  # the whole band: the same number


def test_flatness_by_group_scores_each_group_on_its_own_clips():
    t = torch.arange(CLIP) / SAMPLE_RATE
    tone = 0.3 * torch.sin(2 * math.pi * 440.0 * t).expand(2, CLIP)
    clips = torch.cat([white_noise(1, 3), tone[:1], white_noise(1, 4), tone[1:]])
    groups = ["noise", "tone", "noise", "tone"]
    by_group = flatness_by_group(clips, groups, SAMPLE_RATE, 5000.0)
    assert list(by_group) == ["noise", "tone"]  # first-seen order
    assert by_group["noise"] == spectral_flatness(clips[[0, 2]], SAMPLE_RATE, 5000.0) == pytest.approx(WHITE_NOISE_FLATNESS, abs=0.03)
    assert by_group["tone"] == spectral_flatness(tone, SAMPLE_RATE, 5000.0) < 1e-3
    with pytest.raises(ValueError, match="need one group name per clip, got 3 names for 4 clips"):
        flatness_by_group(clips, groups[:3], SAMPLE_RATE, 5000.0)


def test_tone_80_cents_sharp_fails_requested_pitch_but_not_nearest(bank):
    _, detuned = bank["detuned"]
    error = pitch_error_cents(clip_pitch_hz(detuned, THRESHOLD), target_midi=torch.tensor([69]))
    assert error.item() == pytest.approx(80, abs=10)
    assert pitchedness(detuned, THRESHOLD) == 1.0
    assert pitch_accuracy(detuned, THRESHOLD, target_midi=torch.tensor([69])) == 0.0
    assert pitch_accuracy(detuned, THRESHOLD, pitch_range=(55, 91)) == 1.0  # 20 cents below A#4


def test_pitch_outside_the_data_range_is_measured_from_its_nearest_end():
    errors = pitch_error_cents(torch.tensor([midi_hz(102.5), midi_hz(40.0), midi_hz(60.3)]), pitch_range=(55, 91))
    assert errors.tolist() == pytest.approx([1150.0, -1500.0, 30.0], abs=1e-3)


def test_frechet_distance_of_1d_gaussians_has_the_closed_form():
    a = torch.tensor([[0.0], [2.0]])  # mean 1, unbiased variance 2
    b = torch.tensor([[3.0], [5.0], [7.0]])  # mean 5, unbiased variance 4
    assert frechet_distance(a, b) == pytest.approx((1 - 5) ** 2 + (math.sqrt(2) - 2) ** 2, rel=1e-12)


def test_frechet_distance_of_commuting_2d_gaussians():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(500, 2, generator=generator, dtype=torch.float64) * torch.tensor([1.0, 3.0])
    b = torch.randn(400, 2, generator=generator, dtype=torch.float64) * torch.tensor([2.0, 0.5]) + torch.tensor([1.0, -1.0])
    var_a, var_b = a.var(dim=0), b.var(dim=0)
    expected = (a.mean(0) - b.mean(0)).square().sum() + (var_a.sqrt() - var_b.sqrt()).square().sum()
    cross = (a.T.cov()[0, 1] / (var_a.prod().sqrt())).abs().item(), (b.T.cov()[0, 1] / (var_b.prod().sqrt())).abs().item()
    assert max(cross) < 0.15  # nearly diagonal, so the per-axis closed form applies to within a few percent
    assert frechet_distance(a, b) == pytest.approx(expected.item(), rel=0.05)


def test_kernel_distance_of_two_points_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    # k(x, y) = (x.y / 2 + 1)^3: within a 1 (off the diagonal), within b 0, across 3.375 twice and 0.125 twice
    assert kernel_distance(a, b) == pytest.approx(1.0 + 0.0 - 2 * (3.375 + 0.125) / 2, rel=1e-12)
    assert kernel_distance(a, b) == pytest.approx(kernel_distance(b, a), rel=1e-12)


def test_kernel_distance_is_unbiased_where_the_frechet_distance_is_not():
    # Small sets from one distribution: the kernel distance averages 0, the Frechet distance far
    # above it; a narrower set (alike samples) has a lower Frechet distance than real data itself.
    generator = torch.Generator().manual_seed(0)
    draws = [(torch.randn(10, 8, generator=generator, dtype=torch.float64), torch.randn(10, 8, generator=generator, dtype=torch.float64)) for _ in range(400)]
    kernel = torch.tensor([kernel_distance(a, b) for a, b in draws])
    assert abs(kernel.mean()) < 3 * kernel.std() / math.sqrt(len(kernel))
    frechet = torch.tensor([frechet_distance(a, b) for a, b in draws])
    assert frechet.mean() > 2.0
    narrow = torch.tensor([frechet_distance(0.5 * a, b) for a, b in draws])
    assert narrow.mean() < frechet.mean()
    narrow_kernel = torch.tensor([kernel_distance(0.5 * a, b) for a, b in draws])
    assert narrow_kernel.mean() > 10 * kernel.std() / math.sqrt(len(kernel))


def test_kernel_distance_names_bad_shapes():
    with pytest.raises(ValueError, match=r"same D, got shapes \(3, 2\) and \(3, 4\)"):
        kernel_distance(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="at least 2 rows"):
        kernel_distance(torch.zeros(1, 2), torch.zeros(3, 2))


def test_frechet_distance_separates_tones_from_noise(bank):
    tones, timbre, noise = (bank[name][1].embedding for name in ("tones", "timbre", "noise"))
    assert abs(frechet_distance(tones, tones)) < 1e-5
    assert frechet_distance(tones, noise) > 5 * frechet_distance(tones, timbre)
    assert kernel_distance(tones, noise) > 5 * kernel_distance(tones, timbre)


def test_shaped_noise_has_exactly_the_reference_magnitude_spectrum():
    clips = torch.stack([harmonic_tone(midi_hz(p)) for p in (55, 67, 79)])
    magnitude = mean_magnitude_spectrum([clips[:2], clips[2:]])
    assert torch.allclose(magnitude, torch.fft.rfft(clips.double()).abs().mean(0))
    noise = shaped_noise(magnitude, 4, CLIP, torch.Generator().manual_seed(0))
    assert noise.shape == (4, CLIP)
    assert torch.allclose(torch.fft.rfft(noise.double()).abs(), magnitude.expand(4, -1), rtol=1e-4, atol=1e-3)
    again = shaped_noise(magnitude, 4, CLIP, torch.Generator().manual_seed(0))
    assert torch.equal(noise, again)
    assert not torch.allclose(noise[0], noise[1])


def test_audio_metrics_of_tones_and_of_noise_against_real_notes(bank):
    reference = bank["timbre"][1].embedding
    tones = audio_metrics(bank["tones"][0], SAMPLE_RATE, reference, THRESHOLD, pitch_range=(55, 91))
    noise = audio_metrics(white_noise(3, 3), SAMPLE_RATE, reference, THRESHOLD, pitch_range=(55, 91))
    assert tones["pitchedness"] == tones["pitch_accuracy"] == 1.0
    assert noise["pitchedness"] == noise["pitch_accuracy"] == 0.0
    assert tones["spectral_flatness"] < 1e-6 < 0.5 < noise["spectral_flatness"]
    assert noise["frechet_distance"] > 5 * tones["frechet_distance"]


def test_bad_input_is_named(bank):
    with pytest.raises(ValueError, match="same D, got shapes \\(3, 2\\) and \\(3, 4\\)"):
        frechet_distance(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="at least 2 rows.*got 1 and 3"):
        frechet_distance(torch.zeros(1, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="threshold must lie in \\(0, 1\\), got 1.5"):
        pitched_clips(bank["noise"][1], 1.5)
    with pytest.raises(ValueError, match="expected \\(8193,\\) for length 16384"):
        shaped_noise(torch.ones(100), 1, CLIP)
    with pytest.raises(ValueError, match="L >= 2048, got shape \\(1, 100\\)"):
        spectral_flatness(torch.zeros(1, 100))
    with pytest.raises(ValueError, match="max_hz needs the clips' sample_rate"):
        spectral_flatness(torch.zeros(1, 4096), max_hz=5000.0)
    with pytest.raises(ValueError, match="pitch_range must be \\(lowest, highest\\), got \\(91, 55\\)"):
        pitch_error_cents(torch.tensor([440.0]), pitch_range=(91, 55))
    with pytest.raises(ValueError, match="no clips|at least one clip"):
        mean_magnitude_spectrum([])


def constant_analysis(cents: list[list[float]], periodicity: list[list[float]]) -> CrepeAnalysis:
    """Clips whose frames sit `cents` away from A4 with the given periodicities."""
    f0 = 440.0 * 2 ** (torch.tensor(cents, dtype=torch.float32) / 1200)
    return CrepeAnalysis(f0, torch.tensor(periodicity, dtype=torch.float32), torch.zeros(len(cents), 4))


def test_pitch_accuracy_counts_exactly_50_cents_and_not_51():
    analysis = constant_analysis([[50.0] * 4, [-50.0] * 4, [51.0] * 4], [[0.9] * 4] * 3)
    assert pitch_error_cents(clip_pitch_hz(analysis, THRESHOLD), target_midi=torch.tensor([69, 69, 69])).tolist() == pytest.approx(
        [50.0, -50.0, 51.0], abs=1e-3
    )
    assert pitch_accuracy(analysis, THRESHOLD, target_midi=torch.tensor([69, 69, 69])) == pytest.approx(2 / 3)


def test_pitch_of_a_clip_comes_from_its_confident_frames_only():
    # Clip 0: six confident frames (median 0 cents) and four unconfident ones far off; over all
    # ten frames the median would be 60 cents. Clip 1: in tune but only 4 of 10 frames confident,
    # so not pitched. Clip 2: no confident frame at all.
    confident, unconfident = 0.9, 0.1
    analysis = constant_analysis(
        [[0, 0, 0, 60, 60, 60, 900, 900, 900, 900], [0] * 10, [0] * 10],
        [[confident] * 6 + [unconfident] * 4, [confident] * 4 + [unconfident] * 6, [unconfident] * 10],
    )
    pitch = clip_pitch_hz(analysis, THRESHOLD)
    assert pitch[:2].tolist() == pytest.approx([440.0, 440.0], rel=1e-6) and pitch[2].isnan()
    assert pitched_clips(analysis, THRESHOLD).tolist() == [True, False, False]
    assert pitch_accuracy(analysis, THRESHOLD, target_midi=torch.tensor([69, 69, 69])) == pytest.approx(1 / 3)
    assert pitch_accuracy(analysis, THRESHOLD, pitch_range=(60, 80)) == pytest.approx(1 / 3)


def test_frechet_distance_matches_scipy_sqrtm_on_non_commuting_covariances():
    # Two full covariances with different eigenvectors: S_a S_b != S_b S_a, so the trace term
    # needs the square root of the product, not the product of the square roots.
    from scipy.linalg import sqrtm

    generator = torch.Generator().manual_seed(5)
    mix_a, mix_b = (torch.randn(5, 5, generator=generator, dtype=torch.float64) for _ in range(2))
    a = torch.randn(400, 5, generator=generator, dtype=torch.float64) @ mix_a
    b = torch.randn(300, 5, generator=generator, dtype=torch.float64) @ mix_b + 0.3
    cov_a, cov_b = np.cov(a.numpy().T), np.cov(b.numpy().T)
    assert np.abs(cov_a @ cov_b - cov_b @ cov_a).max() > 1.0
    cross = sqrtm(cov_a @ cov_b).real
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(cov_a + cov_b - 2 * cross)
    roots_only = np.trace(cov_a + cov_b - 2 * sqrtm(cov_a).real @ sqrtm(cov_b).real)
    assert abs(roots_only - np.trace(cov_a + cov_b - 2 * cross)) > 0.1 * expected  # the test can tell them apart
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
