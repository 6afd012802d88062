"""Images as one picture: a mosaic of uint8 images, written as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np


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


def save_mosaic(mosaic: np.ndarray, path: str | Path, zoom: int = 3) -> Path:
    """Write a grey mosaic in [0, 1] as a PNG, each pixel a zoom x zoom block."""
    if zoom < 1:
        raise ValueError(f"zoom must be >= 1, got {zoom}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    big = np.repeat(np.repeat(mosaic, zoom, axis=0), zoom, axis=1)
    matplotlib.image.imsave(path, big, cmap="gray", vmin=0, vmax=1, format="png")
    return path
