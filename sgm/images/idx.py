"""Read IDX files, the format of MNIST and FashionMNIST, raw or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """A file is not valid IDX; the message names the file and what is wrong."""


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes into a native-endian array with the dimensions from the header."""
    if len(data) < 4 or data[:2] != b"\0\0":
        raise IdxError(f"{name}: not an IDX file (magic number {data[:4].hex() or 'missing'}; IDX starts with 0000, a type code and a dimension count)")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_TYPES:
        accepted = ", ".join(f"0x{code:02X}" for code in IDX_TYPES)
        raise IdxError(f"{name}: unknown IDX type code 0x{type_code:02X}; accepted: {accepted}")
    if ndim == 0:
        raise IdxError(f"{name}: header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions need {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise IdxError(f"{name}: {problem}: dimensions {dims} of {dtype.name} need {expected} data bytes, found {found}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file; gzip compression is recognised by its magic bytes, not by the file name."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise IdxError(f"{path}: cannot be read: {err.strerror}") from None
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise IdxError(f"{path}: corrupt gzip data: {err}") from None
    return parse_idx(data, str(path))


def read_image_set(images_path: Path, labels_path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, H, W) and labels int64 (N,) from an MNIST-style pair of IDX files.

    Without a labels file every label is -1 (unknown).
    """
    images = read_idx(images_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxError(f"{images_path}: expected uint8 images (N, height, width), got {images.dtype.name} {images.shape}")
    if labels_path is None:
        return images, np.full(len(images), -1, dtype=np.int64)
    labels = read_idx(labels_path)
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IdxError(f"{labels_path}: expected uint8 labels (N,), got {labels.dtype.name} {labels.shape}")
    if len(labels) != len(images):
        raise IdxError(f"{labels_path} holds {len(labels)} labels but {images_path} holds {len(images)} images")
    return images, labels.astype(np.int64)
