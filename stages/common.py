"""What every stage shares: the file layout, atomic outputs and clean error reporting."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path

from sgm.layouts import Layout, layout_from_dict
from stages.config import ParamsError

NOTES_DIR = Path("data/notes")
CLEAN_DIR = Path("data/clean")
TENSORS_DIR = Path("data/tensors")
RUNS_DIR = Path("runs")
RESULTS_DIR = Path("results")
PLOTS_DIR = Path("plots")
REPORT_DIR = Path("report")
PLAY_DIR = Path("play")


class StageError(Exception):
    """An expected failure (bad input, bad data); reported as a message, not a traceback."""


def checkpoint_name(epoch: int) -> str:
    return f"epoch_{epoch:03d}"


def train_dir(point: str) -> Path:
    return RUNS_DIR / point / "train"


def checkpoint_file(train_root: Path, epoch: int) -> Path:
    """The checkpoint of `epoch` under a train stage's output directory (see train_dir)."""
    return train_root / "checkpoints" / f"{checkpoint_name(epoch)}.pt"


def samples_dir(point: str) -> Path:
    return RUNS_DIR / point / "samples"


def train_metrics_file(point: str) -> Path:
    return train_dir(point) / "metrics.json"


def sampling_metrics_file(point: str) -> Path:
    """Beside, not inside, the samples directory: DVC forbids a metrics file inside an output."""
    return RUNS_DIR / point / "sampling.json"


def eval_metrics_file(point: str) -> Path:
    return RUNS_DIR / point / "eval" / "metrics.json"


def by_instrument_file(point: str) -> Path:
    """In-band flatness per instrument of a grid point's samples and of the held-out clips (see stages.evaluate)."""
    return RUNS_DIR / point / "eval" / "by_instrument.csv"


def summary_file(point: str) -> Path:
    """A grid point's headline numbers under short names, for `dvc exp show` (see stages.evaluate)."""
    return RUNS_DIR / point / "summary.json"


REFERENCE_FILE = RESULTS_DIR / "reference" / "metrics.json"


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


def read_layout() -> Layout:
    """The layout the tensorize stage stored in data/tensors/layout.json; StageError when missing or damaged."""
    path = TENSORS_DIR / "layout.json"
    if not path.is_file():
        raise StageError(f"{path} is missing (run the tensorize stage first)")
    try:
        return layout_from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        raise StageError(f"{path} is not a layout written by the tensorize stage: {err}") from None


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
    """Run a stage's main(); expected errors print one clear message and exit with status 2."""
    try:
        main()
    except (ParamsError, StageError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
