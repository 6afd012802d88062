"""Figures of a fixed pixel size, built on matplotlib's `Figure` directly (Agg canvas, no pyplot
state): they render without a display and are freed with the object."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

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
