"""What every stage shares: atomic outputs, stop requests and clean error reporting."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path

from sgm.kinds.kind import DataError
from stages.common.params import ParamsError


class StageError(Exception):
    """An expected failure (bad input, bad data); reported as a message, not a traceback."""


@contextlib.contextmanager
def atomic_dir(path: Path, keep_failed: bool = False, reuse: bool = False):
    """Yield a fresh temporary directory that replaces `path` only if the block succeeds.

    DVC caches a stage's outputs after it exits; writing beside the final path and renaming at the
    end means a failed or interrupted stage never leaves a half-written output behind. With
    `keep_failed`, a failed attempt stays in .NAME.partial beside it for inspection until the next
    run; with `reuse`, the next run continues in it instead of emptying it.
    """
    path = Path(path)
    tmp = partial_dir(path)
    if not reuse:
        shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, exist_ok=reuse)
    try:
        yield tmp
    except BaseException:
        if not keep_failed:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def partial_dir(path: Path) -> Path:
    """Where atomic_dir builds `path`: .NAME.partial beside it."""
    return Path(path).with_name(f".{Path(path).name}.partial")


@contextlib.contextmanager
def stop_requests(signals=(signal.SIGINT, signal.SIGTERM)):
    """Turn the first SIGINT (Ctrl-C) or SIGTERM into a request to stop cleanly.

    Yields a function that says whether one arrived, for the work to ask at a safe point; a
    second signal of the same kind acts at once, as it would without this.
    """
    received = []

    def request(signum, frame):
        received.append(signum)
        signal.signal(signum, previous[signum])

    previous = {signum: signal.signal(signum, request) for signum in signals}
    try:
        yield lambda: bool(received)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _write_atomically(path: Path, write) -> None:
    """Call write(temporary path) beside `path`, then rename it over `path`: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    """Write JSON atomically."""
    _write_atomically(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def write_csv(path: Path, table) -> None:
    """Write a pandas table as CSV atomically."""
    _write_atomically(path, lambda tmp: table.to_csv(tmp, index=False))


def grid_point_argument(params, stage: str) -> str:
    """The grid point named on the command line of `python -m stages.STAGE POINT`."""
    point = sys.argv[1] if len(sys.argv) == 2 else None
    if point not in params.grid:
        raise StageError(f"usage: python -m stages.{stage} POINT, with POINT one of: {', '.join(params.grid)}")
    return point


def run_stage(main) -> None:
    """Run a stage's main(); expected errors (bad params, bad data) print one clear message and exit with status 2."""
    try:
        main()
    except (ParamsError, StageError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
