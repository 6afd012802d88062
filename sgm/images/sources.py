"""Image data sets for the sanity rung: MNIST-style IDX files, or scikit-learn's bundled 8x8 digits.

Both are stored as images.pt {"images": uint8 (N, H, W), "labels": int64 (N,)} with a notes.csv
index of one row per image (file "images.pt", program = the class label or -1, note_id = the
image's index), the index the audio sources write too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sgm.images.digits import digit_images
from sgm.images.idx import IdxError, read_image_set
from sgm.kinds.kind import DataError

IMAGES_FILE = "images.pt"


def render_from_idx(render, out_dir: Path) -> None:
    """Copy an MNIST-style image set into images.pt and notes.csv (see write_image_set)."""
    idx = render.idx
    try:
        images, labels = read_image_set(Path(idx.images), Path(idx.labels) if idx.labels else None)
    except IdxError as err:
        raise DataError(str(err)) from None
    write_image_set(images, labels, out_dir)


def render_from_digits(out_dir: Path) -> None:
    """scikit-learn's 1797 8x8 digits (bundled in its wheel) as images.pt and notes.csv."""
    write_image_set(*digit_images(), out_dir)


def write_image_set(images: np.ndarray, labels: np.ndarray, out_dir: Path) -> None:
    """Write images.pt {"images": uint8 (N, H, W), "labels": int64 (N,)} plus notes.csv.

    notes.csv has one row per image: file "images.pt", program = label (-1 without a labels
    file), pitch -1, note_id = the image's index, clip 0.
    """
    torch.save({"images": torch.from_numpy(images), "labels": torch.from_numpy(labels)}, out_dir / IMAGES_FILE)
    n = len(images)
    notes = pd.DataFrame(
        {
            "file": IMAGES_FILE,
            "program": labels,
            "instrument": "",
            "family": "",
            "pitch": -1,
            "note": "",
            "frequency": np.nan,
            "clip": 0,
            "note_id": np.arange(n),
        }
    )
    notes.to_csv(out_dir / "notes.csv", index=False)
