"""The melody preset: its overrides are valid params, and the README's command applies exactly them."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from stages.config import Params

REPO = Path(__file__).resolve().parents[1]


def yaml_value(text: str):
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def readme_overrides() -> dict:
    readme = (REPO / "README.md").read_text()
    command = re.search(r"^dvc exp run -n melody .*?(?<!\\)\n", readme, re.MULTILINE | re.DOTALL).group(0)
    words = shlex.split(command.replace("\\\n", " "))
    pairs = [words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "-S"]
    return {key: yaml_value(value) for key, value in pairs}


def test_readme_command_applies_the_preset():
    preset = yaml_value((REPO / "presets" / "melody.yaml").read_text())
    assert readme_overrides() == preset


def test_preset_overrides_give_valid_params():
    params = yaml_value((REPO / "params.yaml").read_text())
    for key, value in yaml_value((REPO / "presets" / "melody.yaml").read_text()).items():
        *parents, leaf = key.split(".")
        section = params
        for part in parents:
            section = section[part]
        assert leaf in section, key  # an override, not a new key
        section[leaf] = value
    validated = Params.model_validate(params)
    assert validated.render.source == "melody" and validated.tensorize.layout == "pianoroll"


def test_melody_source_and_pianoroll_layout_go_together():
    params = yaml_value((REPO / "params.yaml").read_text())
    params["render"]["source"] = "melody"
    with pytest.raises(ValidationError, match="tensorize.layout 'waveform2d' does not fit render.source 'melody'"):
        Params.model_validate(params)
    params["render"]["source"], params["tensorize"]["layout"] = "soundfont", "pianoroll"
    with pytest.raises(ValidationError, match="the melody source takes layout 'pianoroll', and only it"):
        Params.model_validate(params)
    params["render"]["source"] = "melody"
    params["render"]["melody"].update(corpus=None, folder=None)
    with pytest.raises(ValidationError, match="melody needs a corpus, a folder or both"):
        Params.model_validate(params)
