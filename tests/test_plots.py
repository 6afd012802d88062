"""Plots of real sine and noise audio: sizes, what the pixels show, charts, mosaics, and the plot
stage's file naming and real-clip choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from sgm import plots
from stages.plot import pick_real_clips, safe_name

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
    note = plots.save_png(plots.clip_figure(sine(440.0, 0.8), SAMPLE_RATE, "sine"), tmp_path / "a" / "sine.png")
    hiss = plots.save_png(plots.clip_figure(noise(), SAMPLE_RATE, "noise"), tmp_path / "noise.png")
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
    path = plots.save_png(figure, tmp_path / "sheet.png")
    assert rgb(path).shape == (3 * plots.SHEET_CELL[1] + plots.SHEET_TITLE_HEIGHT, 4 * plots.SHEET_CELL[0], 3)


@pytest.mark.parametrize(
    ("clips", "columns", "message"),
    [({}, 4, "at least one"), ({"em": np.zeros(10)}, 4, r"\(N, L\)"), ({"em": np.zeros((1, 10))}, 0, "columns")],
)
def test_sampler_sheet_rejects_bad_input(clips, columns, message):
    with pytest.raises(ValueError, match=message):
        plots.sampler_sheet(clips, SAMPLE_RATE, columns=columns)


@pytest.fixture
def results(tmp_path) -> pd.DataFrame:
    """A small results.csv as the results stage writes it, read back."""
    table = pd.DataFrame(
        {
            "point": ["a", "b", "c", "a", "b", "c", "a"],
            "sampler": ["em", "em", "em", "pc", "pc", "pc", None],
            "lr": [1e-5, 1e-5, 1e-3, 1e-5, 1e-5, 1e-3, 1e-5],
            "channels": ["32-64", "128-256", "32-64", "32-64", "128-256", "32-64", "32-64"],
            "frechet_distance": [3.0, 5.0, 2.0, 7.0, 9.0, 1.0, 4.0],
        }
    )
    table.to_csv(tmp_path / "results.csv", index=False)
    return pd.read_csv(tmp_path / "results.csv")


def test_hyperparameter_chart_draws_each_samplers_mean(results, tmp_path):
    figure = plots.hyperparameter_chart(results, "lr", "frechet_distance")
    ax = figure.axes[0]
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}
    assert lines == {"em": ([1e-5, 1e-3], [4.0, 2.0]), "pc": ([1e-5, 1e-3], [8.0, 1.0]), "(any sampler)": ([1e-5], [4.0])}
    assert ax.get_xscale() == "log"
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(results)
    path = plots.save_png(figure, tmp_path / "chart.png")
    assert rgb(path).shape == (plots.CHART_SIZE[1], plots.CHART_SIZE[0], 3)


def test_hyperparameter_chart_places_text_values_in_order_of_appearance(results):
    ax = plots.hyperparameter_chart(results, "channels", "frechet_distance").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["32-64", "128-256"]
    em = next(line for line in ax.lines if line.get_label() == "em")
    assert list(em.get_ydata()) == [2.5, 5.0]
    assert ax.get_xscale() == "linear"


def test_hyperparameter_chart_names_missing_columns(results):
    with pytest.raises(ValueError, match=r"no column\(s\) \['bits_per_dim'\]"):
        plots.hyperparameter_chart(results, "lr", "bits_per_dim")
    with pytest.raises(ValueError, match="no rows"):
        plots.hyperparameter_chart(results.assign(frechet_distance=np.nan), "lr", "frechet_distance")


def test_image_mosaic_places_each_image_in_its_tile(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 32, 32), dtype=np.uint8)
    mosaic = plots.image_mosaic(images, columns=4, pad=2)
    assert mosaic.shape == (3 * 34 + 2, 4 * 34 + 2)
    assert np.array_equal(mosaic[2:34, 2:34], images[0] / 255)
    row, column = 2 + 2 * 34, 2 + 34  # image 9 sits in row 2, column 1
    assert np.array_equal(mosaic[row : row + 32, column : column + 32], images[9] / 255)
    assert (mosaic[-34:-2, -34:-2] == 0.5).all()  # the two unused cells stay grey
    path = plots.save_mosaic(mosaic, tmp_path / "grid.png", zoom=3)
    grey = rgb(path)[..., 0]
    assert grey.shape == (3 * mosaic.shape[0], 3 * mosaic.shape[1])
    assert np.abs(grey[6:102:3, 6:102:3] - images[0].astype(np.int32)).max() <= 1


@pytest.mark.parametrize(
    "images", [np.zeros((2, 8, 8), np.float32), np.zeros((8, 8), np.uint8), np.zeros((0, 8, 8), np.uint8)]
)
def test_image_mosaic_rejects_anything_but_uint8_stacks(images):
    with pytest.raises(ValueError, match="uint8 array"):
        plots.image_mosaic(images)


def test_safe_name_keeps_plain_names_and_separates_altered_ones():
    assert safe_name("b4-32to256-1e-4") == "b4-32to256-1e-4"
    assert safe_name("<b>x").startswith("_b_x-") and len(safe_name("<b>x")) == len("_b_x-") + 8
    assert safe_name("<b>x") != safe_name("[b]x") != safe_name("_b_x")


def test_real_clips_spread_from_lowest_to_highest_pitch():
    pitch = torch.tensor([67, 55, 79, 60, 72])
    assert pick_real_clips(pitch, 2) == [1, 2]
    assert pick_real_clips(pitch, 3) == [1, 0, 2]
    assert pick_real_clips(pitch, 9) == [1, 3, 0, 4, 2]
