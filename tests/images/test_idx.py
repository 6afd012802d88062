import gzip

import numpy as np
import pytest

from sgm.images.idx import IdxError, parse_idx, read_idx, read_image_set

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of `array`, written from the format description (big-endian header and data)."""
    header = bytes([0, 0, TYPE_CODES[array.dtype.type], array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


ARRAYS = [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10,
    np.array([-128, -1, 0, 127], dtype=np.int8),
    np.array([[-30000, 5], [1, 30000]], dtype=np.int16),
    np.array([-(2**31), 2**31 - 1, 7], dtype=np.int32),
    np.array([[0.5, -1.25e-3, 3e8]], dtype=np.float32),
    np.array([np.pi, -np.e], dtype=np.float64),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: a.dtype.name)
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_round_trips_raw_and_gzip(tmp_path, array, compress):
    data = idx_bytes(array)
    path = tmp_path / "data.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    result = read_idx(path)
    assert result.dtype == array.dtype and result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_gzip_is_recognised_by_magic_bytes_not_by_name(tmp_path):
    array = ARRAYS[0]
    (tmp_path / "looks-raw").write_bytes(gzip.compress(idx_bytes(array)))
    (tmp_path / "looks-compressed.gz").write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-raw"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-compressed.gz"), array)


GOOD = idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", r"not an IDX file \(magic number missing"),
        (b"\x01\x00" + GOOD[2:], r"not an IDX file \(magic number 01000803"),
        (b"\x00\x00\x07\x03" + GOOD[4:], r"unknown IDX type code 0x07; accepted: 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E"),
        (b"\x00\x00\x08\x00", "header declares 0 dimensions"),
        (GOOD[:10], r"truncated header \(10 bytes, 3 dimensions need 16\)"),
        (GOOD[:-1], r"truncated: dimensions \(2, 3, 3\) of uint8 need 18 data bytes, found 17"),
        (GOOD + b"\x00", "has trailing bytes: .* need 18 data bytes, found 19"),
    ],
)
def test_parse_idx_rejects_corrupted_headers_and_lengths(data, message):
    with pytest.raises(IdxError, match=message):
        parse_idx(data, "x.idx")


def test_read_idx_reports_corrupt_gzip_and_missing_files(tmp_path):
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(GOOD)[:-6])
    with pytest.raises(IdxError, match="broken.gz: corrupt gzip data"):
        read_idx(broken)
    with pytest.raises(IdxError, match="nowhere.idx: cannot be read"):
        read_idx(tmp_path / "nowhere.idx")


def test_read_image_set_pairs_images_with_int64_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([9, 0, 3, 3, 1], dtype=np.uint8)
    (tmp_path / "images").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    got_images, got_labels = read_image_set(tmp_path / "images", tmp_path / "labels")
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.dtype == np.int64 and got_labels.tolist() == [9, 0, 3, 3, 1]
    assert read_image_set(tmp_path / "images")[1].tolist() == [-1] * 5


def test_read_image_set_rejects_wrong_shapes_types_and_counts(tmp_path):
    (tmp_path / "images").write_bytes(idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8)))
    (tmp_path / "flat").write_bytes(idx_bytes(np.zeros(16, dtype=np.uint8)))
    (tmp_path / "floats").write_bytes(idx_bytes(np.zeros((4, 2, 2), dtype=np.float32)))
    (tmp_path / "three_labels").write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(IdxError, match=r"expected uint8 images \(N, height, width\), got uint8 \(16,\)"):
        read_image_set(tmp_path / "flat")
    with pytest.raises(IdxError, match=r"got float32 \(4, 2, 2\)"):
        read_image_set(tmp_path / "floats")
    with pytest.raises(IdxError, match="holds 3 labels but .*images holds 4 images"):
        read_image_set(tmp_path / "images", tmp_path / "three_labels")
    with pytest.raises(IdxError, match=r"expected uint8 labels \(N,\), got uint8 \(4, 2, 2\)"):
        read_image_set(tmp_path / "images", tmp_path / "images")
