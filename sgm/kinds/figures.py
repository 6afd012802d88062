"""Figures of a fixed pixel size, built on matplotlib's `Figure` directly (Agg canvas, no pyplot
state): they render without a display and are freed with the object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sgm.audio.wav import write_wav

DPI = 100


def new_figure(pixels: tuple[int, int], layout: str | None = "constrained") -> Figure:
    """A figure of `pixels` (width, height); clips and sheets pass layout=None and place their axes
    themselves, since constrained layout costs more than drawing them."""
    return Figure(figsize=(pixels[0] / DPI, pixels[1] / DPI), dpi=DPI, layout=layout)


def save_png(figure: Figure, path: str | Path) -> Path:
    """Write `figure` as a PNG of exactly its pixel size, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def save_real_clip(out: Path, n: int, test_index: int, pitch: int, figure: Figure, audio: np.ndarray, sample_rate: int) -> dict:
    """The n-th real test clip as real/real_NNN.png and .wav under `out`; returns its entry in the plot index."""
    clip = {"test_index": test_index, "pitch": pitch, "png": f"real/real_{n:03d}.png", "wav": f"real/real_{n:03d}.wav"}
    save_png(figure, out / clip["png"])
    write_wav(out / clip["wav"], np.clip(audio, -1, 1), sample_rate)
    return {**clip, "caption": f"test clip {test_index}, MIDI pitch {pitch}"}
