"""Figures for judging samples by eye: waveforms, spectrograms, sampler sheets, metric charts.

Figures are built on matplotlib's `Figure` directly (Agg canvas, no pyplot state), so they render
without a display and are freed with the object. Each has a fixed pixel size, and every
spectrogram uses the same dBFS colour scale, so a note and white noise look different at a glance
in any figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import librosa
import librosa.display
import matplotlib.image
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100
CLIP_SIZE = (640, 480)
WAVE_POINTS = 2 * CLIP_SIZE[0]
WAVEFORM_BOX = (0.12, 0.68, 0.72, 0.22)  # (left, bottom, width, height) as fractions of the clip figure
SPECTROGRAM_BOX = (0.12, 0.1, 0.72, 0.48)
SHEET_CELL = (240, 180)
SHEET_TITLE_HEIGHT = 40
CHART_SIZE = (560, 400)
N_FFT = 1024
HOP = 256
DB_RANGE = (-100.0, 0.0)
LOG_AXIS_SPAN = 10


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
    figure = _figure(CLIP_SIZE, layout=None)
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
    figure = _figure((width, height), layout=None)
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


def hyperparameter_chart(table: pd.DataFrame, x: str, metric: str, by: str = "sampler") -> Figure:
    """`metric` against hyperparameter `x`, one line per value of `by` through the mean at each x.

    Every row is also drawn as a faint dot, so the spread behind each mean stays visible. Rows with
    no `by` value (a metric of the checkpoint, not of a sampler) form their own line. A numeric x
    spanning LOG_AXIS_SPAN times or more (learning rates) gets a log axis; a text x (a channel list)
    is placed in order of first appearance.
    """
    missing = [column for column in (x, metric, by) if column not in table.columns]
    if missing:
        raise ValueError(f"results table has no column(s) {missing}; it has: {', '.join(map(str, table.columns))}")
    rows = table[[x, metric, by]].dropna(subset=[x, metric]).fillna({by: f"(any {by})"})
    if rows.empty:
        raise ValueError(f"results table has no rows with both {x!r} and {metric!r} set")
    figure = _figure(CHART_SIZE)
    ax = figure.subplots()
    positions, ticks = _positions(rows[x])
    for index, (name, group) in enumerate(rows.groupby(by, sort=False)):
        colour = f"C{index}"
        where = positions[group.index]
        ax.scatter(where, group[metric], color=colour, alpha=0.3, s=16)
        means = group[metric].groupby(where).mean().sort_index()
        ax.plot(means.index, means.to_numpy(), color=colour, marker="o", label=str(name))
    if ticks is not None:
        ax.set_xticks(range(len(ticks)), ticks, rotation=20, ha="right")
    elif rows[x].min() > 0 and rows[x].max() / rows[x].min() >= LOG_AXIS_SPAN:
        ax.set_xscale("log")
    ax.set(xlabel=x, ylabel=metric, title=f"{metric} vs {x}")
    ax.grid(alpha=0.3)
    ax.legend(title=by, fontsize="small")
    return figure


def image_mosaic(images: np.ndarray, columns: int = 8, pad: int = 2) -> np.ndarray:
    """Tile uint8 images (N, H, W) into one grey image in [0, 1], `pad` pixels of mid-grey between."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] == 0 or images.dtype != np.uint8:
        raise ValueError(f"images must be a non-empty uint8 array (N, H, W), got {images.dtype} {images.shape}")
    if columns < 1 or pad < 0:
        raise ValueError(f"need columns >= 1 and pad >= 0, got columns={columns}, pad={pad}")
    count, height, width = images.shape
    columns = min(columns, count)
    rows = -(-count // columns)
    mosaic = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad), 0.5)
    for i, image in enumerate(images):
        top = pad + (i // columns) * (height + pad)
        left = pad + (i % columns) * (width + pad)
        mosaic[top : top + height, left : left + width] = image / 255
    return mosaic


def save_png(figure: Figure, path: str | Path) -> Path:
    """Write `figure` as a PNG of exactly its pixel size, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def save_mosaic(mosaic: np.ndarray, path: str | Path, zoom: int = 3) -> Path:
    """Write a grey mosaic in [0, 1] as a PNG, each pixel a zoom x zoom block."""
    if zoom < 1:
        raise ValueError(f"zoom must be >= 1, got {zoom}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    big = np.repeat(np.repeat(mosaic, zoom, axis=0), zoom, axis=1)
    matplotlib.image.imsave(path, big, cmap="gray", vmin=0, vmax=1, format="png")
    return path


def _figure(pixels: tuple[int, int], layout: str | None = "constrained") -> Figure:
    """A figure of `pixels` (width, height); clips and sheets pass layout=None and place their axes
    themselves, since constrained layout costs more than drawing them."""
    return Figure(figsize=(pixels[0] / DPI, pixels[1] / DPI), dpi=DPI, layout=layout)


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


def _positions(values: pd.Series) -> tuple[pd.Series, list[str] | None]:
    """x positions for a chart: the values themselves if numeric, else category indices and labels."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float), None
    labels = [str(v) for v in pd.unique(values)]
    return values.astype(str).map({label: i for i, label in enumerate(labels)}), labels


def _mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"a clip must be a non-empty 1-D (mono) array, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("a clip contains NaN or infinite samples")
    return audio
