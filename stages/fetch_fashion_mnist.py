"""Download FashionMNIST's four IDX files and check them against their published MD5 sums.

    python -m stages.fetch_fashion_mnist DIR

Files already in DIR with the right checksum are kept. Then point params.yaml at them:
render.source: idx, render.idx: {images: DIR/train-images-idx3-ubyte.gz, labels: DIR/train-labels-idx1-ubyte.gz}.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import shutil
import urllib.request
from pathlib import Path

from stages.common.outputs import StageError, run_stage

MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}


class ChecksumError(ValueError):
    """A file's MD5 differs from the published one."""


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, md5: str) -> None:
    """Raise ChecksumError unless `path` has the MD5 `md5`."""
    found = md5sum(path)
    if found != md5:
        raise ChecksumError(f"{path}: MD5 {found} does not match the published {md5}")


def _download(url: str, dest: Path, md5: str) -> None:
    partial = dest.with_name(dest.name + ".partial")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        verify(partial, md5)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(dest)


def fetch(target_dir: Path, files: dict[str, str] = FILES, mirrors: tuple[str, ...] = MIRRORS) -> list[Path]:
    """Put every file of `files` (name -> MD5) into `target_dir`, trying each mirror in turn."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, md5 in files.items():
        dest = target_dir / name
        if not (dest.is_file() and md5sum(dest) == md5):
            failures = []
            for mirror in mirrors:
                try:
                    _download(mirror + name, dest, md5)
                    break
                except (OSError, http.client.HTTPException, ChecksumError) as err:
                    failures.append(f"  {mirror + name}: {err}")
            else:
                raise StageError(f"could not fetch {name}:\n" + "\n".join(failures))
        paths.append(dest)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Download FashionMNIST (IDX, gzip) and verify its MD5 checksums.")
    parser.add_argument("dir", type=Path, help="folder to put the four .gz files in")
    for path in fetch(parser.parse_args(argv).dir):
        print(f"{path}  ok")


if __name__ == "__main__":
    run_stage(main)
