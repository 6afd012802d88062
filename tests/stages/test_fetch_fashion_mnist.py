import hashlib

import pytest

from stages.common.outputs import StageError
from stages.fetch_fashion_mnist import ChecksumError, fetch, md5sum, verify


def test_verify_accepts_the_right_md5_and_names_a_wrong_one(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert md5sum(path) == "900150983cd24fb0d6963f7d28e17f72"
    verify(path, "900150983cd24fb0d6963f7d28e17f72")
    path.write_bytes(b"abd")
    with pytest.raises(ChecksumError, match="abc: MD5 [0-9a-f]{32} does not match the published 900150983cd24fb0d6963f7d28e17f72"):
        verify(path, "900150983cd24fb0d6963f7d28e17f72")


def local_mirror(tmp_path, contents: dict[str, bytes]):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in contents.items():
        (mirror / name).write_bytes(data)
    return mirror.as_uri() + "/"


def test_fetch_downloads_from_the_first_working_mirror_and_verifies(tmp_path):
    good = local_mirror(tmp_path, {"a.gz": b"first", "b.gz": b"second"})
    files = {name: hashlib.md5(data).hexdigest() for name, data in {"a.gz": b"first", "b.gz": b"second"}.items()}
    paths = fetch(tmp_path / "out", files, mirrors=((tmp_path / "no-such-mirror").as_uri() + "/", good))
    assert [p.read_bytes() for p in paths] == [b"first", b"second"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.gz", "b.gz"]


def test_fetch_refuses_a_file_with_the_wrong_checksum_and_leaves_nothing(tmp_path):
    mirror = local_mirror(tmp_path, {"a.gz": b"tampered"})
    with pytest.raises(StageError, match="could not fetch a.gz:\n.*a.gz: .*MD5 .* does not match the published"):
        fetch(tmp_path / "out", {"a.gz": hashlib.md5(b"original").hexdigest()}, mirrors=(mirror,))
    assert list((tmp_path / "out").iterdir()) == []


def test_fetch_keeps_a_verified_file_without_downloading(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.gz").write_bytes(b"kept")
    paths = fetch(tmp_path / "out", {"a.gz": hashlib.md5(b"kept").hexdigest()}, mirrors=((tmp_path / "offline").as_uri() + "/",))
    assert paths[0].read_bytes() == b"kept"
