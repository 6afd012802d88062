"""Start DVC's experiment queue workers, each pinned to its own GPU: python -m stages.queue_workers 0 1 2 3.

`dvc queue start -j N` starts workers 1..N that are not running yet, each inheriting the
environment of the command that started it, so all of them would see the same GPUs and every
experiment would pick cuda:0. This starts worker k alone with CUDA_VISIBLE_DEVICES set to the k-th
device given: each queued experiment then trains, samples and evaluates on the one GPU of the
worker that took it. The pinning lives in the workers' environment only, never in params, dvc.lock
or any output, so an experiment's results do not depend on which worker ran it. Queue the
experiments first (`dvc exp run --queue ...`); workers stop when the queue is empty.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time

from stages.common.outputs import StageError, run_stage

WORKER_START_SECONDS = 60


def running_workers() -> int:
    """How many queue workers are up, from `dvc queue status`."""
    status = subprocess.run(["dvc", "queue", "status"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Worker status: (\d+) active, (\d+) idle", status)
    if found is None:
        raise StageError(f"could not read the workers from `dvc queue status`:\n{status}")
    return int(found.group(1)) + int(found.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.queue_workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("devices", nargs="+", help="CUDA_VISIBLE_DEVICES of each worker, in order: 0 1 2 3, or 0,1 2,3 for two GPUs a worker")
    devices = parser.parse_args().devices
    if running_workers():
        raise StageError("queue workers are already running, with devices of their own: wait for them or `dvc queue stop`, then start these")
    for number, device in enumerate(devices, start=1):
        start_worker(number, device)
        wait_for_workers(number)
        print(f"queue worker {number}: CUDA_VISIBLE_DEVICES={device}")


def start_worker(number: int, device: str) -> None:
    """`dvc queue start -j number` with CUDA_VISIBLE_DEVICES=device: starts worker `number`, the others being up.

    The worker outlives the command and keeps the files it inherited open, so its output goes to
    a file rather than a pipe, which would not close until the worker stops.
    """
    with tempfile.TemporaryFile("w+") as log:
        started = subprocess.run(["dvc", "queue", "start", "-j", str(number)], env={**os.environ, "CUDA_VISIBLE_DEVICES": device}, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if started.returncode:
            log.seek(0)
            raise StageError(f"dvc queue start -j {number} failed:\n{log.read()}")


def wait_for_workers(count: int) -> None:
    """Until `count` workers are up: a worker not yet registered would be started a second time by the next `dvc queue start`."""
    deadline = time.monotonic() + WORKER_START_SECONDS
    while running_workers() < count:
        if time.monotonic() > deadline:
            raise StageError(f"queue worker {count} did not come up within {WORKER_START_SECONDS} s (see `dvc queue status`)")
        time.sleep(0.2)


if __name__ == "__main__":
    run_stage(main)
