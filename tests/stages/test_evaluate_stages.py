"""The evaluate, reference and results stages end to end in a temporary repository.

Data: harmonic tones at 16 kHz in the waveform2d layout (48 x 48). Model: a tiny U-Net trained
for a few steps by sgm.training.loop.train. Samples: written here, for one sampler the held-out notes
in another phase, for the other white noise, so the metrics have something to tell apart.
"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from sgm.checkpoints.inference import load_for_inference
from sgm.core.likelihood import log_likelihood
from sgm.core.score import score_fn_from_net
from sgm.core.sde import make_sde
from sgm.kinds import make_layout
from sgm.kinds.kernel import kernel_distance
from sgm.kinds.kind import BY_INSTRUMENT_COLUMNS, DataError
from sgm.nets.build import build_net
from sgm.notes.evaluation import Judged, by_instrument
from sgm.notes.metrics import spectral_flatness
from stages import evaluate, reference, results
from stages.common.outputs import StageError
from tests.helpers.reference_settings import fit
from tests.helpers.study_params import study_params

REPO = Path(__file__).resolve().parents[2]
SAMPLE_RATE = 16000
CLIP = 2304
POINT = "tiny-1e-3"
EPOCHS = [1, 2]
SAMPLERS = {"euler_maruyama": "tones", "probability_flow_ode": "noise"}
N_SAMPLES = 6
TEST_PITCHES = [61, 63, 66, 68, 70, 71]
CONFIG = {"net": "unet2d", "channels": [8, 16], "embed_dim": 16, "sde": {"name": "tutorial_ve", "sigma": 25.0}}
SEED = 0
BAND_HZ = 4000.0  # the data's low-pass cutoff, where in-band flatness stops


def tones(pitches, phase: float = 0.0) -> torch.Tensor:
    t = torch.arange(CLIP, dtype=torch.float64) / SAMPLE_RATE
    hz = 440.0 * 2 ** ((torch.tensor(pitches, dtype=torch.float64)[:, None] - 69) / 12)
    return (0.25 * sum(torch.sin(2 * math.pi * k * hz * t + k * phase) / k for k in range(1, 5))).float()


def write_params(root: Path, layout: str = "waveform2d") -> None:
    params = study_params()
    params["seed"] = SEED
    params["tensorize"]["layout"] = layout
    params["preprocess"]["lowpass_hz"] = BAND_HZ
    if layout == "image":
        params["kind"] = "images"
        params["render"].update(source="idx", idx={"images": "images.idx"})
    params["archs"] = {"tiny": {"net": "unet2d", "blocks": 2, "channels": CONFIG["channels"], "embed_dim": CONFIG["embed_dim"]}}
    params["grid"] = {POINT: {"arch": "tiny", "lr": 1e-3}}
    params["play"]["point"] = POINT
    params["train"].update(epochs=EPOCHS, sde=CONFIG["sde"])
    params["sample"].update(n_samples=N_SAMPLES, samplers=list(SAMPLERS))
    params["evaluate"].update(likelihood={"examples": 2, "rtol": 1e-2, "atol": 1e-2, "eps": 1e-5}, heldout_clips=None)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def write_tensors(root: Path) -> dict:
    """Train: 12 pitches x 2 phases; test: 6 other notes; labels as the tensorize stage writes them."""
    train_pitches = [p for p in range(60, 72)] * 2
    train_audio = torch.cat([tones(train_pitches[:12]), tones(train_pitches[12:], phase=1.0)])
    layout = make_layout("waveform2d", CLIP, SAMPLE_RATE).fit_scale(train_audio)
    out = root / "data" / "tensors"
    out.mkdir(parents=True)

    def split(audio, pitches):
        n = len(pitches)
        return {"x": layout.to_model(audio), "pitch": torch.tensor(pitches), "program": torch.zeros(n, dtype=torch.int64),
                "note_id": torch.tensor(pitches), "clip": torch.zeros(n, dtype=torch.int64)}  # fmt: skip

    torch.save(split(train_audio, train_pitches), out / "train.pt")
    torch.save(split(tones(TEST_PITCHES, phase=2.0), TEST_PITCHES), out / "test.pt")
    (out / "layout.json").write_text(json.dumps(layout.to_dict()))
    (out / "label_names.json").write_text(json.dumps({"instrument": {"0": "acoustic_grand_piano"}}))
    return {"layout": layout, "train": train_audio}


def write_training(run: Path, x: torch.Tensor) -> None:
    """Checkpoints from a few real training steps on x, and a loss record."""
    torch.manual_seed(SEED)
    net = build_net(CONFIG["net"], CONFIG["channels"], embed_dim=CONFIG["embed_dim"])
    fit(net, make_sde(**CONFIG["sde"]), x, lr=1e-3, batch_size=8, epochs=EPOCHS,
        checkpoint_dir=run / "train" / "checkpoints", seed=SEED, config=CONFIG, device="cpu")  # fmt: skip
    losses = {f"epoch_{e:03d}": {"train_loss": 100.0 / e, "test_loss": 110.0 / e} for e in EPOCHS}
    (run / "train" / "metrics.json").write_text(json.dumps(losses))


def write_run(root: Path, train_audio: torch.Tensor, layout) -> None:
    """Training, then samples and sampling records."""
    run = root / "runs" / POINT
    write_training(run, layout.to_model(train_audio))
    made = {
        "tones": tones(TEST_PITCHES, phase=0.5),
        "noise": 0.3 * torch.randn(N_SAMPLES, CLIP, generator=torch.Generator().manual_seed(1)),
    }
    sampling = {}
    for e in EPOCHS:
        sampling[f"epoch_{e:03d}"] = {}
        for sampler, kind in SAMPLERS.items():
            folder = run / "samples" / f"epoch_{e:03d}" / sampler
            folder.mkdir(parents=True)
            torch.save({"x": layout.to_model(made[kind]), "audio": made[kind]}, folder / "samples.pt")
            sampling[f"epoch_{e:03d}"][sampler] = {"nfe": 10.0 * e, "seconds_per_sample": 0.5}
    (run / "sampling.json").write_text(json.dumps(sampling))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A repository with params, tensors and one trained point, in which the three stages have run."""
    root = tmp_path_factory.mktemp("repo")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setattr("sys.argv", ["evaluate", POINT])
        write_params(root)
        data = write_tensors(root)
        write_run(root, data["train"], data["layout"])
        reference.main()
        evaluate.main()
        results.main()
    return root


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_evaluate_scores_tones_above_noise_for_every_checkpoint(repo):
    metrics = read(repo / "runs" / POINT / "eval" / "metrics.json")
    assert sorted(metrics) == ["epoch_001", "epoch_002"]
    for numbers in metrics.values():
        good, bad = numbers["euler_maruyama"], numbers["probability_flow_ode"]
        assert set(good) == {"pitchedness", "pitch_accuracy", "spectral_flatness", "spectral_flatness_in_band", "frechet_distance", "kernel_distance"}
        assert good["pitchedness"] == good["pitch_accuracy"] == 1.0
        assert bad["pitchedness"] == bad["pitch_accuracy"] == 0.0
        assert good["spectral_flatness"] < 1e-3 < 0.5 < bad["spectral_flatness"]
        assert good["spectral_flatness"] < good["spectral_flatness_in_band"] < 1e-3 < 0.5 < bad["spectral_flatness_in_band"]
        assert bad["frechet_distance"] > 3 * good["frechet_distance"]
        assert good["kernel_distance"] < 0 < bad["kernel_distance"]  # unbiased, not >= 0: the held-out notes in another phase fall below 0
        assert numbers["bpd_nfe"] >= 8 and math.isfinite(numbers["bpd"])


def test_by_instrument_sets_each_requested_instrument_beside_its_held_out_clips():
    clean = tones([60, 62, 64, 66])
    hissy = clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    embedding = torch.randn(4, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    instruments = ["piano", "piano", "violin", "violin"]
    said = {"instrument_accuracy": np.array(["piano", "violin", "violin", "violin"])}  # one piano clip mistaken
    real = Judged(clean, instruments, embedding, said)
    samples = {
        ("epoch_002", "heun"): Judged(torch.cat([clean[:2], hissy[2:]]), instruments, embedding + torch.tensor([0, 0, 3, 3])[:, None], said),
    }
    train = {"piano": embedding[:2] + 1.0, "violin": embedding[2:]}
    table = by_instrument(real, train, samples, SAMPLE_RATE, BAND_HZ)
    assert list(table.columns) == list(BY_INSTRUMENT_COLUMNS)
    assert table[["checkpoint", "sampler", "instrument", "clips"]].values.tolist() == [
        ["reference", "real", "piano", 2], ["reference", "real", "violin", 2], ["epoch_002", "heun", "piano", 2], ["epoch_002", "heun", "violin", 2],
    ]  # fmt: skip
    real_violin = spectral_flatness(clean[2:], SAMPLE_RATE, BAND_HZ)
    assert table["spectral_flatness_in_band"].iloc[1] == real_violin
    assert table["times_real"].tolist()[:3] == [1.0, 1.0, 1.0]  # the piano samples are the held-out piano clips
    assert table["times_real"].iloc[3] == spectral_flatness(hissy[2:], SAMPLE_RATE, BAND_HZ) / real_violin > 10
    # a shift of the mean alone: the distance is its squared length (3 channels moved by 1, then by 3)
    assert table["frechet_distance"].tolist() == pytest.approx([3.0, 0.0, 0.0, 27.0], abs=1e-5)  # eigenvalue rounding of rank-1 covariances
    pairs = [(train["piano"], embedding[:2]), (train["violin"], embedding[2:]), (embedding[:2], embedding[:2]), (embedding[2:] + 3, embedding[2:])]
    assert table["kernel_distance"].tolist() == pytest.approx([kernel_distance(ours, theirs) for ours, theirs in pairs], rel=1e-9)
    assert table["kernel_distance"].iloc[3] > table["kernel_distance"].iloc[2]
    assert table["instrument_accuracy"].tolist() == [0.5, 1.0, 0.5, 1.0]
    assert table["instrument_accuracy_partials"].isna().all()  # that judge gave no verdicts


def test_evaluate_writes_the_held_out_clips_flatness_by_instrument(repo):
    table = pd.read_csv(repo / "runs" / POINT / "eval" / "by_instrument.csv")
    held_out = torch.load(repo / "data" / "tensors" / "test.pt", weights_only=True)
    assert table[["checkpoint", "sampler", "instrument", "clips"]].values.tolist() == [["reference", "real", "acoustic_grand_piano", len(held_out["x"])]]
    assert table["times_real"].tolist() == [1.0] and 0 < table["spectral_flatness_in_band"].iloc[0] < 1e-3
    assert table["frechet_distance"].iloc[0] > 0  # as many training clips against the held-out ones
    assert table[["instrument_accuracy", "instrument_accuracy_partials"]].isna().all(axis=None)  # one instrument: nothing to tell apart


def test_summary_holds_the_headline_numbers_of_the_last_checkpoint_and_first_sampler_under_short_names(repo):
    metrics = read(repo / "runs" / POINT / "eval" / "metrics.json")["epoch_002"]
    summary = read(repo / "runs" / POINT / "summary.json")
    first = metrics[next(iter(SAMPLERS))]
    assert summary == {
        "pitched": first["pitchedness"],
        "at_pitch": first["pitch_accuracy"],
        "in_band": first["spectral_flatness_in_band"],
        "fd": first["frechet_distance"],
        "bpd": metrics["bpd"],
    }


def test_bits_per_dim_are_in_16_bit_audio_units(repo, monkeypatch):
    """bpd = -log2 p(x) / D + 15 - log2(scale): one 16-bit level is 2^-15 in audio units."""
    monkeypatch.chdir(repo)
    layout = json.loads((repo / "data" / "tensors" / "layout.json").read_text())
    x = torch.load(repo / "data" / "tensors" / "test.pt", weights_only=True)["x"][[0, 5]]  # 2 spread over 6
    net, sde, _ = load_for_inference(repo / "runs" / POINT / "train" / "checkpoints" / "epoch_002.pt", device="cpu")
    logp, nfe = log_likelihood(score_fn_from_net(net, sde), sde, x, 1e-2, 1e-2, 1e-5, torch.Generator().manual_seed(SEED))
    expected = (-logp / (CLIP * math.log(2)) + 15 - math.log2(layout["scale"])).mean().item()
    measured = read(repo / "runs" / POINT / "eval" / "metrics.json")["epoch_002"]
    assert measured["bpd"] == pytest.approx(expected, rel=1e-6)
    assert measured["bpd_nfe"] == nfe


def test_reference_real_clips_beat_shaped_noise(repo):
    numbers = read(repo / "results" / "reference" / "metrics.json")
    real, noise = numbers["real"], numbers["shaped_noise"]
    assert real["pitchedness"] == real["pitch_accuracy"] == 1.0
    assert noise["pitchedness"] < 1.0
    assert noise["frechet_distance"] > real["frechet_distance"]
    assert noise["kernel_distance"] > real["kernel_distance"]
    assert real["spectral_flatness"] < noise["spectral_flatness"]
    assert real["spectral_flatness_in_band"] < noise["spectral_flatness_in_band"]


def test_results_table_has_a_row_per_checkpoint_and_sampler_and_the_references(repo):
    table = pd.read_csv(repo / "results" / "results.csv")
    assert list(table.columns) == list(results.COLUMNS)
    assert len(table) == len(EPOCHS) * len(SAMPLERS) + 2
    evaluation = read(repo / "runs" / POINT / "eval" / "metrics.json")
    row = table[(table["epoch"] == 2) & (table["sampler"] == "probability_flow_ode")].iloc[0]
    assert (row["point"], row["arch"], row["blocks"], row["channels"], row["lr"]) == (POINT, "tiny", 2, "8-16", 1e-3)
    assert (row["train_loss"], row["test_loss"], row["nfe"], row["seconds_per_sample"]) == (50.0, 55.0, 20.0, 0.5)
    assert row["bpd"] == pytest.approx(evaluation["epoch_002"]["bpd"])
    assert row["frechet_distance"] == pytest.approx(evaluation["epoch_002"]["probability_flow_ode"]["frechet_distance"])
    references = table[table["point"] == "reference"].set_index("sampler")
    assert list(references.index) == ["real", "shaped_noise"]
    assert references["bpd"].isna().all() and references["pitchedness"].notna().all()


def test_summary_names_the_best_row_and_holds_the_references(repo):
    summary = read(repo / "results" / "summary.json")
    table = pd.read_csv(repo / "results" / "results.csv")
    tone_rows = table[table["sampler"] == "euler_maruyama"]
    best = tone_rows.sort_values(["frechet_distance", "bpd"]).iloc[0]
    assert (summary["best"]["sampler"], summary["best"]["epoch"]) == ("euler_maruyama", int(best["epoch"]))
    assert summary["best"]["frechet_distance"] == pytest.approx(best["frechet_distance"])
    assert summary["reference"] == read(repo / "results" / "reference" / "metrics.json")


def test_images_get_bits_per_dim_in_8_bit_units_and_no_audio_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["evaluate", POINT])
    write_params(tmp_path, layout="image")
    generator = torch.Generator().manual_seed(0)
    images = (torch.rand(20, 6, 6, generator=generator) * 256).to(torch.uint8)
    layout = make_layout("image", 36, 0, padded_size=8).fit_scale(images)
    out = tmp_path / "data" / "tensors"
    out.mkdir(parents=True)
    for name, rows in (("train.pt", slice(0, 16)), ("test.pt", slice(16, None))):
        n = len(images[rows])
        labels = {key: torch.zeros(n, dtype=torch.int64) for key in ("program", "note_id", "clip")}
        torch.save({"x": layout.to_model(images[rows]), "pitch": torch.full((n,), -1), **labels}, out / name)
    (out / "layout.json").write_text(json.dumps(layout.to_dict()))
    (out / "label_names.json").write_text("{}")
    run = tmp_path / "runs" / POINT
    write_training(run, layout.to_model(images[:16]))
    for e in EPOCHS:
        for sampler in SAMPLERS:
            (run / "samples" / f"epoch_{e:03d}" / sampler).mkdir(parents=True)
            torch.save({"x": layout.to_model(images[:2])}, run / "samples" / f"epoch_{e:03d}" / sampler / "samples.pt")
    sampling = {f"epoch_{e:03d}": {sampler: {"nfe": 1.0, "seconds_per_sample": 0.1} for sampler in SAMPLERS} for e in EPOCHS}
    (run / "sampling.json").write_text(json.dumps(sampling))

    reference.main()
    evaluate.main()
    results.main()

    assert read(tmp_path / "results" / "reference" / "metrics.json") == {"real": {}, "shaped_noise": {}}
    metrics = read(run / "eval" / "metrics.json")
    assert {name: sorted(numbers) for name, numbers in metrics.items()} == {
        "epoch_001": ["bpd", "bpd_nfe"],
        "epoch_002": ["bpd", "bpd_nfe"],
    }
    x = torch.load(out / "test.pt", weights_only=True)["x"][[0, 3]]  # 2 spread over 4
    net, sde, _ = load_for_inference(run / "train" / "checkpoints" / "epoch_001.pt", device="cpu")
    logp, _ = log_likelihood(score_fn_from_net(net, sde), sde, x, 1e-2, 1e-2, 1e-5, torch.Generator().manual_seed(SEED))
    dims = 8 * 8
    assert metrics["epoch_001"]["bpd"] == pytest.approx((-logp / (dims * math.log(2)) + math.log2(255)).mean().item(), rel=1e-6)
    summary = read(tmp_path / "results" / "summary.json")
    best_epoch = min(EPOCHS, key=lambda e: metrics[f"epoch_{e:03d}"]["bpd"])
    assert (summary["best"]["epoch"], summary["best"]["sampler"]) == (best_epoch, "euler_maruyama")
    assert "frechet_distance" not in summary["best"]


def test_missing_inputs_are_listed_together(repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text((repo / "params.yaml").read_text())
    monkeypatch.setattr("sys.argv", ["evaluate", POINT])
    with pytest.raises(StageError) as err:
        evaluate.main()
    assert "epoch_001.pt" in str(err.value) and "epoch_002/probability_flow_ode/samples.pt" in str(err.value)
    with pytest.raises(StageError, match="sampling.json"):
        results.main()
    with pytest.raises(StageError, match="data/tensors/layout.json"):
        reference.main()
    monkeypatch.setattr("sys.argv", ["evaluate", "nope"])
    with pytest.raises(StageError, match=f"POINT one of: {POINT}"):
        evaluate.main()


def test_samples_without_scorable_audio_are_named(repo, tmp_path, monkeypatch):
    shutil.copytree(repo, tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setattr("sys.argv", ["evaluate", POINT])
    samples = Path("runs") / POINT / "samples" / "epoch_002" / "euler_maruyama" / "samples.pt"
    torch.save({"x": torch.zeros(2, 1, 48, 48)}, samples)
    with pytest.raises(DataError, match=f"^{samples} holds \\['x'\\], no 'audio' \\(N, L\\) tensor to score$"):
        evaluate.main()
    torch.save({"audio": torch.zeros(2, 100)}, samples)
    with pytest.raises(DataError, match=f"^{samples}: audio must be \\(N, L\\) clips with L >= 2048, got shape \\(2, 100\\)$"):
        evaluate.main()


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("evaluate", "heldout_clips", 1, "data/tensors/test.pt gives 1 held-out clip(s); the Frechet distance needs at least 2"),
        ("sample", "n_samples", 1, "sample.n_samples=1: the references need 2 <= n_samples <= 24 training clips"),
        ("sample", "n_samples", 25, "sample.n_samples=25: the references need 2 <= n_samples <= 24 training clips"),
    ],
)
def test_reference_needs_at_least_two_clips_on_each_side(repo, tmp_path, monkeypatch, section, key, value, message):
    shutil.copytree(repo / "data", tmp_path / "data")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params[section][key] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as err:
        reference.main()
    assert str(err.value) == message
    assert not (tmp_path / "results").exists()
