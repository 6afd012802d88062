"""Image mosaics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sgm.images import figures as plots


def rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int32)


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
