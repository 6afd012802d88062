"""A killed or stopped train stage resumes on the next `dvc repro`, bit for bit, unless something changed.

Real DVC in a temporary git repository holding the pipeline up to `train` on tiny params; the
stage runs in a subprocess that the test kills with SIGKILL (or stops with SIGINT) in the
middle of its second epoch, found by watching the state it saves after every step.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from sgm.checkpoints.inference import load_for_inference
from sgm.nets.unet1d import SelfAttention1d
from tests.helpers.dvc_project import dvc_project
from tests.helpers.tiny_project import tiny_params

POINT = "tiny-1e-3"
STEPS_PER_EPOCH = 8  # 24 training clips (4 of 16 notes held out), batch 3
STAGES = ["render", "preprocess", "tensorize", "train"]


def params() -> dict:
    p = tiny_params()
    p["render"].update(pitch_low=60, pitch_high=67, clips_per_note=2)
    p["tensorize"]["test_fraction"] = 0.25
    p["archs"] = {"tiny": {"net": "unet1d", "blocks": 2, "channels": [16, 32], "embed_dim": 32}}
    p["grid"] = {POINT: {"arch": "tiny", "lr": 1e-3}}
    p["train"].update(epochs=[1, 2], batch_size=3, save_every_steps=1, save_every_minutes=None, test_examples=4)
    return p


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project up to `train`, tensors made, and the checkpoints of one uninterrupted run."""
    root = tmp_path_factory.mktemp("resume")
    env, run = dvc_project(root, params(), STAGES)

    def start_stage():
        return subprocess.Popen([sys.executable, "-m", "stages.train", POINT], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip

    run("dvc", "repro", "tensorize")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny project")
    run(sys.executable, "-m", "stages.train", POINT)
    straight = checkpoint_hashes(root)
    shutil.rmtree(root / "runs")
    return root, run, start_stage, straight


def content_hash(value, digest) -> None:
    """Feed every tensor's dtype, shape and bytes and every other value's repr, in order, to `digest`."""
    if isinstance(value, dict):
        for key, item in value.items():
            digest.update(repr(key).encode())
            content_hash(item, digest)
    elif isinstance(value, (list, tuple)):
        for item in value:
            content_hash(item, digest)
    elif isinstance(value, torch.Tensor):
        digest.update(f"{value.dtype}{tuple(value.shape)}".encode() + value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        digest.update(repr(value).encode())


def checkpoint_hashes(root: Path) -> dict[str, str]:
    """A hash of every checkpoint's content, bit for bit (the files' bytes also hold torch.save's random serialization id)."""
    hashes = {}
    for path in sorted((root / "runs" / POINT / "train" / "checkpoints").glob("*.pt")):
        digest = hashlib.sha256()
        content_hash(torch.load(path, weights_only=True), digest)
        hashes[path.name] = digest.hexdigest()
    return hashes


def saved_state(root: Path) -> dict | None:
    try:
        return torch.load(root / "runs" / POINT / ".train.partial" / "checkpoints" / "last.pt", weights_only=True)
    except (FileNotFoundError, RuntimeError, EOFError):
        return None


def interrupt_mid_epoch(root: Path, process: subprocess.Popen, signum: int) -> dict:
    """Send `signum` once the saved state is 2 steps into epoch 2; return the state left behind."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        state = saved_state(root)
        if state is not None and state["step"] >= STEPS_PER_EPOCH + 2:
            process.send_signal(signum)
            break
        time.sleep(0.005)
    stdout, stderr = process.communicate(timeout=60)
    left = saved_state(root)
    assert left is not None, f"the stage ended before it could be interrupted:\n{stdout}\n{stderr}"
    assert left["epoch"] == 1 and 0 < left["batch_in_epoch"] < STEPS_PER_EPOCH, "not interrupted mid-epoch"
    return {"returncode": process.returncode, "stderr": stderr, "state": left}


def test_a_run_killed_mid_epoch_resumes_on_dvc_repro_to_the_same_checkpoints(project):
    root, run, start_stage, straight = project
    killed = interrupt_mid_epoch(root, start_stage(), signal.SIGKILL)
    assert killed["returncode"] == -signal.SIGKILL
    log = run("dvc", "repro")
    assert f"resuming runs/{POINT}/.train.partial from step {killed['state']['step']} (epoch 2)" in log.stderr
    assert checkpoint_hashes(root) == straight and len(straight) == 2
    assert not (root / "runs" / POINT / ".train.partial").exists()
    left = {p.relative_to(root / "runs" / POINT / "train").as_posix() for p in (root / "runs" / POINT / "train").rglob("*")}
    assert "fingerprint.json" not in left and "checkpoints/last.pt" not in left and "metrics.json" in left


def test_ctrl_c_ends_the_stage_cleanly_and_the_next_run_resumes(project):
    root, run, start_stage, straight = project
    shutil.rmtree(root / "runs", ignore_errors=True)
    stopped = interrupt_mid_epoch(root, start_stage(), signal.SIGINT)
    assert stopped["returncode"] == 2
    assert stopped["stderr"].strip().splitlines()[-1] == (
        f"error: {POINT}: stopped after step {stopped['state']['step']} (epoch 2); "
        f"runs/{POINT}/.train.partial keeps the state and the next run resumes from it"
    )
    assert "Traceback" not in stopped["stderr"]
    run("dvc", "repro")
    assert checkpoint_hashes(root) == straight


def test_a_changed_learning_rate_after_a_kill_starts_afresh_and_says_why(project):
    root, run, start_stage, straight = project
    shutil.rmtree(root / "runs", ignore_errors=True)
    interrupt_mid_epoch(root, start_stage(), signal.SIGKILL)
    changed = params()
    changed["grid"][POINT]["lr"] = 2e-3
    (root / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    log = run("dvc", "repro")
    run("git", "checkout", "params.yaml")
    assert (
        f"train@{POINT}: starting afresh, not resuming runs/{POINT}/.train.partial: changed since it was saved: "
        "params.grid_point.lr 0.001 -> 0.002\n"
    ) in log.stderr
    assert " from step " not in log.stderr
    state = torch.load(root / "runs" / POINT / "train" / "checkpoints" / "epoch_002.pt", weights_only=True)
    assert state["step"] == 2 * STEPS_PER_EPOCH
    assert checkpoint_hashes(root) != straight


def test_an_arch_with_attention_trains_a_net_that_uses_it(project):
    root, run, _, _ = project
    shutil.rmtree(root / "runs", ignore_errors=True)
    attending = params()
    attending["archs"]["tiny"]["attention_heads"] = 4
    (root / "params.yaml").write_text(yaml.safe_dump(attending, sort_keys=False))
    run(sys.executable, "-m", "stages.train", POINT)
    run("git", "checkout", "params.yaml")
    path = root / "runs" / POINT / "train" / "checkpoints" / "epoch_002.pt"
    assert torch.load(path, weights_only=True)["config"]["attention_heads"] == 4
    net, _, _ = load_for_inference(path, device="cpu")
    attention = net.net.middle
    assert isinstance(attention, SelfAttention1d) and attention.heads == 4
    assert attention.out.weight.abs().max() > 0  # trained away from its zero start
    shutil.rmtree(root / "runs")
