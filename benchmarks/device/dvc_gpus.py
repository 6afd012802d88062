"""The GPU paths through real DVC on this machine's devices: python -m benchmarks.device.dvc_gpus OUT [--devices 0 1 ...]

In a new git repository holding the project with small params (tests/helpers/tiny_project.py: a
2-block 1-D net, two grid points) and a longer training (--epochs):
1. one queued experiment per device, each keeping one grid point, started by stages.queue_workers;
2. one point trained on all devices through DVC (`train.nproc_per_node` = the device count), and
   the same point on one process (both forced: the process count is not in the cache key). One
   GPU cannot hold two NCCL processes, so on a one-GPU machine step 2 trains on one process only
   and says so.
It prints what each experiment's train stage reported (device, processes, CUDA_VISIBLE_DEVICES),
its losses and times, and writes them to OUT/dvc_gpus.json. Checked on the 2-core CPU machine with
`--devices 0 1 --epochs 100` (gloo): 2 minutes. Devices default to every GPU torch sees; on
a CPU machine `--devices 0 1` runs the same with gloo. It needs git. On a GPU machine without
DVC: here `DVC=1 bash benchmarks/device/fetch.sh`, then carry .devrun and run there
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .devrun/whl/*.whl &&
  PATH=/tmp/site/bin:$PATH PYTHONPATH=/tmp/site:$PWD python3 -m benchmarks.device.dvc_gpus $OUT/dvc
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import torch

from tests.helpers.dvc_project import dvc_project
from tests.helpers.tiny_project import tiny_params

POINTS = ["tiny-1e-3", "tiny-3e-3"]
DEVICE_LINE = re.compile(r"train@\S+: on .*")
QUEUE_TIMEOUT = 1200


def keep_only(point: str) -> list[str]:
    """The -S flags of an experiment with `point` as its only grid point."""
    return [flag for other in POINTS if other != point for flag in ("-S", f"~grid.{other}")] + ["-S", f"play.point={point}"]


def losses(root: Path, run, experiment: str, point: str) -> dict:
    """The train metrics of `experiment`, read from its applied outputs; the workspace back at HEAD after."""
    run("dvc", "exp", "apply", experiment)
    metrics = json.loads((root / "runs" / point / "train" / "metrics.json").read_text())
    run("git", "checkout", "HEAD", "--", "params.yaml", "dvc.lock")
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device.dvc_gpus", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--devices", nargs="+", default=[str(k) for k in range(torch.cuda.device_count())])
    parser.add_argument("--epochs", type=int, default=200, help="training epochs of each experiment (2 steps each)")
    args = parser.parse_args()
    if not args.devices:
        parser.error("no GPU found: name the devices (e.g. --devices 0 1 on a CPU machine)")
    args.out.mkdir(parents=True, exist_ok=True)
    params = tiny_params()
    params["train"].update(epochs=[args.epochs], log_every=50)
    root = Path(tempfile.mkdtemp(prefix="dvc_gpus-"))  # the project stays out of OUT, which travels back
    _, run = dvc_project(root, params, stages=["render", "preprocess", "tensorize", "train"])
    run("git", "add", "-A")
    run("git", "commit", "-qm", "small project")
    run("dvc", "repro", "tensorize")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "data")
    report = {"devices": args.devices, "cuda": torch.cuda.is_available(), "queued": {}, "data_parallel": {}}

    queued = [POINTS[k % len(POINTS)] for k in range(len(args.devices))]
    names = [f"queued-{k}-{point}" for k, point in enumerate(queued)]
    for name, point in zip(names, queued):
        run("dvc", "exp", "run", "--queue", "-n", name, *keep_only(point))
    started = time.monotonic()
    print(run("python", "-m", "stages.queue_workers", *args.devices).stdout, end="")
    while time.monotonic() - started < QUEUE_TIMEOUT and re.search(r"Queued|Running", run("dvc", "queue", "status").stdout):
        time.sleep(2)
    report["queue_seconds"] = round(time.monotonic() - started, 1)
    for name, point in zip(names, queued):
        log = run("dvc", "queue", "logs", name).stdout
        report["queued"][name] = {"train": DEVICE_LINE.findall(log), "metrics": losses(root, run, name, point)}

    processes = len(args.devices) if not torch.cuda.is_available() or torch.cuda.device_count() > 1 else 1
    visible = ",".join(args.devices)
    for name, count in {f"processes-{processes}": processes, "processes-1": 1}.items():
        begun = time.monotonic()
        log = run("env", f"CUDA_VISIBLE_DEVICES={visible}", "dvc", "exp", "run", "-n", name, "--force", f"train@{POINTS[0]}",
                  *keep_only(POINTS[0]), "-S", f"train.nproc_per_node={count}", "-S", f"train.batch_size={4 * processes}")  # fmt: skip
        report["data_parallel"][name] = {
            "train": DEVICE_LINE.findall(log.stderr + log.stdout),
            "seconds": round(time.monotonic() - begun, 1),
            "metrics": losses(root, run, name, POINTS[0]),
        }
    if processes == 1:
        report["data_parallel"]["note"] = "one GPU: NCCL needs a GPU per process, so no run on several processes"
    (args.out / "dvc_gpus.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
