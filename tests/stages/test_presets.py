"""Presets: each one merges into valid params, turns into dvc -S overrides, and its model trains a step."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ruamel.yaml import YAML

from sgm.checkpoints.model import build_model
from stages.common.params import Params
from stages.preset import merged, overrides
from tests.helpers.reference_settings import dsm_loss

REPO = Path(__file__).resolve().parents[2]
PRESETS = sorted(p.stem for p in (REPO / "presets").glob("*.yaml"))


def load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text())


def preset_params(name: str) -> dict:
    return merged(load(REPO / "params.yaml"), load(REPO / "presets" / f"{name}.yaml"))


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_gives_valid_params(name):
    params = Params.model_validate(preset_params(name))
    assert params.play.point in params.grid  # the play stage's dependency exists


def test_overrides_set_add_and_remove_keys():
    base = {"a": {"x": 1, "y": [1, 2]}, "grid": {"old": {"lr": 1}}, "s": "text"}
    target = {"a": {"x": 2, "y": [1, 2], "z": "auto"}, "grid": {"new": {"lr": 0.5}}, "s": "two words"}
    assert overrides(base, target) == ["a.x=2", "++a.z=auto", "++grid.new={lr: 0.5}", "~grid.old", 's="two words"']
    assert merged(base, {"grid": {"new": {"lr": 0.5}}})["grid"] == {"new": {"lr": 0.5}}  # grid is replaced whole
    assert merged(base, {"a": {"x": 3}})["a"] == {"x": 3, "y": [1, 2]}  # other sections merge key by key


def test_gpu_preset_model_takes_a_training_step_on_the_cpu(single_thread):
    params = Params.model_validate(preset_params("gpu-notes"))
    point = next(iter(params.grid.values()))
    arch, train = params.archs[point.arch], params.train
    torch.manual_seed(0)
    conditioning = {"pitch": list(range(55, 92)), "instrument": [f"i{n}" for n in range(59)]}
    config = {"net": arch.net, "channels": arch.channels, "embed_dim": arch.embed_dim, "in_channels": 1,
              "sde": {"name": train.sde.name, **train.sde.kwargs(max_pairwise_distance=250.0)},
              "conditioning": conditioning, "precond": train.precond.model_dump(include={"name", "sigma_data"})}
    net, sde = build_model(config)
    x, labels = 0.5 * torch.randn(2, 1, train.crop_samples or 16384), torch.tensor([[0, 3], [36, 58]])
    log_sigma = (train.precond.log_sigma_mean, train.precond.log_sigma_std)
    loss = dsm_loss(net, sde, x, weighting=train.loss_weighting, class_labels=labels, generator=torch.Generator().manual_seed(0), log_sigma=log_sigma)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in net.parameters() if p.requires_grad)


def run_preset(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "stages.preset", *args], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": ""})


def test_unknown_preset_or_broken_yaml_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "broken.yaml").write_text("train:\n  epochs: [1\n")
    (tmp_path / "presets" / "other-seed.yaml").write_text("seed: 1\n")
    missing = run_preset(tmp_path, "nope", "--print")
    assert missing.returncode == 2 and missing.stderr.strip() == "error: presets/nope.yaml: no such file; presets: broken, other-seed"
    broken = run_preset(tmp_path, "broken", "--print")
    assert broken.returncode == 2 and broken.stderr.startswith("error: presets/broken.yaml: not valid YAML")
    assert len(broken.stderr.strip().splitlines()) == 1 and "Traceback" not in broken.stderr
    refused = run_preset(tmp_path, "other-seed", "--write", "params.yaml")
    assert refused.returncode == 2 and "would overwrite params.yaml" in refused.stderr
    assert (tmp_path / "params.yaml").read_text() == (REPO / "params.yaml").read_text()
    assert run_preset(tmp_path, "other-seed", "--print").stdout == "dvc exp run -n other-seed -S seed=1\n"
