"""The melody source through the stages: a user's folder checked file by file, and a real DVC run on a tiny corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pretty_midi
import pytest
import torch
import yaml

from sgm.kinds.kind import DataError
from stages.render import main as render_main
from tests.helpers.dvc_project import dvc_project
from tests.helpers.study_params import melody_params
from tests.melodies.test_rolls import chorale_like


def write_midi(path: Path, pitches: list[int]) -> None:
    """Quarter notes at 120 qpm (0.5 s each), one after another, twice over."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate(pitches * 2):
        piano.notes.append(pretty_midi.Note(90, pitch, 0.5 * i, 0.5 * i + 0.5))
    midi.instruments.append(piano)
    midi.write(str(path))


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A folder with 2 good scores, 3 bad ones and files that are not scores; cwd holds params.yaml."""
    folder = tmp_path / "my_scores"
    (folder / "sub").mkdir(parents=True)
    write_midi(folder / "sub" / "tune.mid", [60, 62, 64, 65, 67, 69, 71, 72] * 2)  # 32 quarters = 128 steps
    shutil.copy(chorale_like(tmp_path), folder / "chorale.musicxml")
    shutil.copy(chorale_like(tmp_path, time_signature="3/4"), folder / "waltz.musicxml")
    (folder / "broken.mid").write_bytes(b"MThd not really a midi file")
    (folder / "empty.mid").write_bytes(b"")
    (folder / "README.txt").write_text("not a score")
    (folder / ".hidden.mid").write_bytes(b"junk")
    params = melody_params()
    params["render"].update(sample_rate=8000, melody={**params["render"]["melody"], "corpus": None, "folder": str(folder)})
    params["preprocess"]["lowpass_hz"] = 3000.0
    params["tensorize"]["layout"] = "pianoroll"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    return tmp_path, folder


def set_param(root: Path, section: str, **values) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_every_bad_score_file_is_listed_in_one_error(user_folder):
    root, folder = user_folder
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.rglob("*"))
    with pytest.raises(DataError) as raised:
        render_main()
    lines = str(raised.value).splitlines()
    assert lines[0] == f"3 problem(s) with the 5 score file(s) in {folder} (set render.on_bad_file: skip to leave bad files out):"
    assert lines[1].startswith("  broken.mid: not readable as MIDI or MusicXML")
    assert lines[2] == "  empty.mid: empty file (0 bytes)"
    assert lines[3] == "  waltz.musicxml: time signature 3/4; needs 4/4 (32 sixteenth steps = 2 bars)"
    assert not (root / "data").exists() or not any((root / "data").rglob("*.pt"))
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.rglob("*")) == before


def test_skipped_files_go_to_rejected_csv_and_good_ones_are_cut(user_folder):
    root, _ = user_folder
    set_param(root, "render", on_bad_file="skip")
    render_main()
    notes = root / "data" / "notes"
    rejected = pd.read_csv(notes / "rejected.csv")
    assert rejected["file"].tolist() == ["broken.mid", "empty.mid", "waltz.musicxml"]
    pieces = pd.read_csv(notes / "pieces.csv")
    assert pieces["source"].tolist() == ["chorale.musicxml", "sub/tune.mid"]
    # chorale: 80 steps after the pickup -> segments at 0, 16, 32, 48; tune: 128 steps -> 0, 16, ..., 96
    assert pieces["segments"].tolist() == [4, 7]
    data = torch.load(notes / "rolls.pt", weights_only=True)
    assert data["rolls"].shape == (11, 3, 32, 32) and data["rolls"].dtype == torch.uint8
    assert data["piece"].tolist() == [0] * 4 + [1] * 7 and data["start"].tolist() == [0, 16, 32, 48, 0, 16, 32, 48, 64, 80, 96]
    metrics = json.loads((notes / "metrics.json").read_text())
    # chorale: pickup + 20 soprano + 5 bass notes; tune: 32 notes
    assert metrics == {"pieces": 2, "segments": 11, "rejected": 3, "notes": 58, "notes_outside_window": 0}
    assert json.loads((notes / "roll.json").read_text())["step_seconds"] == 0.125


def test_a_folder_without_scores_is_refused(user_folder, tmp_path):
    root, _ = user_folder
    empty = tmp_path / "nothing"
    empty.mkdir()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["render"]["melody"]["folder"] = str(empty)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(DataError, match=r"render.melody.folder '.*nothing' holds no score files \(looked for: .mid .midi .musicxml .mxl .xml\)"):
        render_main()


def tiny_melody_params() -> dict:
    params = melody_params()
    params["render"].update(sample_rate=8000)
    params["render"]["melody"].update(corpus="bach", max_pieces=4)
    params["preprocess"]["lowpass_hz"] = 3000.0
    params["tensorize"].update(layout="pianoroll", test_fraction=0.5)
    params["archs"] = {"tiny": {"net": "unet2d", "blocks": 2, "channels": [8, 16], "embed_dim": 16}}
    params["grid"] = {"tiny-1e-3": {"arch": "tiny", "lr": 1e-3}}
    params["play"]["point"] = "tiny-1e-3"
    params["train"].update(epochs=[1], batch_size=8, max_examples=None, log_every=1)
    params["sample"].update(n_samples=4, batch_size=4, samplers=["euler_maruyama"], euler_maruyama={"steps": 5, "eps": 1e-3})
    params["evaluate"]["heldout_clips"] = 8
    params["plot"].update(real_clips=1, metrics=["frechet_distance", "in_key_share"])
    return params


def test_dvc_repro_trains_samples_and_scores_melodies(tmp_path):
    root = tmp_path / "project"
    _, run = dvc_project(root, tiny_melody_params())
    run("git", "add", "-A")
    run("git", "commit", "-qm", "tiny melody project")
    run("dvc", "exp", "run", "-n", "melody")

    counts = json.loads((root / "data" / "notes" / "metrics.json").read_text())
    assert counts["pieces"] >= 3 and counts["segments"] > 20
    train, test = (torch.load(root / "data" / "tensors" / f"{split}.pt", weights_only=True) for split in ("train", "test"))
    assert len(train["x"]) + len(test["x"]) == counts["segments"] and train["x"].shape[1:] == (3, 32, 32)
    assert not set(train["note_id"].tolist()) & set(test["note_id"].tolist())  # no piece on both sides
    samples = root / "runs" / "tiny-1e-3" / "samples" / "epoch_001" / "euler_maruyama"
    assert len(list(samples.glob("sample_*.mid"))) == 4 and len(list(samples.glob("sample_*.wav"))) == 4
    midi = pretty_midi.PrettyMIDI(str(samples / "sample_000.mid"))
    assert midi.instruments[0].program == 0

    table = pd.read_csv(root / "results" / "results.csv").set_index("sampler")
    assert list(table.index) == ["euler_maruyama", "real", "random_rolls"]
    for column in ["pitch_class_distance", "in_key_share", "note_density", "polyphony", "empty_share", "frechet_distance"]:
        assert table[column].notna().all(), column
    assert table.loc["real", "empty_share"] == 0  # the corpus gives no empty segment
    assert table.loc["real", "in_key_share"] > table.loc["random_rolls", "in_key_share"]

    plots = json.loads((root / "plots" / "index.json").read_text())
    pictures = plots["points"][0]["checkpoints"][0]["samplers"][0]["samples"]
    assert len(pictures) == 4 and all((root / "plots" / p["png"]).is_file() for p in pictures)
    page = (root / "report" / "index.html").read_text()
    assert page.count("<audio") == 4 + 1 and "pitch_class_distance" in page

    shown = json.loads(run("dvc", "exp", "show", "--json").stdout)
    baseline = next(row for row in shown if row["rev"] != "workspace")
    experiment = baseline["experiments"][0]["revs"][0]
    assert experiment["name"] == "melody"
    headline = experiment["data"]["metrics"]["runs/tiny-1e-3/summary.json"]["data"]
    assert set(headline) == {"fd", "pitch_classes", "in_key"}  # what dvc exp show compares; the detail stays in the files
    evaluated = json.loads((root / "runs" / "tiny-1e-3" / "eval" / "metrics.json").read_text())
    assert set(evaluated["epoch_001"]["euler_maruyama"]) >= {"pitch_class_distance", "frechet_distance", "in_key_share"}
    assert headline["fd"] == evaluated["epoch_001"]["euler_maruyama"]["frechet_distance"]
    assert set(json.loads((root / "results" / "reference" / "metrics.json").read_text())) == {"real", "random_rolls"}
