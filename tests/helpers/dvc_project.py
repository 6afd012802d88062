"""A copy of the project in a fresh git repository with given params: where end-to-end tests run real DVC."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def dvc_project(root: Path, params: dict, stages: list[str] | None = None):
    """Set up `root` (the code, dvc.yaml limited to `stages` if given, params) as a git repo; return (env, run).

    `run(*cmd, check=True)` runs a command there and, with check, fails the test with its output.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name in ["sgm", "stages"]:
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / ".dvcignore", root / ".dvcignore")
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    if stages is not None:
        pipeline["stages"] = {name: pipeline["stages"][name] for name in stages}
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (root / ".dvc").mkdir()
    shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")
    (root / ".gitignore").write_text((REPO / ".gitignore").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(root / ".dvc-site-cache"),
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
    }  # fmt: skip

    def run(*cmd, check=True):
        result = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    run("git", "init", "-q")
    run("dvc", "config", "core.check_update", "false")
    return env, run
