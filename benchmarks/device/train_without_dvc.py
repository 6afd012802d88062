"""python benchmarks/device/train_without_dvc.py POINT: the train stage where DVC's git layer is absent.

The stage opens Live(dvcyaml=False, save_dvc_exp=False), which needs only dvclive's plain files, but
dvclive still looks for a DVC repository through scmrepo and dvc.repo; on the GPU machine (see run.sh)
those are not installed, so this skips that lookup and runs `python -m stages.train POINT` unchanged.
"""

import runpy
import sys

import dvclive.live


def without_dvc_repo(live: dvclive.live.Live) -> None:
    live._dvc_repo = None
    live._exp_name = live._exp_name or "device"
    live._dvc_file = None
    live._save_dvc_exp = False


dvclive.live.Live._init_dvc = without_dvc_repo
sys.argv = ["stages.train", *sys.argv[1:]]
runpy.run_module("stages.train", run_name="__main__", alter_sys=True)
