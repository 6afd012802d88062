import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from sgm.images.sources import render_from_digits
from sgm.kinds import data_kind
from sgm.kinds.kind import DataError
from stages.common.params import Params
from tests.audio.test_ingest import BAD_KINDS, sine, write_bad_file
from tests.helpers.study_params import study_params, with_tiny_1d_net
from tests.images.test_idx import idx_bytes

RATE = 8000
CLIP = 2000


def make_params(**render) -> Params:
    raw = study_params()
    raw["render"].update({"sample_rate": RATE, "clip_samples": CLIP, "channels": 2, **render})
    raw["preprocess"]["lowpass_hz"] = RATE / 4
    if raw["render"]["source"] == "idx":
        raw["kind"] = "images"
        raw["tensorize"]["layout"] = "image"
    else:  # clips of 2000 samples fit a 2-block 1-D net, not the 128x128 reshape
        with_tiny_1d_net(raw)
    return Params.model_validate(raw)


def folder_params(folder, labels=None, on_bad_file="error") -> Params:
    return make_params(source="folder", folder={"path": str(folder), "labels": labels}, on_bad_file=on_bad_file)


def tree_digest(folder: Path) -> str:
    """Names, contents and modification times of everything under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(str(path.stat().st_mtime_ns).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def user_folder(tmp_path):
    """Three usable files of different rates, depths and channel counts, a labels CSV and a README."""
    folder = tmp_path / "my_notes"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "violin_G3.wav", sine(196, 16000, 1.0), 16000, subtype="PCM_16")
    sf.write(folder / "sub" / "flute.flac", sine(523, RATE, 0.6, channels=2), RATE, subtype="PCM_24")
    sf.write(folder / "cello.wav", sine(110, 22050, 0.3, channels=4), 22050, subtype="FLOAT")
    (folder / "labels.csv").write_text("file,instrument,pitch\nviolin_G3.wav,violin,G3\nsub/flute.flac,flute,72\ncello.wav,,\n")
    (folder / "README.txt").write_text("my recordings\n")
    return folder


def test_folder_render_writes_labelled_16bit_clips_and_index(user_folder, tmp_path):
    before = tree_digest(user_folder)
    out = tmp_path / "out"
    out.mkdir()
    render_from_folder(folder_params(user_folder, labels="labels.csv"), out)
    assert tree_digest(user_folder) == before

    notes = pd.read_csv(out / "notes.csv", keep_default_na=False)
    assert list(notes.columns) == ["file", "program", "instrument", "family", "pitch", "note", "frequency", "clip", "note_id", "source"]
    assert notes["source"].tolist() == ["cello.wav"] + ["sub/flute.flac"] * 2 + ["violin_G3.wav"] * 4
    assert notes["note_id"].tolist() == [0, 1, 1, 2, 2, 2, 2]
    assert notes["clip"].tolist() == [0, 0, 1, 0, 1, 2, 3]
    assert notes["program"].tolist() == [-1, 0, 0, 1, 1, 1, 1]
    assert notes["instrument"].tolist() == ["", "flute", "flute", "violin", "violin", "violin", "violin"]
    assert notes["pitch"].tolist() == [-1, 72, 72, 55, 55, 55, 55]
    assert notes["note"].tolist() == ["", "C5", "C5", "G3", "G3", "G3", "G3"]
    assert notes["frequency"].iloc[0] == "" and float(notes["frequency"].iloc[1]) == pytest.approx(523.2511, abs=1e-3)

    for name in notes["file"]:
        info = sf.info(out / name)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (RATE, 2, CLIP, "PCM_16")
    flute_clip, _ = sf.read(out / notes["file"].iloc[2])
    np.testing.assert_allclose(flute_clip, sine(523, RATE, 0.6, channels=2)[CLIP : 2 * CLIP], atol=1e-4)

    assert pd.read_csv(out / "rejected.csv").empty
    assert json.loads((out / "metrics.json").read_text()) == {"files": 3, "accepted": 3, "rejected": 0, "clips": 7, "unmatched_labels": 0}


def test_folder_render_without_labels_marks_everything_unknown(user_folder, tmp_path):
    render_from_folder(folder_params(user_folder), tmp_path)
    notes = pd.read_csv(tmp_path / "notes.csv")
    assert (notes["pitch"] == -1).all() and (notes["program"] == -1).all() and notes["frequency"].isna().all()
    assert len(notes) == 7


def add_bad_files(folder):
    paths = [write_bad_file(folder, kind) for kind in BAD_KINDS]
    sf.write(folder / "short.wav", sine(440, RATE, 0.1), RATE)
    return [p.name for p in paths] + ["short.wav"]


def test_folder_render_stops_listing_every_bad_file(user_folder, tmp_path):
    bad = add_bad_files(user_folder)
    before = tree_digest(user_folder)
    with pytest.raises(DataError) as caught:
        render_from_folder(folder_params(user_folder), tmp_path)
    assert tree_digest(user_folder) == before
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{len(bad)} problem(s) with the {len(bad) + 3} audio file(s) in {user_folder}")
    assert "render.on_bad_file: skip" in lines[0]
    assert sorted(line.split(":")[0].strip() for line in lines[1:]) == sorted(bad)
    assert any(line.startswith("  short.wav: too short: 800 samples") for line in lines)
    assert not (tmp_path / "notes.csv").exists()


def test_folder_render_lists_every_label_mismatch(user_folder, tmp_path):
    (user_folder / "labels.csv").write_text(
        "file,instrument,pitch\nviolin_G3.wav,violin,X3\nsub/flute.flac,flute,72\nmissing.wav,oboe,60\n"
    )
    with pytest.raises(DataError) as caught:
        render_from_folder(folder_params(user_folder, labels="labels.csv"), tmp_path)
    message = str(caught.value)
    assert "  cello.wav: no row in labels.csv" in message
    assert "  missing.wav: named in labels.csv but not an audio file in the folder" in message
    assert "  violin_G3.wav: labels.csv: pitch 'X3' is neither" in message


def test_skip_mode_lists_rejected_files_and_counts_them(user_folder, tmp_path):
    bad = add_bad_files(user_folder)
    (user_folder / "labels.csv").write_text(
        "file,instrument,pitch\n" + "".join(f"{name},x,60\n" for name in bad) + "violin_G3.wav,violin,G3\nsub/flute.flac,flute,72\nghost.wav,oboe,60\n"
    )
    before = tree_digest(user_folder)
    render_from_folder(folder_params(user_folder, labels="labels.csv", on_bad_file="skip"), tmp_path)
    assert tree_digest(user_folder) == before

    rejected = pd.read_csv(tmp_path / "rejected.csv")
    assert list(rejected.columns) == ["file", "reason"]
    assert sorted(rejected["file"]) == sorted(bad + ["cello.wav", "ghost.wav"])
    reasons = dict(zip(rejected["file"], rejected["reason"]))
    assert reasons["empty.wav"] == "empty file (0 bytes)" and reasons["cello.wav"] == "no row in labels.csv"
    notes = pd.read_csv(tmp_path / "notes.csv")
    assert sorted(set(notes["source"])) == ["sub/flute.flac", "violin_G3.wav"]
    assert notes["note_id"].tolist() == [0, 0, 1, 1, 1, 1]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == {"files": len(bad) + 3, "accepted": 2, "rejected": len(bad) + 1, "clips": 6, "unmatched_labels": 1}


def test_skip_mode_still_stops_when_no_file_is_usable(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_bad_file(folder, "zeros")
    with pytest.raises(DataError, match=r"1 problem\(s\) with the 1 audio file\(s\) .*no usable file is left"):
        render_from_folder(folder_params(folder, on_bad_file="skip"), tmp_path)


def test_folder_render_explains_missing_folder_files_and_labels(tmp_path):
    with pytest.raises(DataError, match="render.folder.path .*nowhere' is not a folder"):
        render_from_folder(folder_params(tmp_path / "nowhere"), tmp_path)
    (tmp_path / "README.txt").write_text("no audio here")
    with pytest.raises(DataError, match=r"holds no audio files \(looked for: .*\.flac.*\.wav"):
        render_from_folder(folder_params(tmp_path), tmp_path)
    sf.write(tmp_path / "a.wav", sine(440, RATE, 1.0), RATE)
    with pytest.raises(DataError, match="render.folder.labels: .*labels.csv' does not exist"):
        render_from_folder(folder_params(tmp_path, labels="labels.csv"), tmp_path)
    (tmp_path / "labels.csv").write_text("name,pitch\na.wav,60\n")
    with pytest.raises(DataError, match="lacks column"):
        render_from_folder(folder_params(tmp_path, labels="labels.csv"), tmp_path)


def write_image_set(folder, n=6):
    images = np.random.default_rng(3).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) * 7 % 10).astype(np.uint8)
    (folder / "images.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (folder / "labels.idx").write_bytes(idx_bytes(labels))
    return images, labels


def test_idx_render_writes_images_pt_and_index(tmp_path):
    images, labels = write_image_set(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    render_from_idx(make_params(source="idx", idx={"images": str(tmp_path / "images.gz"), "labels": str(tmp_path / "labels.idx")}), out)
    saved = torch.load(out / "images.pt", weights_only=True)
    assert saved["images"].dtype == torch.uint8 and saved["labels"].dtype == torch.int64
    np.testing.assert_array_equal(saved["images"].numpy(), images)
    assert saved["labels"].tolist() == labels.tolist()
    notes = pd.read_csv(out / "notes.csv")
    assert (notes["file"] == "images.pt").all() and (notes["pitch"] == -1).all() and (notes["clip"] == 0).all()
    assert notes["program"].tolist() == labels.tolist() and notes["note_id"].tolist() == list(range(6))


def test_idx_render_reports_a_corrupted_file_as_a_stage_error(tmp_path):
    write_image_set(tmp_path)
    (tmp_path / "images.gz").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(DataError, match=r"images.gz: truncated header \(9 bytes, 3 dimensions need 16\)"):
        render_from_idx(make_params(source="idx", idx={"images": str(tmp_path / "images.gz")}), tmp_path)


def test_digits_render_writes_sklearn_digits_as_an_image_set(tmp_path):
    render_from_digits(tmp_path)
    saved = torch.load(tmp_path / "images.pt", weights_only=True)
    images, labels = saved["images"], saved["labels"]
    assert images.dtype == torch.uint8 and images.shape == (1797, 8, 8) and images.max() == 255
    assert torch.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert images[0].tolist()[0] == [0, 0, 80, 207, 143, 16, 0, 0]  # a zero: 0 5 13 9 1 0 0 0 in sixteenths
    notes = pd.read_csv(tmp_path / "notes.csv")
    assert notes["program"].tolist() == labels.tolist() and notes["note_id"].tolist() == list(range(1797))


def render_from_folder(params: Params, out: Path) -> None:
    data_kind("notes").render(params, out)


def render_from_idx(params: Params, out: Path) -> None:
    data_kind("images").render(params, out)
