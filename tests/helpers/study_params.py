"""The study's params (params.yaml with presets/study.yaml applied): the base of stage tests written for it.

Stage tests that exercise one stage on small data (another source, a 2-D net, no labels) start
from the study's configuration rather than the default run's, so that changing the default
recipe does not change what they test.
"""

from pathlib import Path

from ruamel.yaml import YAML

from stages.preset import merged

REPO = Path(__file__).resolve().parents[2]


def study_params() -> dict:
    yaml = YAML(typ="safe", pure=True)
    return merged(yaml.load((REPO / "params.yaml").read_text()), yaml.load((REPO / "presets" / "study.yaml").read_text()))


def with_data_of(preset: str) -> dict:
    """The study's params with another preset's data (those of its kind, render and tensorize
    sections that it sets)."""
    data = YAML(typ="safe", pure=True).load((REPO / "presets" / f"{preset}.yaml").read_text())
    return merged(study_params(), {key: data[key] for key in ("kind", "render", "tensorize") if key in data})


def melody_params() -> dict:
    """The study's params with the melody preset's data: kind melodies, Bach chorales as piano rolls."""
    return with_data_of("melody")


def with_tiny_1d_net(params: dict) -> dict:
    """params for short clips (any length divisible by 4): the waveform1d layout and a 2-block 1-D net."""
    params["tensorize"]["layout"] = "waveform1d"
    params["archs"]["tiny-1d"] = {"net": "unet1d", "blocks": 2, "channels": [8, 16], "embed_dim": 256}
    params["grid"] = {"tiny-1d": {"arch": "tiny-1d", "lr": 1e-3}}
    params["play"]["point"] = "tiny-1d"
    return params
