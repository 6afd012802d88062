"""The melody source and the pianoroll layout go together (the preset itself is checked in test_presets)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from stages.common.params import Params

REPO = Path(__file__).resolve().parents[2]


def yaml_value(text: str):
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def test_melody_source_and_pianoroll_layout_go_together():
    params = yaml_value((REPO / "params.yaml").read_text())
    params["render"]["melody"] = yaml_value((REPO / "presets" / "melody.yaml").read_text())["render"]["melody"]
    params["render"]["source"] = "melody"
    with pytest.raises(ValidationError, match="render.source 'melody' makes melodies, not notes"):
        Params.model_validate(params)
    params["kind"] = "melodies"
    with pytest.raises(ValidationError, match="tensorize.layout 'waveform1d' does not fit render.source 'melody'"):
        Params.model_validate(params)
    params["kind"] = "notes"
    params["render"]["source"], params["tensorize"]["layout"] = "soundfont", "pianoroll"
    with pytest.raises(ValidationError, match="pianoroll"):  # refused (by the source check or the clip-length check)
        Params.model_validate(params)
    params["render"]["source"] = "melody"
    params["render"]["melody"].update(corpus=None, folder=None)
    with pytest.raises(ValidationError, match="melody needs a corpus, a folder or both"):
        Params.model_validate(params)
