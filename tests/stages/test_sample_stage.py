"""The sample stage on its own, in a temporary directory: what it writes, that it repeats the
samplers exactly, and one-line errors for missing or damaged inputs.

Model: a tiny U-Net trained for a few steps by sgm.train.train on 16 x 16 waveform images.
"""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from sgm.audio.wav import read_wav
from sgm.checkpoints.inference import load_for_inference
from sgm.checkpoints.model import build_model
from sgm.core.labels import balanced_requests, encode_labels
from sgm.core.samplers import sample as run_sampler
from sgm.core.score import LabelGuidance, score_fn_from_net
from sgm.core.sde import make_sde
from sgm.kinds import make_layout
from sgm.kinds.layout import band_limit
from sgm.nets.build import build_net
from stages import sample
from stages.common.outputs import StageError
from tests.helpers.reference_settings import fit
from tests.helpers.study_params import study_params

REPO = Path(__file__).resolve().parents[2]
POINT = "tiny-1e-3"
SAMPLE_RATE = 16000
CLIP = 256
EPOCHS = [1, 2]
SAMPLERS = ["euler_maruyama", "heun"]
N_SAMPLES, BATCH = 5, 2
CONFIG = {"net": "unet2d", "channels": [8, 16], "embed_dim": 16, "sde": {"name": "vp", "beta_min": 0.1, "beta_max": 20.0}}

pytestmark = pytest.mark.usefixtures("single_thread")


def write_inputs(root: Path) -> None:
    params = study_params()
    params["seed"] = 3
    params["archs"] = {"tiny": {"net": "unet2d", "blocks": 2, "channels": CONFIG["channels"], "embed_dim": CONFIG["embed_dim"]}}
    params["grid"] = {POINT: {"arch": "tiny", "lr": 1e-3}}
    params["play"]["point"] = POINT
    params["train"].update(epochs=EPOCHS, sde=CONFIG["sde"])
    params["sample"].update(
        n_samples=N_SAMPLES, batch_size=BATCH, samplers=SAMPLERS, euler_maruyama={"steps": 4, "eps": 1e-3}, heun={"steps": 3, "rho": 7.0, "eps": 1e-3},
        fast_path="off",  # float32, so the stage's draws equal the samplers' own bit for bit
    )
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    audio = tones()
    layout = make_layout("waveform2d", CLIP, SAMPLE_RATE).fit_scale(audio)
    (root / "data" / "tensors").mkdir(parents=True)
    (root / "data" / "tensors" / "layout.json").write_text(json.dumps(layout.to_dict()))
    torch.manual_seed(0)
    net = build_net(CONFIG["net"], CONFIG["channels"], embed_dim=CONFIG["embed_dim"])
    fit(net, make_sde(**CONFIG["sde"]), layout.to_model(audio), lr=1e-3, batch_size=4, epochs=EPOCHS,
        checkpoint_dir=root / "runs" / POINT / "train" / "checkpoints", config=CONFIG, device="cpu")  # fmt: skip


def tones() -> torch.Tensor:
    """Eight sine clips, 440 Hz and up in steps of an eighth."""
    t = torch.arange(CLIP) / SAMPLE_RATE
    return torch.stack([0.5 * torch.sin(2 * math.pi * 440 * (1 + k / 8) * t) for k in range(8)])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    write_inputs(root)
    return root


@pytest.fixture
def workdir(inputs, tmp_path, monkeypatch):
    """A fresh copy of the inputs to run the stage in."""
    shutil.copytree(inputs, tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    monkeypatch.setattr("sys.argv", ["sample", POINT])
    return tmp_path / "repo"


def test_writes_every_checkpoint_and_sampler_exactly_as_the_samplers_draw(workdir):
    sample.main()
    sampling = json.loads((workdir / "runs" / POINT / "sampling.json").read_text())
    assert sorted(sampling) == ["epoch_001", "epoch_002"]
    for epoch in EPOCHS:
        name = f"epoch_{epoch:03d}"
        net, sde, _ = load_for_inference(workdir / "runs" / POINT / "train" / "checkpoints" / f"{name}.pt", device="cpu")
        for sampler in SAMPLERS:
            folder = workdir / "runs" / POINT / "samples" / name / sampler
            record = torch.load(folder / "samples.pt", weights_only=True)
            # The same draws as the sampler itself makes in batches of 2, 2, 1 from one generator seeded with `seed`.
            generator = torch.Generator().manual_seed(3)
            settings = {"euler_maruyama": {"steps": 4, "eps": 1e-3}, "heun": {"steps": 3, "rho": 7.0, "eps": 1e-3}}[sampler]
            expected = torch.cat([
                run_sampler(sampler, score_fn_from_net(net, sde), sde, sde.prior_sampling((size, 1, 16, 16), generator=generator), settings, generator=generator)[0]
                for size in (2, 2, 1)
            ])  # fmt: skip
            assert torch.equal(record["x"], expected)
            stored = json.loads((workdir / "data" / "tensors" / "layout.json").read_text())
            torch.testing.assert_close(record["audio"], record["x"].reshape(N_SAMPLES, CLIP) / stored["scale"])
            wavs = sorted(folder.glob("*.wav"))
            assert [w.name for w in wavs] == [f"sample_{i:03d}.wav" for i in range(N_SAMPLES)]
            clip, rate = read_wav(wavs[4])
            assert rate == SAMPLE_RATE and clip.shape == (1, CLIP)
            assert abs(clip[0] - record["audio"][4].clamp(-1, 1).numpy()).max() <= 1 / 32768
            assert sampling[name][sampler]["nfe"] == {"euler_maruyama": 4, "heun": 5}[sampler]
            assert sampling[name][sampler]["seconds_per_sample"] > 0


def test_same_seed_gives_identical_samples(workdir):
    sample.main()
    first = torch.load(workdir / "runs" / POINT / "samples" / "epoch_002" / "heun" / "samples.pt", weights_only=True)
    sample.main()
    second = torch.load(workdir / "runs" / POINT / "samples" / "epoch_002" / "heun" / "samples.pt", weights_only=True)
    assert torch.equal(first["x"], second["x"])


def test_label_guidance_guides_each_batch_towards_its_requested_instrument(workdir):
    conditioning = {"pitch": [60, 62], "instrument": ["flute", "violin"]}
    config = {**CONFIG, "conditioning": conditioning}
    checkpoints = workdir / "runs" / POINT / "train" / "checkpoints"
    shutil.rmtree(checkpoints)
    torch.manual_seed(0)
    net, sde = build_model(config)
    layout = make_layout("waveform2d", CLIP, SAMPLE_RATE).fit_scale(tones())
    labels = torch.tensor([[k % 2, k // 4] for k in range(8)])
    fit(net, sde, layout.to_model(tones()), checkpoints, config, labels=labels, lr=1e-3, batch_size=4, epochs=EPOCHS, device="cpu", label_dropout=0.3)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["train"]["conditioning"] = list(conditioning)
    params["sample"].update(samplers=["heun"], guidance=1.0, guidance_interval=None, label_guidance={"instrument": {"scale": 2.0, "interval": [0.0, 1.0]}})
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    sample.main()

    record = torch.load(workdir / "runs" / POINT / "samples" / "epoch_002" / "heun" / "samples.pt", weights_only=True)
    requests = balanced_requests(conditioning, N_SAMPLES, 3)
    assert record["requested"] == {kind: [request[kind] for request in requests] for kind in conditioning}
    net, sde, _ = load_for_inference(checkpoints / "epoch_002.pt", device="cpu")
    settings = {"steps": 3, "rho": 7.0, "eps": 1e-3}
    draws = {}
    for terms in ([LabelGuidance(1, 2.0, (0.0, 1.0))], []):
        generator, batches = torch.Generator().manual_seed(3), []
        for first, size in ((0, 2), (2, 2), (4, 1)):
            score = score_fn_from_net(net, sde, encode_labels(conditioning, requests[first : first + size]), 1.0, None, terms)
            batches.append(run_sampler("heun", score, sde, sde.prior_sampling((size, 1, 16, 16), generator=generator), settings, generator=generator)[0])
        draws[bool(terms)] = torch.cat(batches)
    assert torch.equal(record["x"], draws[True])
    assert (draws[True] - draws[False]).abs().max() > 1e-4  # the instrument's own guidance made a difference


def test_audio_keeps_to_the_data_band_unless_band_limit_is_off(workdir):
    stored = json.loads((workdir / "data" / "tensors" / "layout.json").read_text())
    (workdir / "data" / "tensors" / "layout.json").write_text(json.dumps({**stored, "band_hz": 4000.0}))
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    records = {}
    for limited in (True, False):
        params["sample"]["band_limit"] = limited
        (workdir / "params.yaml").write_text(yaml.safe_dump(params))
        sample.main()
        records[limited] = torch.load(workdir / "runs" / POINT / "samples" / "epoch_002" / "heun" / "samples.pt", weights_only=True)
    limited, raw = records[True], records[False]
    assert torch.equal(limited["x"], raw["x"])  # the same draws; only the audio differs
    torch.testing.assert_close(raw["audio"], raw["x"].reshape(N_SAMPLES, CLIP) / stored["scale"])
    above = torch.fft.rfftfreq(CLIP, 1 / SAMPLE_RATE) > 4000.0
    power_above = lambda audio: torch.fft.rfft(audio.double()).abs().square()[:, above].sum().item()  # noqa: E731
    assert power_above(raw["audio"]) > 1e-3 * raw["audio"].double().square().sum().item() * CLIP
    assert power_above(limited["audio"]) < 1e-9 * power_above(raw["audio"])
    torch.testing.assert_close(limited["audio"], band_limit(raw["audio"], SAMPLE_RATE, 4000.0))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / "data/tensors/layout.json").unlink(), "data/tensors/layout.json is missing (run the tensorize stage first)"),
        (lambda root: (root / "data/tensors/layout.json").write_text("{not json"), "data/tensors/layout.json is not a layout written by"),
        (lambda root: (root / "data/tensors/layout.json").write_text('{"scale": 1.0}'), "data/tensors/layout.json is not a layout written by"),
        (
            lambda root: (root / f"runs/{POINT}/train/checkpoints/epoch_002.pt").unlink(),
            f"missing checkpoint(s) (run the train stage first): runs/{POINT}/train/checkpoints/epoch_002.pt",
        ),
        (
            lambda root: (root / f"runs/{POINT}/train/checkpoints/epoch_001.pt").write_bytes(b"PK\x03\x04 truncated"),
            f"checkpoint runs/{POINT}/train/checkpoints/epoch_001.pt is unreadable",
        ),
    ],
    ids=["no-layout", "layout-not-json", "layout-without-name", "no-checkpoint", "damaged-checkpoint"],
)
def test_missing_or_damaged_inputs_stop_with_one_line_naming_the_file(workdir, damage, message):
    damage(workdir)
    with pytest.raises(StageError) as err:
        sample.main()
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (workdir / "runs" / POINT / "samples").exists()
    assert not list(workdir.glob("runs/**/.*.partial"))
