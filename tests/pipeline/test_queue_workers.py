"""One device per queued experiment: DVC's queue workers started by stages.queue_workers, with real DVC.

Two experiments are queued in a tiny project whose data stages ran once, each keeping one of its
two grid points (`-S ~grid.OTHER`, as docs/scaling.md splits the study's grid). Two workers start,
pinned to CUDA_VISIBLE_DEVICES 0 and 1 (on the CPU the setting is only passed on, which is what is
checked: each experiment's train stage reports the one it was given). Each experiment trains long
enough (about 20 s) that the first worker is still busy when the second comes up, so each worker
takes one: two devices seen means two experiments run in parallel workers. Neither reruns a data
stage, and both end with the same numbers as the same experiments run one after the other.
"""

from __future__ import annotations

import json
import re
import time

from tests.helpers.dvc_project import dvc_project
from tests.helpers.tiny_project import tiny_params

STAGES = ["render", "preprocess", "tensorize", "train"]
POINTS = ["tiny-1e-3", "tiny-3e-3"]
EPOCHS = 200  # 400 steps, about 20 s on one core
TIMEOUT = 600


def keep_only(point: str) -> list[str]:
    """The -S flags of an experiment with `point` as its only grid point."""
    return [flag for other in POINTS if other != point for flag in ("-S", f"~grid.{other}")] + ["-S", f"play.point={point}"]


def test_queued_experiments_each_run_by_its_own_worker_on_its_own_device(tmp_path):
    params = tiny_params()
    params["train"].update(epochs=[EPOCHS], log_every=50, save_every_minutes=None)
    env, run = dvc_project(tmp_path, params, stages=STAGES)
    env["OMP_NUM_THREADS"] = "1"  # one core per experiment
    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny project")
    run("dvc", "repro", "tensorize")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "data")
    for point in POINTS:
        run("dvc", "exp", "run", "--queue", "-n", point, *keep_only(point))
    started = run("python", "-m", "stages.queue_workers", "0", "1")
    assert started.stdout.splitlines() == ["queue worker 1: CUDA_VISIBLE_DEVICES=0", "queue worker 2: CUDA_VISIBLE_DEVICES=1"]

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        status = run("dvc", "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(1)
    assert status.count("Success") == 2, status

    devices = {}
    for point in POINTS:
        log = run("dvc", "queue", "logs", point).stdout
        found = re.findall(rf"train@{point}: on cpu \(CUDA_VISIBLE_DEVICES=(\d)\)", log)
        assert len(found) == 1, log
        devices[point] = found[0]
        assert "Running stage 'render'" not in log and "Running stage 'tensorize'" not in log, log
    assert sorted(devices.values()) == ["0", "1"], devices

    for point in POINTS:
        run("dvc", "exp", "run", "-n", f"{point}-after", *keep_only(point))

    def losses(experiment: str, point: str) -> dict:
        run("dvc", "exp", "apply", experiment)
        metrics = json.loads((tmp_path / "runs" / point / "train" / "metrics.json").read_text())
        return {epoch: (m["train_loss"], m["test_loss"]) for epoch, m in metrics.items()}

    for point in POINTS:
        assert losses(point, point) == losses(f"{point}-after", point)
    assert losses(POINTS[0], POINTS[0]) != losses(POINTS[1], POINTS[1])
