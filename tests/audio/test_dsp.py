import numpy as np
import pytest
from scipy import signal

from sgm.audio.dsp import cut_clips, lowpass, lowpass_sos, peak_normalize, stopband_hz, to_mono

RATE = 44100


def zero_phase_gain_db(sos: np.ndarray, frequencies: list[float], rate: float) -> np.ndarray:
    """Gain of filtering forward and backward: the single-pass magnitude squared."""
    _, response = signal.sosfreqz(sos, worN=frequencies, fs=rate)
    return 40 * np.log10(np.abs(response) + 1e-300)


def test_to_mono_averages_channels_and_keeps_mono_input():
    stereo = np.array([[1.0, 0.5, -1.0], [0.0, 0.5, 1.0]], dtype=np.float32)
    mono = to_mono(stereo)
    assert mono.dtype == np.float32
    np.testing.assert_array_equal(mono, [0.5, 0.5, 0.0])
    np.testing.assert_array_equal(to_mono(mono), mono)
    with pytest.raises(ValueError, match=r"\(2, 2, 3\)"):
        to_mono(np.zeros((2, 2, 3)))


@pytest.mark.parametrize("cutoff, order", [(10000.0, 8), (4000.0, 4), (18000.0, 2)])
def test_lowpass_response_is_minus_3_db_at_cutoff_and_flat_below(cutoff, order):
    gain = zero_phase_gain_db(lowpass_sos(RATE, cutoff, order), [cutoff / 4, cutoff / 2, cutoff], RATE)
    assert gain[0] > -0.01
    assert gain[1] > -0.05
    assert gain[2] == pytest.approx(-3.01, abs=0.01)


def test_lowpass_attenuates_strongly_an_octave_above_cutoff():
    gain = zero_phase_gain_db(lowpass_sos(RATE, 10000.0, 8), [11000, 12000, 20000], RATE)
    assert -16 < gain[0] < -12
    assert -35 < gain[1] < -30
    assert gain[2] < -200
    assert zero_phase_gain_db(lowpass_sos(RATE, 5000.0, 4), [10000], RATE)[0] < -48


@pytest.mark.parametrize("cutoff, order, depth", [(10000.0, 8, 60.0), (10000.0, 8, 40.0), (4000.0, 2, 60.0)])
def test_stopband_starts_where_the_lowpass_reaches_the_asked_depth(cutoff, order, depth):
    edge = stopband_hz(RATE, cutoff, order, depth)
    just_below, at, above = zero_phase_gain_db(lowpass_sos(RATE, cutoff, order), [edge - 2.0, edge, (edge + RATE / 2) / 2], RATE)
    assert just_below > -depth >= at > above
    assert cutoff < edge < RATE / 2


def test_lowpassed_noise_holds_nothing_measurable_above_the_stopband():
    noise = np.random.default_rng(0).standard_normal(1 << 16)
    power = np.abs(np.fft.rfft(lowpass(noise, RATE, 10000.0))) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / RATE)
    edge = stopband_hz(RATE, 10000.0)
    assert 13000 < edge < 14000  # 60 dB down at 1.34x the cutoff for order 8
    assert power[freqs > edge].mean() < 1e-6 * power[freqs < 5000].mean()
    assert stopband_hz(RATE, 21000.0, 1, 300.0) is None  # a gentle filter near Nyquist never gets 300 dB down


def test_lowpass_keeps_phase_and_removes_high_sine():
    t = np.arange(16384) / RATE
    low = 0.5 * np.sin(2 * np.pi * 1000 * t)
    high = 0.5 * np.sin(2 * np.pi * 20000 * t)
    filtered = lowpass((low + high).astype(np.float32), RATE, 10000.0)
    assert filtered.dtype == np.float32
    middle = slice(1000, -1000)
    assert np.abs(filtered[middle] - low[middle]).max() < 1e-4  # no delay, no residue of 20 kHz


def test_lowpass_filters_every_channel_along_time():
    rng = np.random.default_rng(0)
    stereo = rng.standard_normal((2, 4096))
    filtered = lowpass(stereo, RATE, 8000.0)
    np.testing.assert_allclose(filtered[1], lowpass(stereo[1], RATE, 8000.0))


def test_lowpass_rejects_a_cutoff_at_or_above_nyquist():
    with pytest.raises(ValueError, match=r"cutoff_hz=22050 .*Nyquist frequency 22050.0 Hz"):
        lowpass(np.zeros(100), RATE, 22050)
    with pytest.raises(ValueError, match="order=0"):
        lowpass_sos(RATE, 1000.0, 0)


def test_peak_normalize_sets_the_largest_sample_and_keeps_silence():
    audio = np.array([[0.1, -0.4], [0.2, 0.3]], dtype=np.float32)
    normalized = peak_normalize(audio, 0.9)
    assert np.abs(normalized).max() == pytest.approx(0.9)
    np.testing.assert_allclose(normalized, audio * (0.9 / 0.4), rtol=1e-6)
    silence = np.zeros(8, dtype=np.float32)
    np.testing.assert_array_equal(peak_normalize(silence, 0.9), silence)
    with pytest.raises(ValueError, match="peak=0"):
        peak_normalize(audio, 0)


def test_cut_clips_of_stereo_audio_come_first_then_channels():
    audio = np.arange(2 * 35, dtype=np.float32).reshape(2, 35)
    clips = cut_clips(audio, clip_samples=10, n_clips=3)
    assert clips.shape == (3, 2, 10)
    np.testing.assert_array_equal(clips[1], audio[:, 10:20])
    np.testing.assert_array_equal(clips[2, 1], np.arange(55, 65))


def test_cut_clips_takes_consecutive_clips_and_drops_the_tail():
    audio = np.arange(2 * 11).reshape(2, 11)
    clips = cut_clips(audio, clip_samples=3, n_clips=3)
    assert clips.shape == (3, 2, 3)
    np.testing.assert_array_equal(clips[1], audio[:, 3:6])
    np.testing.assert_array_equal(clips[2], audio[:, 6:9])
    np.testing.assert_array_equal(cut_clips(np.arange(7), 2, 3), [[0, 1], [2, 3], [4, 5]])
    with pytest.raises(ValueError, match=r"11 samples, fewer than .* = 12"):
        cut_clips(audio, clip_samples=4, n_clips=3)
