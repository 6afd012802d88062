"""One device per queued experiment: DVC's queue workers started by stages.queue_workers, with real DVC.

Two experiments are queued in a tiny project whose data stages ran once; two workers start, pinned
to CUDA_VISIBLE_DEVICES 0 and 1 (on the CPU the setting is only passed on, which is what is
checked: each experiment's train stage reports the one it was given, so each was taken by its own
worker). Neither reruns a data stage, and both end with the same numbers as the same experiments
run one after the other with plain `dvc exp run`. Whether the two runs overlap in time depends on
how fast the first finishes, so it is not asserted.
"""

from __future__ import annotations

import json
import re
import time

from tests.helpers.dvc_project import dvc_project
from tests.helpers.tiny_project import one_point_params

POINT = "tiny-1e-3"
STAGES = ["render", "preprocess", "tensorize", "train"]
RATES = {"lr2": 0.002, "lr3": 0.003}
TIMEOUT = 600


def test_queued_experiments_each_run_by_a_worker_on_its_own_device(tmp_path):
    params = one_point_params()
    _, run = dvc_project(tmp_path, params, stages=STAGES)
    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny project")
    run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "data and baseline")
    for name, lr in RATES.items():
        run("dvc", "exp", "run", "--queue", "-n", name, "-S", f"grid.{POINT}.lr={lr}")
    started = run("python", "-m", "stages.queue_workers", "0", "1")
    assert started.stdout.splitlines() == ["queue worker 1: CUDA_VISIBLE_DEVICES=0", "queue worker 2: CUDA_VISIBLE_DEVICES=1"]

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        status = run("dvc", "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(0.5)
    assert status.count("Success") == 2, status

    devices = {}
    for name in RATES:
        log = run("dvc", "queue", "logs", name).stdout
        devices[name] = re.search(r"train@tiny-1e-3: on cpu \(CUDA_VISIBLE_DEVICES=(\d)\)", log).group(1)
        assert "Running stage 'render'" not in log and "Running stage 'tensorize'" not in log, log
    assert sorted(devices.values()) == ["0", "1"]

    for name, lr in RATES.items():
        run("dvc", "exp", "run", "-n", f"{name}-after", "-S", f"grid.{POINT}.lr={lr}")

    def losses(experiment: str) -> dict:
        run("dvc", "exp", "apply", experiment)
        metrics = json.loads((tmp_path / "runs" / POINT / "train" / "metrics.json").read_text())
        return {epoch: (m["train_loss"], m["test_loss"]) for epoch, m in metrics.items()}

    for name in RATES:
        assert losses(name) == losses(f"{name}-after")
    assert losses("lr2") != losses("lr3")
