"""Presets: each one merges into valid params, turns into dvc -S overrides, and its model trains a step."""

from pathlib import Path

import pytest
import torch
from ruamel.yaml import YAML

from sgm.losses import dsm_loss
from sgm.model import build_model
from stages.config import Params
from stages.preset import merged, overrides

REPO = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.stem for p in (REPO / "presets").glob("*.yaml"))


def load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text())


def preset_params(name: str) -> dict:
    return merged(load(REPO / "params.yaml"), load(REPO / "presets" / f"{name}.yaml"))


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_gives_valid_params(name):
    Params.model_validate(preset_params(name))


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
    x, labels = 0.5 * torch.randn(2, 1, 16384), torch.tensor([[0, 3], [36, 58]])
    loss = dsm_loss(net, sde, x, weighting=train.loss_weighting, class_labels=labels, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in net.parameters() if p.requires_grad)
