"""The train stage on several processes, through real DVC and torchrun (gloo on the CPU).

`train.nproc_per_node: 2` makes `dvc repro` launch torchrun with two processes; `train.nnodes: 2`
with one process each stands for two machines meeting at a real c10d rendezvous on localhost
(one runs DVC, the other `python -m stages.train POINT` in the same checkout, as on a cluster with
a shared filesystem). Each gives the checkpoints one process gives, to float32 tolerance; the
process count is not in the cache key; a run stopped by SIGTERM resumes on the next `dvc repro`
to the checkpoints of an uninterrupted one.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
import yaml

from tests.helpers.dvc_project import dvc_project
from tests.helpers.tiny_project import one_point_params

POINT = "tiny-1e-3"
STAGES = ["render", "preprocess", "tensorize", "train"]
EPOCHS = [1, 2]
STEPS_PER_EPOCH = 4  # 16 of 24 clips for training, batch 4


def params(**train) -> dict:
    p = one_point_params(POINT)
    p["render"]["pitch_high"] = 63  # 4 pitches x 2 instruments x 2 clips, 8 of them held out
    p["tensorize"]["test_fraction"] = 0.34
    p["train"].update({"epochs": EPOCHS, "fast_path": "off", "save_every_minutes": None, **train})  # float32: tolerances of float rounding
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The tiny project up to `train`, committed, with the weights of a one-process run."""
    root = tmp_path_factory.mktemp("data_parallel")
    env, run = dvc_project(root, params(), STAGES)

    def set_params(**train):
        (root / "params.yaml").write_text(yaml.safe_dump(params(**train), sort_keys=False))

    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny project")
    run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "one process")
    return root, env, run, set_params, weights(root)


def weights(root, epochs=EPOCHS) -> dict[int, dict]:
    """The EMA weights of each epoch checkpoint of the point."""
    folder = root / "runs" / POINT / "train" / "checkpoints"
    return {epoch: torch.load(folder / f"epoch_{epoch:03d}.pt", weights_only=True)["ema"] for epoch in epochs}


def assert_same_run(found: dict, expected: dict) -> None:
    """Equal up to float rounding: half-batch gradients averaged differ from whole-batch ones in the last
    bits, which Adam's normalisation can lift to ~2e-5 on a weight (measured); one Adam step here is 1e-3."""
    for epoch, state in expected.items():
        for name, tensor in state.items():
            torch.testing.assert_close(found[epoch][name], tensor, rtol=1e-3, atol=1e-4, msg=lambda default: f"epoch {epoch}, {name}: {default}")


def test_two_processes_launched_by_the_stage_train_the_one_process_run_and_share_its_cache_key(project):
    root, _, run, set_params, one = project
    set_params(nproc_per_node=2)
    status = run("dvc", "status", "train")
    assert "up to date" in status.stdout  # the process count is not in the cache key
    log = run("dvc", "repro", "--force", "train")
    assert f"train@{POINT}: on cpu, 2 processes" in log.stderr
    assert_same_run(weights(root), one)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"][f"train@{POINT}"]
    assert lock["cmd"] == f"python -m stages.train {POINT}"
    assert "nproc_per_node" not in lock["params"]["params.yaml"].get("train", {})
    assert f"runs/{POINT}/train/checkpoints" in {out["path"] for out in lock["outs"]}
    assert "up to date" in run("dvc", "status", "train").stdout  # dvc.lock holds what the two processes wrote
    set_params()
    assert "up to date" in run("dvc", "status", "train").stdout
    run("git", "checkout", "dvc.lock", "params.yaml")


def test_two_machines_meet_at_a_c10d_rendezvous_and_train_the_one_process_run(project):
    root, env, run, set_params, one = project
    set_params(nnodes=2)
    machines = {**env, "PET_RDZV_ENDPOINT": f"127.0.0.1:{free_port()}", "PET_RDZV_ID": "two-machines"}
    other = subprocess.Popen([sys.executable, "-m", "stages.train", POINT], cwd=root, env=machines,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    here = subprocess.run(["dvc", "repro", "--force", "train"], cwd=root, env=machines, capture_output=True, text=True, timeout=300)
    other_out, other_err = other.communicate(timeout=120)
    assert here.returncode == 0 and other.returncode == 0, f"{here.stdout}\n{here.stderr}\n---\n{other_out}\n{other_err}"
    rank_zero = here.stderr + other_err  # c10d numbers the machines in its own order: either may hold rank 0
    assert rank_zero.count(f"train@{POINT}: on cpu, 2 processes") == 1
    assert_same_run(weights(root), one)
    assert "up to date" in run("dvc", "status", "train").stdout
    run("git", "checkout", "dvc.lock", "params.yaml")


def test_several_machines_need_a_rendezvous_endpoint_before_anything_starts(project):
    root, _, run, set_params, _ = project
    set_params(nnodes=2)
    failed = run(sys.executable, "-m", "stages.train", POINT, check=False)
    run("git", "checkout", "params.yaml")
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines()[-1] == (
        "error: train.nnodes=2: set PET_RDZV_ENDPOINT=host:port (a machine of the job every machine reaches) "
        "and PET_RDZV_ID=<job name> on every machine"
    )
    assert not (root / "runs" / POINT / ".train.partial").exists()


def test_a_two_process_run_stopped_by_sigterm_resumes_on_dvc_repro_to_the_uninterrupted_run(project):
    root, env, run, set_params, _ = project
    epochs = [1, 8]  # 32 steps: time to stop it in the middle
    set_params(nproc_per_node=2, save_every_steps=1, epochs=epochs)
    run("dvc", "repro", "train")
    straight = weights(root, epochs)
    shutil.rmtree(root / "runs")
    stage = subprocess.Popen([sys.executable, "-m", "stages.train", POINT], cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    last = root / "runs" / POINT / ".train.partial" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and stage.poll() is None:
        try:
            if torch.load(last, weights_only=True)["step"] >= STEPS_PER_EPOCH + 1:
                stage.send_signal(signal.SIGTERM)  # to torchrun, which passes it to both processes
                break
        except (FileNotFoundError, RuntimeError, EOFError):
            pass
        time.sleep(0.01)
    _, stderr = stage.communicate(timeout=120)
    state = torch.load(last, weights_only=True)
    assert stage.returncode != 0 and state["step"] < epochs[-1] * STEPS_PER_EPOCH, f"not stopped:\n{stderr}"
    assert f"error: {POINT}: stopped after step {state['step']} (epoch {state['epoch'] + 1})" in stderr
    log = run("dvc", "repro", "train")
    assert f"resuming runs/{POINT}/.train.partial from step {state['step']}" in log.stderr
    resumed = weights(root, epochs)
    for epoch, tensors in straight.items():
        assert all(torch.equal(resumed[epoch][name], tensor) for name, tensor in tensors.items()), f"epoch {epoch} differs"
    run("git", "checkout", "dvc.lock", "params.yaml")
