"""The play stage on a tiny conditional checkpoint trained here, in a pipeline-shaped folder."""

import json

import pytest
import soundfile
import torch
import yaml
from sf2utils.sf2parse import Sf2File

from sgm.generation.midi import read_midi
from sgm.kinds import make_layout
from stages import play
from tests.generation.test_cli import tiny_checkpoint
from tests.helpers.dvc_project import REPO

RATE = 8000
CUTOFF_HZ = 2000.0
CLIP = 2048
CONDITIONING = {"pitch": list(range(60, 73)), "instrument": ["flute", "violin"]}


@pytest.fixture
def project(tmp_path, monkeypatch, single_thread):
    tiny_checkpoint(tmp_path / "runs" / "tiny" / "train" / "checkpoints", CONDITIONING, clip=CLIP).rename(
        tmp_path / "runs" / "tiny" / "train" / "checkpoints" / "epoch_002.pt"
    )
    tensors = tmp_path / "data" / "tensors"
    tensors.mkdir(parents=True)
    (tensors / "layout.json").write_text(json.dumps(make_layout("waveform1d", CLIP, RATE, scale=2.0).to_dict()))
    t = torch.arange(CLIP) / RATE
    clips = torch.stack([0.2 * torch.sin(2 * torch.pi * hz * t) for hz in (262.0, 262.0, 330.0)])
    torch.save({"x": clips[:, None] * 2.0, "pitch": torch.tensor([60, 60, 64])}, tensors / "test.pt")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["archs"] = {"tiny": {"net": "unet1d", "blocks": 2, "channels": [8, 8], "embed_dim": 16}}
    params["grid"] = {"tiny": {"arch": "tiny", "lr": 1e-3}}
    params["tensorize"]["layout"] = "waveform1d"
    params["preprocess"]["lowpass_hz"] = CUTOFF_HZ
    params["train"]["epochs"] = [1, 2]
    params["play"].update(point="tiny", instrument="violin", steps=2, inpaint={"sampler": "euler_maruyama", "steps": 2, "resample": 2}, between=1, melody="C3 E3 G3:2 R C4:2")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_play_writes_every_example_with_its_spectrogram_and_costs(project):
    play.main()
    index = json.loads((project / "play" / "index.json").read_text())
    assert index["point"] == "tiny" and index["epoch"] == 2
    assert [item["title"] for item in index["items"]] == ["Scale", "Continuation", "Variation", "Interpolation", "Melody", "Instrument"]
    for item in index["items"]:
        for clip in item["clips"]:
            assert (project / "play" / clip["wav"]).is_file() and (project / "play" / clip["png"]).is_file()
    scale = sorted((project / "play").glob("scale_*_violin_*.wav"))
    assert [p.name for p in scale][:2] == ["scale_00_violin_C4.wav", "scale_01_violin_Cs4.wav"] and len(scale) == 13
    assert soundfile.info(project / "play" / "scale.wav").frames == 13 * CLIP
    assert soundfile.info(project / "play" / "interpolation.wav").frames == 3 * CLIP
    # the melody C3 E3 G3:2 R C4:2 lies below the trained C4-C5: moved up one octave, rest kept
    melody = read_midi(project / "play" / "melody.mid")
    assert [(n.pitch, n.start) for n in melody] == [(60, 0.0), (64, 0.25), (67, 0.5), (72, 1.25)]
    assert soundfile.info(project / "play" / "melody.wav").frames == round((1.75 + 0.1) * RATE)
    metrics = json.loads((project / "results" / "play.json").read_text())
    assert metrics["scale"]["asked"] == list(range(60, 73)) and 0 <= metrics["scale"]["pitch_accuracy"] <= 1
    in_band, full_band = metrics["scale"]["spectral_flatness_in_band"], metrics["scale"]["spectral_flatness"]
    assert 0 < in_band <= 1 and abs(in_band - full_band) > 1e-3  # up to CUTOFF_HZ only: other bins, another number
    assert metrics["continuation"]["nfe"] == 4 and metrics["variation"]["nfe"] == 3 and metrics["melody"]["nfe"] > 0
    # the instrument: a note of every trained pitch, the melody played through it, each key's pitch checked
    assert index["items"][-1]["downloads"][0]["file"] == "instrument.sf2"
    with open(project / "play" / "instrument.sf2", "rb") as file:
        zones = [bag for bag in Sf2File(file).instruments[0].bags if bag.sample is not None]
    assert [bag.base_note for bag in zones] == list(range(60, 73)) and all(bag.sample.sample_rate == RATE for bag in zones)
    assert soundfile.info(project / "play" / "instrument_melody.wav").frames == round((1.75 + 0.1) * RATE)
    assert metrics["instrument"]["keys"] == 13 and 0 <= metrics["instrument"]["pitch_accuracy"] <= 1 and metrics["instrument"]["nfe"] == 3


def test_play_refuses_a_melody_beyond_the_trained_range(project, capsys):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["play"]["melody"] = "C4 C6"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(play.StageError, match=r"play: pitch C6 \(MIDI 84\) is outside what the checkpoint was trained on: C4 \(60\) to C5 \(72\)"):
        play.main()
    assert not (project / "play").exists()
