"""Figures of real sine and noise audio: sizes, and what the pixels show."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sgm.kinds.figures import save_png
from sgm.notes import figures as plots

SAMPLE_RATE = 44100
CLIP = 16384


def sine(frequency: float, amplitude: float = 1.0, length: int = CLIP) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(length) / SAMPLE_RATE)).astype(np.float32)


def noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, CLIP).astype(np.float32)


def rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int32)


def dark_fraction(pixels: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Share of nearly black pixels inside an axes box given as figure fractions (left, bottom, w, h)."""
    height, width, _ = pixels.shape
    left, bottom, w, h = box
    top, right = int(height * (1 - bottom - h)), int(width * (left + w))
    inner = pixels[top + 3 : int(height * (1 - bottom)) - 3, int(width * left) + 3 : right - 3]  # inside the frame
    return float((inner.sum(axis=2) < 3 * 40).mean())


def test_full_scale_sine_peaks_at_0_dbfs_at_its_frequency():
    spec = plots.spectrogram_db(sine(1000.0))
    profile = spec[:, 4:-4].mean(axis=1)  # frames clear of the zero-padded edges
    peak_hz = profile.argmax() * SAMPLE_RATE / plots.N_FFT
    assert abs(peak_hz - 1000.0) < SAMPLE_RATE / plots.N_FFT
    assert -1.5 < profile.max() <= 0.1
    assert profile[profile.argmax() + 40] < -60  # 1.7 kHz away the hann leakage is far down


def test_white_noise_spectrum_is_flat_and_far_above_the_floor():
    profile = plots.spectrogram_db(noise())[:, 4:-4].mean(axis=1)
    assert profile[5:-5].std() < 1.0
    assert profile.min() > plots.DB_RANGE[0] + 40


def test_spectrogram_of_a_clip_shorter_than_the_window_uses_the_whole_clip():
    spec = plots.spectrogram_db(sine(1000.0, length=500))
    assert spec.shape == (500 // 2 + 1, 500 // plots.HOP + 1)


def test_clip_figure_has_its_size_and_shows_a_note_apart_from_noise(tmp_path):
    note = save_png(plots.clip_figure(sine(440.0, 0.8), SAMPLE_RATE, "sine"), tmp_path / "a" / "sine.png")
    hiss = save_png(plots.clip_figure(noise(), SAMPLE_RATE, "noise"), tmp_path / "noise.png")
    note_pixels, hiss_pixels = rgb(note), rgb(hiss)
    assert note_pixels.shape == hiss_pixels.shape == (plots.CLIP_SIZE[1], plots.CLIP_SIZE[0], 3)
    # a sine leaves everything above its leakage at the floor (black); noise lights nearly all of it
    assert dark_fraction(note_pixels, plots.SPECTROGRAM_BOX) > 0.3
    assert dark_fraction(hiss_pixels, plots.SPECTROGRAM_BOX) < 0.05


@pytest.mark.parametrize(
    ("audio", "message"),
    [(np.zeros((2, 100), np.float32), "1-D"), (np.zeros(0, np.float32), "non-empty"), (np.array([0.0, np.nan]), "NaN")],
)
def test_clip_figure_rejects_bad_clips(audio, message):
    with pytest.raises(ValueError, match=message):
        plots.clip_figure(audio, SAMPLE_RATE)


def test_sampler_sheet_has_one_row_per_sampler(tmp_path):
    clips = {
        "euler_maruyama": np.stack([sine(440.0), noise()]),
        "predictor_corrector": np.stack([noise(s) for s in range(5)]),
        "ode": np.stack([sine(880.0)] * 4),
    }
    figure = plots.sampler_sheet(clips, SAMPLE_RATE, columns=4, title="p / epoch_001")
    drawn = [ax for ax in figure.axes if ax.axison]
    assert len(figure.axes) == 12 and len(drawn) == 2 + 4 + 4
    assert [figure.axes[i].get_ylabel() for i in (0, 4, 8)] == ["euler_maruyama\nHz", "predictor_corrector\nHz", "ode\nHz"]
    path = save_png(figure, tmp_path / "sheet.png")
    assert rgb(path).shape == (3 * plots.SHEET_CELL[1] + plots.SHEET_TITLE_HEIGHT, 4 * plots.SHEET_CELL[0], 3)


@pytest.mark.parametrize(
    ("clips", "columns", "message"),
    [({}, 4, "at least one"), ({"em": np.zeros(10)}, 4, r"\(N, L\)"), ({"em": np.zeros((1, 10))}, 0, "columns")],
)
def test_sampler_sheet_rejects_bad_input(clips, columns, message):
    with pytest.raises(ValueError, match=message):
        plots.sampler_sheet(clips, SAMPLE_RATE, columns=columns)
