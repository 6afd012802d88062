"""The tensorize stage end to end on a tiny data/clean written here, for every layout."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
import yaml

from sgm.audio.dsp import stopband_hz
from sgm.kinds import layout_from_dict
from sgm.kinds.kind import DataError
from sgm.kinds.layout import band_limit
from stages import tensorize
from stages.common.outputs import StageError
from tests.helpers.study_params import study_params

REPO = Path(__file__).resolve().parents[2]
SAMPLE_RATE = 8000
CLIP = 1024  # 32 x 32 for waveform2d; 2 x 32 x 32 for stft with n_fft 62, hop 32
NOTES, CLIPS = 6, 3


def write_params(root: Path, layout: str) -> None:
    params = study_params()
    params["render"].update(sample_rate=SAMPLE_RATE, clip_samples=CLIP)
    params["preprocess"]["lowpass_hz"] = SAMPLE_RATE / 4
    params["tensorize"].update(layout=layout, stft={"n_fft": 62, "hop": 32}, test_fraction=1 / 3, split_seed=0)
    if layout == "image":
        params["kind"] = "images"
        params["render"].update(source="idx", idx={"images": "train-images-idx3-ubyte.gz"})
    if layout == "waveform1d":
        params["archs"] = yaml.safe_load((REPO / "params.yaml").read_text())["archs"]
    params["grid"] = {"point": {"arch": next(iter(params["archs"])), "lr": 1e-4}}
    params["play"]["point"] = "point"
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def write_clean_audio(root: Path) -> np.ndarray:
    """Mono 16-bit WAVs + notes.csv; returns the clips as read back, in notes.csv order."""
    clean = root / "data" / "clean"
    rng = np.random.default_rng(0)
    rows = []
    for note in range(NOTES):
        folder = clean / f"p{note % 2:03d}_inst"
        folder.mkdir(parents=True, exist_ok=True)
        for clip in range(CLIPS):
            name = f"{folder.name}/m{60 + note:03d}_c{clip}.wav"
            soundfile.write(clean / name, rng.uniform(-0.3, 0.3, CLIP), SAMPLE_RATE, subtype="PCM_16")
            rows.append({"file": name, "program": note % 2, "pitch": 60 + note, "note_id": note, "clip": clip})
    pd.DataFrame(rows).to_csv(clean / "notes.csv", index=False)
    return np.stack([soundfile.read(clean / row["file"], dtype="float32")[0] for row in rows])


def run(root: Path, monkeypatch) -> tuple[dict, dict, dict, dict]:
    monkeypatch.chdir(root)
    tensorize.main()
    out = root / "data" / "tensors"
    load = lambda name: torch.load(out / name, weights_only=True)  # noqa: E731
    return load("train.pt"), load("test.pt"), json.loads((out / "layout.json").read_text()), json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize(("layout", "shape"), [("waveform2d", (1, 32, 32)), ("waveform1d", (1, CLIP)), ("stft", (2, 32, 32))])
def test_audio_layouts_end_to_end(tmp_path, monkeypatch, layout, shape):
    write_params(tmp_path, layout)
    audio = write_clean_audio(tmp_path)
    train, test, stored, metrics = run(tmp_path, monkeypatch)

    assert (metrics["train"], metrics["test"]) == (12, 6)
    assert not set(train["note_id"].tolist()) & set(test["note_id"].tolist())
    for split in (train, test):
        assert split["x"].dtype == torch.float32 and split["x"].shape[1:] == shape
        assert set(split) == {"x", "pitch", "program", "note_id", "clip"}
        assert all(split[k].dtype == torch.int64 for k in ("pitch", "program", "note_id", "clip"))
        assert torch.equal(split["pitch"], split["note_id"] + 60)

    is_train = np.isin(np.repeat(np.arange(NOTES), CLIPS), train["note_id"].numpy())
    restored = layout_from_dict(stored)
    assert stored["layout"] == layout and stored["sample_rate"] == SAMPLE_RATE and metrics["scale"] == stored["scale"]
    assert stored["band_hz"] == stopband_hz(SAMPLE_RATE, SAMPLE_RATE / 4, 8)  # where the preprocess low-pass is 60 dB down
    unlimited = dataclasses.replace(restored, band_hz=None)
    assert np.abs(unlimited.to_audio(train["x"]).numpy() - audio[is_train]).max() < 1e-6
    assert np.abs(unlimited.to_audio(test["x"]).numpy() - audio[~is_train]).max() < 1e-6
    in_band = band_limit(torch.from_numpy(audio[~is_train]), SAMPLE_RATE, stored["band_hz"]).numpy()
    assert np.abs(restored.to_audio(test["x"]).numpy() - in_band).max() < 1e-6
    if layout == "stft":
        assert train["x"].std().item() == pytest.approx(0.5, rel=1e-3)
        assert 0 < metrics["stft_roundtrip_max_error"] < 1e-6
    else:
        assert stored["scale"] == pytest.approx(1 / np.abs(audio[is_train]).max())
        assert train["x"].abs().max().item() == pytest.approx(1.0)
        assert "stft_roundtrip_max_error" not in metrics


def test_preemphasis_is_stored_with_the_layout_and_undone_on_the_way_back(tmp_path, monkeypatch):
    write_params(tmp_path, "waveform1d")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["tensorize"].update(preemphasis=0.9, target_std=0.5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    audio = write_clean_audio(tmp_path)
    train, _, stored, _ = run(tmp_path, monkeypatch)

    is_train = np.isin(np.repeat(np.arange(NOTES), CLIPS), train["note_id"].numpy())
    emphasized = audio[is_train].copy()
    emphasized[:, 1:] -= 0.9 * audio[is_train][:, :-1]
    assert stored["preemphasis"] == 0.9
    assert np.abs(train["x"][:, 0].numpy() / stored["scale"] - emphasized).max() < 1e-6
    assert train["x"].std().item() == pytest.approx(0.5, rel=1e-3)  # the scale is fitted to the emphasized tensors
    unlimited = dataclasses.replace(layout_from_dict(stored), band_hz=None)
    assert np.abs(unlimited.to_audio(train["x"]).numpy() - audio[is_train]).max() < 1e-5


def test_clips_that_were_not_low_passed_get_no_band(tmp_path, monkeypatch):
    write_params(tmp_path, "waveform1d")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["preprocess"]["lowpass_hz"] = None
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    audio = write_clean_audio(tmp_path)
    _, test, stored, _ = run(tmp_path, monkeypatch)
    assert stored["band_hz"] is None
    is_test = np.isin(np.repeat(np.arange(NOTES), CLIPS), test["note_id"].numpy())
    assert np.abs(layout_from_dict(stored).to_audio(test["x"]).numpy() - audio[is_test]).max() < 1e-6


def test_image_layout_end_to_end(tmp_path, monkeypatch):
    write_params(tmp_path, "image")
    clean = tmp_path / "data" / "clean"
    clean.mkdir(parents=True)
    images = torch.randint(0, 256, (30, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    torch.save({"images": images, "labels": torch.arange(30) % 10}, clean / "images.pt")
    train, test, stored, metrics = run(tmp_path, monkeypatch)

    assert (metrics["train"], metrics["test"]) == (20, 10)
    assert stored["band_hz"] is None  # images have no band, whatever preprocess.lowpass_hz says
    assert train["x"].shape == (20, 1, 32, 32) and 0 <= train["x"].min() and train["x"].max() <= 1
    layout = layout_from_dict(stored)
    assert torch.equal(layout.to_images(test["x"]), images[test["note_id"]])
    assert torch.equal(train["program"], train["note_id"] % 10)


def test_every_bad_clip_is_listed_at_once(tmp_path, monkeypatch):
    write_params(tmp_path, "waveform2d")
    write_clean_audio(tmp_path)
    clean = tmp_path / "data" / "clean"
    (clean / "p000_inst" / "m060_c0.wav").unlink()
    soundfile.write(clean / "p001_inst" / "m061_c1.wav", np.zeros(CLIP - 1), SAMPLE_RATE, subtype="PCM_16")
    soundfile.write(clean / "p000_inst" / "m062_c2.wav", np.zeros((CLIP, 2)), SAMPLE_RATE, subtype="PCM_16")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as err:
        tensorize.main()
    message = str(err.value)
    assert message.startswith("3 of 18 clips are unusable")
    assert "m060_c0.wav: listed in notes.csv but missing" in message
    assert "m061_c1.wav: 1 channel(s), 1023 samples at 8000 Hz; expected mono, 1024 samples at 8000 Hz" in message
    assert "m062_c2.wav: 2 channel(s), 1024 samples" in message
    assert not (tmp_path / "data" / "tensors").exists()


@pytest.mark.parametrize(("layout", "data", "wanted"), [("image", "audio", "images.pt"), ("waveform2d", "images", "notes.csv")])
def test_the_kind_reads_only_its_own_data(tmp_path, monkeypatch, layout, data, wanted):
    write_params(tmp_path, layout)
    if data == "audio":
        write_clean_audio(tmp_path)
    else:
        (tmp_path / "data" / "clean").mkdir(parents=True)
        torch.save({"images": torch.zeros(4, 28, 28, dtype=torch.uint8), "labels": torch.zeros(4)}, tmp_path / "data/clean/images.pt")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=f"data/clean/{wanted} not found: run the"):
        tensorize.main()


def test_corrupt_and_truncated_wavs_are_named(tmp_path, monkeypatch):
    write_params(tmp_path, "waveform2d")
    write_clean_audio(tmp_path)
    clean = tmp_path / "data" / "clean"
    (clean / "p000_inst" / "m060_c0.wav").write_bytes(b"not a wav at all")
    whole = (clean / "p001_inst" / "m061_c1.wav").read_bytes()
    (clean / "p001_inst" / "m061_c1.wav").write_bytes(whole[: len(whole) // 2])  # libsndfile counts what is there
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as err:
        tensorize.main()
    message = str(err.value)
    assert message.startswith("2 of 18 clips are unusable")
    assert "data/clean/p000_inst/m060_c0.wav: not a readable WAV file (" in message
    assert "expected a mono 1024-sample clip" in message
    assert "m061_c1.wav: 1 channel(s), 501 samples at 8000 Hz; expected mono, 1024 samples" in message
    assert not (tmp_path / "data" / "tensors").exists()


def test_missing_inputs_and_columns_are_named(tmp_path, monkeypatch):
    write_params(tmp_path, "waveform2d")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "clean").mkdir(parents=True)
    with pytest.raises(DataError, match="data/clean/notes.csv not found: run the preprocess stage first"):
        tensorize.main()
    write_clean_audio(tmp_path)
    table = pd.read_csv(tmp_path / "data" / "clean" / "notes.csv")
    table.drop(columns=["note_id"]).to_csv(tmp_path / "data" / "clean" / "notes.csv", index=False)
    with pytest.raises(DataError, match=r"data/clean/notes.csv: missing column\(s\) \['note_id'\]; found \['file', "):
        tensorize.main()
    table.assign(note_id=0).to_csv(tmp_path / "data" / "clean" / "notes.csv", index=False)  # one note: no test split
    with pytest.raises(StageError, match="cannot tensorize data/clean: "):
        tensorize.main()
    assert not (tmp_path / "data" / "tensors").exists()


def test_images_larger_than_the_padded_size_are_refused(tmp_path, monkeypatch):
    write_params(tmp_path, "image")
    (tmp_path / "data" / "clean").mkdir(parents=True)
    torch.save({"images": torch.zeros(6, 40, 40, dtype=torch.uint8), "labels": torch.arange(6)}, tmp_path / "data/clean/images.pt")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"tensorize.layout 'image' does not fit the data \(40, 40\): .*padded_size must be"):
        tensorize.main()
