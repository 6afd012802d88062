"""Experiments shared across machines: a git remote for the experiments, a DVC remote for their data.

Two clones of one bare git repository stand for two machines, a local-directory DVC remote (a
real remote type, no mock) for the team's storage. Clone A runs an experiment and pushes it;
clone B, which never trained, pulls and applies it and gets the same checkpoints and metrics, and
`dvc repro` there has nothing to do. The commands are those of docs/pipeline.md ("Sharing
experiments").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from tests.helpers.dvc_project import dvc_project
from tests.helpers.tiny_project import one_point_params

POINT = "tiny-1e-3"
STAGES = ["render", "preprocess", "tensorize", "train"]


def test_an_experiment_pushed_from_one_clone_is_pulled_whole_into_another(tmp_path):
    origin, storage = tmp_path / "origin.git", tmp_path / "storage"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    env, run_a = dvc_project(tmp_path / "a", one_point_params(), stages=STAGES)
    run_a("git", "remote", "add", "origin", str(origin))
    run_a("dvc", "remote", "add", "-d", "storage", str(storage))
    run_a("git", "add", "-A")
    run_a("git", "commit", "-qm", "tiny project")
    run_a("dvc", "repro")
    run_a("git", "add", "-A")
    run_a("git", "commit", "-qm", "first run")
    run_a("dvc", "push")
    run_a("git", "push", "-q", "origin", "HEAD:refs/heads/main")

    run_a("dvc", "exp", "run", "-n", "faster", "-S", f"grid.{POINT}.lr=0.003")
    pushed = run_a("dvc", "exp", "push", "origin", "faster")
    assert "faster" in pushed.stdout
    assert "faster" in run_a("dvc", "exp", "list", "origin").stdout
    trained = tmp_path / "a" / "runs" / POINT / "train"

    subprocess.run(["git", "clone", "-q", "-b", "main", str(origin), str(tmp_path / "b")], check=True, env=env)
    b_env = {**env, "DVC_SITE_CACHE_DIR": str(tmp_path / "b" / ".dvc-site-cache")}

    def run_b(*cmd):
        result = subprocess.run(cmd, cwd=tmp_path / "b", env=b_env, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    run_b("dvc", "exp", "pull", "origin", "faster")
    assert "faster" in run_b("dvc", "exp", "show", "--csv").stdout
    run_b("dvc", "exp", "apply", "faster")
    pulled = tmp_path / "b" / "runs" / POINT / "train"
    assert (pulled / "checkpoints" / "epoch_001.pt").read_bytes() == (trained / "checkpoints" / "epoch_001.pt").read_bytes()
    assert json.loads((pulled / "metrics.json").read_text()) == json.loads((trained / "metrics.json").read_text())
    assert "lr: 0.003" in (tmp_path / "b" / "params.yaml").read_text()
    repro = run_b("dvc", "repro")
    assert "Running stage" not in repro.stdout and "Data and pipelines are up to date" in repro.stdout


def test_a_clone_without_the_bytecode_of_another_finds_the_pipeline_up_to_date(tmp_path):
    """Bytecode carries its source's mtime, so it differs per clone: it must not be part of a code dependency."""
    root = tmp_path / "a"
    _, run = dvc_project(root, one_point_params(), stages=["render"])
    run(sys.executable, "-m", "compileall", "-q", "sgm", "stages")  # what running the code writes unless PYTHONDONTWRITEBYTECODE
    run("dvc", "repro")
    for cache in root.glob("s*/**/__pycache__"):
        shutil.rmtree(cache)
    assert "Data and pipelines are up to date" in run("dvc", "status").stdout
