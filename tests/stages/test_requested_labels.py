"""Evaluate and reference check samples against their requested digits and instruments (the kinds' judges)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from sgm.images.digits import digit_images
from sgm.kinds import make_layout
from sgm.kinds.kind import DataError
from stages import evaluate, reference
from tests.notes.test_timbre_classifier import RATE, L, tones
from tests.stages.test_evaluate_stages import EPOCHS, POINT, SAMPLERS, write_params, write_training

INSTRUMENTS = {"sine": 0, "square": 40, "sawtooth": 73}  # wave -> the GM program it stands for here


def write_split(out, name, layout, data, programs, pitches=None):
    n = len(data)
    pitch = torch.full((n,), -1) if pitches is None else torch.as_tensor(pitches)
    torch.save({"x": layout.to_model(data), "pitch": pitch, "program": torch.as_tensor(programs, dtype=torch.int64),
                "note_id": torch.arange(n), "clip": torch.zeros(n, dtype=torch.int64)}, out / name)  # fmt: skip


def per_clip(pitches) -> list[int]:
    """The pitch of each clip tones() makes: one clip a wave and pitch."""
    return [p for p in pitches for _ in INSTRUMENTS]


def write_samples(run, layout, made: dict) -> None:
    """samples.pt per checkpoint and sampler from `made` {sampler: (data, requested)}."""
    for e in EPOCHS:
        for sampler, (data, requested) in made.items():
            folder = run / "samples" / f"epoch_{e:03d}" / sampler
            folder.mkdir(parents=True)
            record = {"x": layout.to_model(data), "requested": requested}
            if layout.name != "image":
                record["audio"] = data
            torch.save(record, folder / "samples.pt")
    sampling = {f"epoch_{e:03d}": {sampler: {"nfe": 1.0, "seconds_per_sample": 0.1} for sampler in made} for e in EPOCHS}
    (run / "sampling.json").write_text(json.dumps(sampling))


def read(path):
    return json.loads(path.read_text())


@pytest.fixture
def digits_repo(tmp_path, monkeypatch, single_thread):
    """Real digits tensors (8x8 enlarged to 32x32); samples: real held-out digits, asked for right and wrong."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["evaluate", POINT])
    write_params(tmp_path, layout="image")
    images, labels = (torch.from_numpy(a) for a in digit_images())
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    train, test = order[:1600], order[1600:]
    layout = make_layout("image", 64, 0).fit_scale(images[train])
    out = tmp_path / "data" / "tensors"
    out.mkdir(parents=True)
    write_split(out, "train.pt", layout, images[train], labels[train])
    write_split(out, "test.pt", layout, images[test], labels[test])
    (out / "layout.json").write_text(json.dumps(layout.to_dict()))
    (out / "label_names.json").write_text("{}")
    run = tmp_path / "runs" / POINT
    write_training(run, layout.to_model(images[train[:16]]))
    asked = labels[test[:100]].tolist()
    right, wrong = list(SAMPLERS)
    write_samples(run, layout, {right: (images[test[:100]], {"digit": asked}), wrong: (images[test[:100]], {"digit": [(d + 3) % 10 for d in asked]})})
    return tmp_path


def test_digit_samples_are_scored_against_the_requested_digits(digits_repo):
    reference.main()
    evaluate.main()
    real = read(digits_repo / "results" / "reference" / "metrics.json")["real"]
    assert list(real) == ["digit_accuracy"] and 0.95 <= real["digit_accuracy"] <= 1.0
    metrics = read(digits_repo / "runs" / POINT / "eval" / "metrics.json")
    right, wrong = list(SAMPLERS)
    for name in ("epoch_001", "epoch_002"):
        assert metrics[name][right]["digit_accuracy"] >= 0.95
        assert metrics[name][wrong]["digit_accuracy"] <= 0.02
        assert "bpd" not in metrics[name]  # enlarged images have no density over their stored pixels


def test_requests_that_do_not_match_the_samples_are_reported(digits_repo):
    samples = digits_repo / "runs" / POINT / "samples" / "epoch_001" / "euler_maruyama" / "samples.pt"
    record = torch.load(samples, weights_only=True)
    record["requested"] = {"digit": [1, 2]}
    torch.save(record, samples)
    with pytest.raises(DataError, match=r"samples.pt: 100 samples but requests of other lengths \{'digit': 2\}"):
        evaluate.main()
    record["requested"] = {"digit": [12] * 100}
    torch.save(record, samples)
    with pytest.raises(DataError, match=r"samples.pt: requested digit\(s\) \[12\] are not digits 0-9"):
        evaluate.main()


def test_instrument_samples_are_scored_by_both_judges_against_the_requested_instruments(tmp_path, monkeypatch, single_thread):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["evaluate", POINT])
    write_params(tmp_path)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["render"].update(sample_rate=RATE, clip_samples=L)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    train_pitches, test_pitches = range(48, 85, 2), range(49, 84, 6)
    train_audio, train_waves = tones(train_pitches, seed=0)
    test_audio, test_waves = tones(test_pitches, seed=1)
    layout = make_layout("waveform2d", train_audio.shape[1], RATE).fit_scale(train_audio)
    out = tmp_path / "data" / "tensors"
    out.mkdir(parents=True)
    write_split(out, "train.pt", layout, train_audio, [INSTRUMENTS[w] for w in train_waves], per_clip(train_pitches))
    write_split(out, "test.pt", layout, test_audio, [INSTRUMENTS[w] for w in test_waves], per_clip(test_pitches))
    (out / "layout.json").write_text(json.dumps(layout.to_dict()))
    names = {0: "acoustic_grand_piano", 40: "violin", 73: "flute"}  # as the study's instruments are named
    (out / "label_names.json").write_text(json.dumps({"instrument": names}))
    run = tmp_path / "runs" / POINT
    write_training(run, layout.to_model(train_audio[:16]))
    asked = [names[INSTRUMENTS[w]] for w in test_waves]
    right, wrong = list(SAMPLERS)
    asked_pitch = per_clip(test_pitches)
    write_samples(run, layout, {right: (test_audio, {"instrument": asked, "pitch": asked_pitch}),
                                wrong: (test_audio, {"instrument": np.roll(asked, 1).tolist(), "pitch": asked_pitch})})  # fmt: skip

    reference.main()
    evaluate.main()
    numbers = read(tmp_path / "results" / "reference" / "metrics.json")
    real = numbers["real"]
    assert real["instrument_accuracy"] >= 0.9 and real["instrument_accuracy_partials"] >= 0.9 and real["pitchedness"] == 1.0
    assert sorted(numbers["judges"]) == ["noise_10x", "noise_30x", "shifted_+2", "shifted_-2"]
    for condition in numbers["judges"].values():
        assert sorted(condition) == ["instrument_accuracy", "instrument_accuracy_partials"]
    assert numbers["judges"]["noise_30x"]["instrument_accuracy_partials"] >= 0.9  # the partials judge holds under noise
    metrics = read(run / "eval" / "metrics.json")["epoch_002"]
    for judge in ("instrument_accuracy", "instrument_accuracy_partials"):
        assert metrics[right][judge] >= 0.9 and metrics[wrong][judge] <= 0.1
    assert metrics[right]["pitchedness"] == 1.0  # the audio metrics are still there
    table = pd.read_csv(run / "eval" / "by_instrument.csv")
    for sampler in SAMPLERS:  # each instrument's share, weighted by its clips, is the overall share
        rows = table[(table["checkpoint"] == "epoch_002") & (table["sampler"] == sampler)]
        assert sorted(rows["instrument"]) == sorted(set(asked)) and rows["clips"].sum() == len(asked)
        for judge in ("instrument_accuracy", "instrument_accuracy_partials"):
            assert (rows[judge] * rows["clips"]).sum() / len(asked) == pytest.approx(metrics[sampler][judge])
    right_rows = table[(table["checkpoint"] == "epoch_002") & (table["sampler"] == right)].set_index("instrument").sort_index()
    real_rows = table[table["checkpoint"] == "reference"].set_index("instrument").sort_index()
    assert (real_rows["frechet_distance"] > 0).all() and (real_rows["instrument_accuracy"] >= 0.5).all()
    assert (right_rows["frechet_distance"] < 1e-3 * real_rows["frechet_distance"]).all()  # the held-out clips themselves
