"""Figures for judging clips by eye: waveform over spectrogram, and spectrogram sheets comparing samplers.

Every spectrogram uses the same dBFS colour scale, so a note and white noise look different at a
glance in any figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import librosa
import librosa.display
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sgm.kinds.figures import new_figure

CLIP_SIZE = (640, 480)
WAVE_POINTS = 2 * CLIP_SIZE[0]
WAVEFORM_BOX = (0.12, 0.68, 0.72, 0.22)  # (left, bottom, width, height) as fractions of the clip figure
SPECTROGRAM_BOX = (0.12, 0.1, 0.72, 0.48)
SHEET_CELL = (240, 180)
SHEET_TITLE_HEIGHT = 40
N_FFT = 1024
HOP = 256
DB_RANGE = (-100.0, 0.0)


def spectrogram_db(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Magnitude STFT (bins, frames) in dB relative to full scale: a full-scale sine peaks near 0 dB.

    The window is shortened to the clip's length for clips shorter than `n_fft`.
    """
    audio = _mono(audio)
    n_fft = min(n_fft, len(audio))
    window = librosa.filters.get_window("hann", n_fft, fftbins=True)
    amplitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop, window=window)) * 2 / window.sum()
    return librosa.amplitude_to_db(amplitude, ref=1.0, amin=10 ** (DB_RANGE[0] / 20), top_db=None)


def clip_figure(audio: np.ndarray, sample_rate: int, title: str = "") -> Figure:
    """One clip as its waveform above its spectrogram, CLIP_SIZE pixels."""
    audio = _mono(audio)
    figure = new_figure(CLIP_SIZE, layout=None)
    wave_ax = figure.add_axes(WAVEFORM_BOX)
    spec_ax = figure.add_axes(SPECTROGRAM_BOX, sharex=wave_ax)
    colour_ax = figure.add_axes((0.86, SPECTROGRAM_BOX[1], 0.025, SPECTROGRAM_BOX[3]))
    librosa.display.waveshow(audio, sr=sample_rate, max_points=WAVE_POINTS, ax=wave_ax)
    wave_ax.set(ylim=(-1.05, 1.05), xlabel="", ylabel="amplitude")
    wave_ax.tick_params(labelbottom=False)
    mesh = _draw_spectrogram(spec_ax, audio, sample_rate)
    figure.colorbar(mesh, cax=colour_ax, format="%+.0f dB")
    if title:
        figure.suptitle(title)
    return figure


def sampler_sheet(clips: Mapping[str, np.ndarray], sample_rate: int, columns: int = 4, title: str = "") -> Figure:
    """Spectrograms side by side: one row per sampler, its first `columns` clips (N, L) across.

    The figure is columns * SHEET_CELL wide and rows * SHEET_CELL (+ SHEET_TITLE_HEIGHT) tall.
    """
    if not clips:
        raise ValueError("sampler_sheet needs at least one sampler's clips, got none")
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    for name, batch in clips.items():
        if np.ndim(batch) != 2 or len(batch) == 0:
            raise ValueError(f"clips of {name!r} must be a non-empty (N, L) array, got shape {np.shape(batch)}")
    rows = len(clips)
    width, height = columns * SHEET_CELL[0], rows * SHEET_CELL[1] + SHEET_TITLE_HEIGHT
    figure = new_figure((width, height), layout=None)
    spacing = {
        "left": 100 / width,
        "right": 1 - 10 / width,
        "bottom": 30 / height,
        "top": 1 - (SHEET_TITLE_HEIGHT + 20) / height,
        "wspace": 0.1,
        "hspace": 0.35,
    }
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True, gridspec_kw=spacing)
    for row, (name, batch) in zip(axes, clips.items()):
        for column, ax in enumerate(row):
            if column < len(batch):
                _draw_spectrogram(ax, batch[column], sample_rate)
                ax.set(xlabel="", ylabel="", title=f"#{column}")
                ax.xaxis.set_major_locator(MaxNLocator(3))
            else:
                ax.set_axis_off()
        row[0].set_ylabel(f"{name}\nHz")
    figure.suptitle(title or "spectrograms by sampler")
    return figure


def _draw_spectrogram(ax, audio: np.ndarray, sample_rate: int):
    return librosa.display.specshow(
        spectrogram_db(audio),
        sr=sample_rate,
        hop_length=HOP,
        n_fft=min(N_FFT, len(audio)),
        x_axis="time",
        y_axis="log",
        vmin=DB_RANGE[0],
        vmax=DB_RANGE[1],
        cmap="magma",
        ax=ax,
    )


def _mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"a clip must be a non-empty 1-D (mono) array, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("a clip contains NaN or infinite samples")
    return audio
