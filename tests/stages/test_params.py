"""params.yaml validation: every mistake is reported with its key before any stage works."""

from pathlib import Path

import pytest
import yaml

from sgm.audio.general_midi import STUDY_INSTRUMENTS
from stages.common.params import Arch, ParamsError, load_params

REPO = Path(__file__).resolve().parents[2]


def default_params() -> dict:
    """params.yaml, with a 2-D U-Net of the study's and the melody preset's source settings beside its own."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["archs"]["b4-32to256"] = yaml.safe_load((REPO / "presets" / "study-grid.yaml").read_text())["archs"]["b4-32to256"]
    params["render"]["melody"] = yaml.safe_load((REPO / "presets" / "melody.yaml").read_text())["render"]["melody"]
    return params


def load(tmp_path, params) -> object:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return load_params(path)


def test_default_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.render.pitch_high - params.render.pitch_low + 1 == 37
    assert len(STUDY_INSTRUMENTS) == 59
    for point in params.grid.values():
        assert point.arch in params.archs


def test_study_architectures_are_all_declared():
    archs = {name: Arch(**arch) for name, arch in yaml.safe_load((REPO / "presets" / "study-grid.yaml").read_text())["archs"].items()}
    assert sorted(len(a.channels) for a in archs.values() if a.net == "unet2d") == [4] * 4 + [5] * 4 + [6] * 4
    assert [128, 256, 512, 1024, 2048, 4096] in [a.channels for a in archs.values()]


def edit(params, dotted, value):
    *parents, last = dotted.split("/")
    node = params
    for key in parents:
        node = node[key]
    node[last] = value
    return params


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("train/batch_sizes", 3, "train.batch_sizes: unknown key"),
        ("train/batch_size", "big", "train.batch_size: Input should be a valid integer"),
        ("train/batch_size", 0, "train.batch_size: Input should be greater than 0"),
        ("train/epochs", [20, 10], "train.epochs: epochs must be a non-empty strictly increasing list"),
        ("train/sde", {"name": "cosine"}, "train.sde.name: unknown SDE 'cosine'; accepted: ve, vp, subvp, tutorial_ve"),
        ("archs/b4-32to256", {"net": "unet2d", "blocks": 5, "channels": [32, 64, 128, 256], "embed_dim": 256}, "channel list [32, 64, 128, 256] has 4 entries but blocks=5"),
        ("grid/b4-32to256-1e-4", {"arch": "b9-huge", "lr": 1e-4}, "grid point 'b4-32to256-1e-4' names architecture 'b9-huge', which is not in archs"),
        ("grid/b4-32to256-0.0001", {"arch": "b4-32to256", "lr": 1e-4}, "grid point name 'b4-32to256-0.0001' contains '.'"),
        ("sample/samplers", ["euler_maruyama", "ddim"], "sample.samplers: unknown sampler(s) ['ddim']; accepted: euler_maruyama"),
        ("sample/samplers", ["heun", "heun"], "sample.samplers: names a sampler twice: ['heun', 'heun']"),
        ("archs/b4-1d-0.5x", {"net": "unet1d", "blocks": 2, "channels": [8, 16], "embed_dim": 16}, "architecture name 'b4-1d-0.5x' contains '.'"),
        ("tensorize/layout", "mel", "tensorize.layout: Input should be 'waveform2d', 'waveform1d', 'stft', 'image' or 'pianoroll'"),
        ("render/pitch_low", 95, "pitch_low=95 is above pitch_high=91"),
        ("seed", -1, "seed: Input should be greater than or equal to 0"),
        ("train/max_examples", 8, "train: batch_size=16 exceeds max_examples=8"),
    ],
)
def test_bad_params_name_the_key(tmp_path, dotted, value, expected):
    with pytest.raises(ParamsError) as err:
        load(tmp_path, edit(default_params(), dotted, value))
    assert expected in str(err.value)


def test_all_mistakes_are_reported_at_once(tmp_path):
    params = edit(edit(default_params(), "train/batch_size", -1), "sample/n_samples", "x")
    with pytest.raises(ParamsError) as err:
        load(tmp_path, params)
    assert "train.batch_size" in str(err.value) and "sample.n_samples" in str(err.value)


def test_layout_and_net_must_agree(tmp_path):
    params = edit(default_params(), "tensorize/layout", "waveform2d")
    with pytest.raises(ParamsError, match="uses 'b4-1d-32to256', a unet1d, but layout 'waveform2d' needs a unet2d"):
        load(tmp_path, params)


def test_lowpass_must_be_below_nyquist(tmp_path):
    with pytest.raises(ParamsError, match="lowpass_hz=30000.0 is not below the Nyquist frequency 22050.0 Hz"):
        load(tmp_path, edit(default_params(), "preprocess/lowpass_hz", 30000.0))


def test_heun_needs_two_noise_levels_wherever_it_is_chosen(tmp_path):
    with pytest.raises(ParamsError, match="play.steps must be >= 2 with heun, got 1"):
        load(tmp_path, edit(default_params(), "play/steps", 1))
    with pytest.raises(ParamsError, match="play.inpaint.steps must be >= 2 with heun, got 1"):
        load(tmp_path, edit(edit(default_params(), "play/inpaint/sampler", "heun"), "play/inpaint/steps", 1))
    assert load(tmp_path, edit(edit(default_params(), "play/sampler", "euler_maruyama"), "play/steps", 1)).play.steps == 1


def test_image_layout_needs_the_idx_source(tmp_path):
    unfiltered = edit(default_params(), "tensorize/preemphasis", 0.0)
    with pytest.raises(ParamsError, match="layout 'image' does not fit render.source 'soundfont'"):
        load(tmp_path, edit(unfiltered, "tensorize/layout", "image"))
    with pytest.raises(ParamsError, match="render.source 'digits' makes images, not notes .*: set kind: images"):
        load(tmp_path, edit(default_params(), "render/source", "digits"))
    with pytest.raises(ParamsError, match="layout 'waveform[12]d' does not fit render.source 'digits'"):
        load(tmp_path, edit(edit(default_params(), "kind", "images"), "render/source", "digits"))
    digits = edit(edit(edit(unfiltered, "kind", "images"), "render/source", "digits"), "tensorize/layout", "image")
    digits["grid"] = {"b4-32to256-1e-3": {"arch": "b4-32to256", "lr": 1e-3}}
    digits["play"]["point"] = "b4-32to256-1e-3"
    assert load(tmp_path, edit(digits, "train/conditioning", ["digit"])).train.conditioning == ["digit"]
    with pytest.raises(ParamsError, match=r"conditioning \['pitch'\] does not fit render.source 'digits'"):
        load(tmp_path, edit(digits, "train/conditioning", ["pitch"]))
    with pytest.raises(ParamsError, match=r"conditioning \['digit'\] does not fit render.source 'soundfont'"):
        load(tmp_path, edit(default_params(), "train/conditioning", ["digit"]))
    with pytest.raises(ParamsError, match="tensorize: preemphasis=0.9 filters waveforms; layout 'image' holds none"):
        load(tmp_path, edit(edit(digits, "train/conditioning", ["digit"]), "tensorize/preemphasis", 0.9))


def test_exponents_without_a_dot_are_numbers_as_dvc_writes_them(tmp_path):
    text = (REPO / "params.yaml").read_text().replace("{arch: b4-1d-32to256, lr: 1.0e-3}", "{arch: b4-1d-32to256, lr: 1e-05}")
    assert "lr: 1e-05" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load_params(tmp_path / "params.yaml").grid["b4-1d-32to256-1e-3"].lr == 1e-5


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "params.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")


# One bad value for every key a stage reads: (key path, value, words the message must contain).
# Each row must stop load_params, so `dvc repro` fails before the first stage does any work.
BAD_VALUES = [
    ("seed", 1.5, ["seed:", "valid integer"]),
    ("render/source", "mp3", ["render.source:", "'soundfont', 'folder', 'idx', 'digits' or 'melody'"]),
    ("render/soundfont", 3, ["render.soundfont:", "valid string"]),
    ("kind", "sounds", ["kind: unknown kind of data 'sounds'; accepted: notes, images, melodies"]),
    ("render/pitch_low", -1, ["render.pitch_low:", "greater than or equal to 0"]),
    ("render/pitch_high", 128, ["render.pitch_high:", "less than or equal to 127"]),
    ("render/velocity", 0, ["render.velocity:", "greater than or equal to 1"]),
    ("render/note_seconds", 0.5, ["note_seconds=0.5 gives 22050 samples", "fewer than clips_per_note*clip_samples=49152"]),
    ("render/sample_rate", 0, ["render.sample_rate:", "greater than 0"]),
    ("render/channels", 3, ["render.channels:", "less than or equal to 2"]),
    ("render/clip_samples", 16001, ["grid point 'b4-1d-32to256-1e-3'", "4 blocks need sizes divisible by 64", "(1, 16001)"]),
    ("render/clips_per_note", 0, ["render.clips_per_note:", "greater than 0"]),
    ("render/on_bad_file", "ignore", ["render.on_bad_file:", "'error' or 'skip'"]),
    ("render/source", "folder", ["source is 'folder' but render.folder.path is not set"]),
    ("render/folder", {"labels": "x.csv"}, ["render.folder.path: missing"]),
    ("render/idx", {"images": 5}, ["render.idx.images:", "valid string"]),
    ("preprocess/lowpass_hz", -100.0, ["preprocess.lowpass_hz:", "greater than 0"]),
    ("preprocess/lowpass_order", 20, ["preprocess.lowpass_order:", "less than or equal to 16"]),
    ("preprocess/normalize_peak", 1.5, ["preprocess.normalize_peak:", "less than or equal to 1"]),
    ("tensorize/layout", "mel", ["tensorize.layout:", "'waveform2d', 'waveform1d', 'stft', 'image' or 'pianoroll'"]),
    ("tensorize/target_std", 0.0, ["tensorize.target_std:", "greater than 0"]),
    ("tensorize/preemphasis", 1.0, ["tensorize.preemphasis:", "less than 1"]),
    ("tensorize/stft", {"n_fft": 128, "hop": 256}, ["tensorize.stft:", "hop=256 exceeds n_fft=128"]),
    ("tensorize/stft/n_fft", 0, ["tensorize.stft.n_fft:", "greater than 0"]),
    ("tensorize/stft/hop", 0, ["tensorize.stft.hop:", "greater than 0"]),
    ("tensorize/test_fraction", 1.0, ["tensorize.test_fraction:", "less than 1"]),
    ("tensorize/split_seed", "x", ["tensorize.split_seed:", "valid integer"]),
    ("archs/b4-32to256/net", "unet3d", ["archs.b4-32to256.net:", "'unet2d' or 'unet1d'"]),
    ("archs/b4-32to256/blocks", 0, ["archs.b4-32to256.blocks:", "greater than 0"]),
    ("archs/b4-32to256/channels", [32, 0, 128, 256], ["archs.b4-32to256.channels.1:", "greater than 0"]),
    ("archs/b4-32to256/embed_dim", 255, ["archs.b4-32to256:", "embed_dim=255 must be even"]),
    ("archs/b4-32to256/attention_heads", 4, ["archs.b4-32to256:", "attention_heads=4 needs net unet1d, not unet2d"]),
    ("archs/b4-1d-32to256/attention_heads", 3, ["archs.b4-1d-32to256:", "attention_heads=3 must divide the last channel count 256"]),
    ("archs/b4-1d-32to256/attention_heads", -1, ["archs.b4-1d-32to256.attention_heads:", "greater than or equal to 0"]),
    ("archs/b4-1d-32to256", {"net": "unet1d", "blocks": 9, "channels": [8] * 9, "embed_dim": 16}, ["grid point 'b4-1d-32to256-1e-3'", "9 blocks need sizes divisible by 65536", "(1, 16384)"]),
    ("grid/b4-1d-32to256-1e-3/arch", "b9-huge", ["names architecture 'b9-huge', which is not in archs"]),
    ("grid/b4-1d-32to256-1e-3/lr", 0.0, ["grid.b4-1d-32to256-1e-3.lr:", "greater than 0"]),
    ("train/sde", {"name": "ve", "sigma": 25.0}, ["train.sde: 've' takes sigma_min, sigma_max; got sigma"]),
    ("train/sde", {"name": "vp", "sigma_max": 50.0}, ["train.sde: 'vp' takes beta_min, beta_max; got sigma_max"]),
    ("train/sde", {"name": "ve", "sigma_min": 5.0, "sigma_max": 1.0}, ["train.sde:", "0 < sigma_min < sigma_max"]),
    ("train/sde", {"name": "tutorial_ve", "sigma": 0.5}, ["train.sde:", "sigma > 1"]),
    ("train/sde/name", "cosine", ["train.sde.name: unknown SDE 'cosine'; accepted: ve, vp, subvp, tutorial_ve"]),
    ("train/loss_weighting", "uniform", ["train.loss_weighting:", "'study', 'likelihood' or 'edm'"]),
    ("train/precond/name", "karras", ["train.precond.name:", "'none' or 'edm'"]),
    ("train/precond/sigma_data", 0.0, ["train.precond.sigma_data:", "greater than 0"]),
    ("train/precond/log_sigma_mean", "low", ["train.precond.log_sigma_mean:", "valid number"]),
    ("train/precond/log_sigma_std", -1.0, ["train.precond.log_sigma_std:", "greater than 0"]),
    ("train/precond", {"name": "none", "sigma_data": 0.5, "log_sigma_mean": -1.2, "log_sigma_std": 1.2}, ["loss_weighting 'edm' needs precond.name 'edm'"]),
    ("train/conditioning", ["pitch", "velocity"], ["train.conditioning.1:", "'pitch', 'instrument' or 'digit'"]),
    ("train/conditioning", ["pitch", "pitch"], ["names a label kind twice"]),
    ("train/label_dropout", 1.0, ["train.label_dropout:", "less than 1"]),
    ("sample/guidance", -1.0, ["sample.guidance:", "greater than or equal to 0"]),
    ("sample/guidance_interval", [1.0, 0.1], ["sample.guidance_interval:", "noise levels with low < high, got [1.0, 0.1]"]),
    ("sample/guidance_interval", [0.1], ["sample.guidance_interval:", "at least 2 items"]),
    ("sample/label_guidance", {"instrument": {"scale": 1.0, "interval": None}}, ["sample.label_guidance names ['instrument'], which train.conditioning ['pitch'] does not hold"]),
    ("sample/label_guidance", {"pitch": {"scale": -1.0, "interval": None}}, ["sample.label_guidance.pitch.scale:", "greater than or equal to 0"]),
    ("sample/label_guidance", {"velocity": {"scale": 1.0, "interval": None}}, ["sample.label_guidance.velocity.[key]:", "'pitch', 'instrument' or 'digit'"]),
    ("sample/label_guidance", {"pitch": {"scale": 1.0}}, ["sample.label_guidance.pitch.interval: missing"]),
    ("sample/fast_path", "fast", ["sample.fast_path:", "'auto', 'on' or 'off'"]),
    ("sample/band_limit", "sometimes", ["sample.band_limit:", "valid boolean"]),
    ("sample/compile", True, ["sample.compile:", "'auto', 'on' or 'off'"]),
    ("train/fast_path", True, ["train.fast_path:", "'auto', 'on' or 'off'"]),
    ("train/save_every_minutes", 0, ["train.save_every_minutes:", "greater than 0"]),
    ("train/save_every_steps", -3, ["train.save_every_steps:", "greater than 0"]),
    ("render/instruments", ["flute", "theremin"], ["instruments ['theremin'] are not among the study's 59 General MIDI instruments"]),
    ("render/melody/corpus", 5, ["render.melody.corpus:", "valid string"]),
    ("render/melody/folder", 5, ["render.melody.folder:", "valid string"]),
    ("render/melody/max_pieces", 0, ["render.melody.max_pieces:", "greater than 0"]),
    ("render/melody/transpose", "yes", ["render.melody.transpose:", "valid boolean"]),
    ("render/melody/pitch_low", 120, ["render.melody.pitch_low:"]),
    ("render/melody/hop_steps", 0, ["render.melody.hop_steps:", "greater than 0"]),
    ("render/melody/tempo_qpm", 0.0, ["render.melody.tempo_qpm:", "greater than 0"]),
    ("render/melody/program", 128, ["render.melody.program:", "less than or equal to 127"]),
    ("train/epochs", [], ["train.epochs:", "non-empty strictly increasing"]),
    ("train/batch_size", 0, ["train.batch_size:", "greater than 0"]),
    ("train/max_examples", 0, ["train.max_examples:", "greater than 0"]),
    ("train/test_examples", -5, ["train.test_examples:", "greater than 0"]),
    ("train/lr_schedule", "step", ["train.lr_schedule:", "'constant', 'linear' or 'cosine'"]),
    ("train/lr_decay_fraction", 0.0, ["train.lr_decay_fraction:", "greater than 0"]),
    ("train/crop_samples", 0, ["train.crop_samples:", "greater than 0"]),
    ("train/crop_samples", 4000, ["train.crop_samples=4000", "divisible by 64"]),
    ("train/crop_samples", 32768, ["train.crop_samples=32768 exceeds the 16384 samples"]),
    ("train/spectral_loss/weight", -0.1, ["train.spectral_loss.weight:", "greater than or equal to 0"]),
    ("train/spectral_loss/sigma_max", 0.0, ["train.spectral_loss.sigma_max:", "greater than 0"]),
    ("train/spectral_loss/fft_sizes", [], ["train.spectral_loss.fft_sizes:", "at least one FFT size"]),
    ("train/spectral_loss/fft_sizes", [8], ["train.spectral_loss.fft_sizes.0:", "greater than or equal to 16"]),
    ("train/ema_decay", 1.0, ["train.ema_decay:", "less than 1"]),
    ("train/grad_clip", 0.0, ["train.grad_clip:", "greater than 0"]),
    ("train/compile", True, ["train.compile:", "'auto', 'on' or 'off'"]),
    ("train/log_every", 0, ["train.log_every:", "greater than 0"]),
    ("train/nproc_per_node", 0, ["train.nproc_per_node:", "greater than 0"]),
    ("train/nproc_per_node", 3, ["batch_size=16 must split evenly over nproc_per_node x nnodes = 3 processes"]),
    ("train/nnodes", 0, ["train.nnodes:", "greater than 0"]),
    ("sample/n_samples", 0, ["sample.n_samples:", "greater than 0"]),
    ("sample/batch_size", 0, ["sample.batch_size:", "greater than 0"]),
    ("sample/samplers", [], ["sample.samplers:", "accepted: euler_maruyama"]),
    ("sample/euler_maruyama/steps", 0, ["sample.euler_maruyama.steps:", "greater than 0"]),
    ("sample/euler_maruyama/eps", 1.5, ["sample.euler_maruyama.eps:", "less than 1"]),
    ("sample/predictor_corrector/steps", 2.5, ["sample.predictor_corrector.steps:", "valid integer"]),
    ("sample/predictor_corrector/snr", 0.0, ["sample.predictor_corrector.snr:", "greater than 0"]),
    ("sample/predictor_corrector/corrector_steps", -1, ["sample.predictor_corrector.corrector_steps:", "greater than 0"]),
    ("sample/predictor_corrector/eps", 0.0, ["sample.predictor_corrector.eps:", "greater than 0"]),
    ("sample/probability_flow_ode/rtol", 0.0, ["sample.probability_flow_ode.rtol:", "greater than 0"]),
    ("sample/probability_flow_ode/atol", -1.0, ["sample.probability_flow_ode.atol:", "greater than 0"]),
    ("sample/probability_flow_ode/eps", 2.0, ["sample.probability_flow_ode.eps:", "less than 1"]),
    ("sample/heun/steps", 1, ["sample.heun.steps:", "greater than or equal to 2"]),
    ("sample/heun/rho", 0.0, ["sample.heun.rho:", "greater than 0"]),
    ("sample/heun/eps", 1.0, ["sample.heun.eps:", "less than 1"]),
    ("evaluate/likelihood/examples", 0, ["evaluate.likelihood.examples:", "greater than 0"]),
    ("evaluate/likelihood/rtol", 0.0, ["evaluate.likelihood.rtol:", "greater than 0"]),
    ("evaluate/likelihood/atol", 0.0, ["evaluate.likelihood.atol:", "greater than 0"]),
    ("evaluate/likelihood/eps", 1.0, ["evaluate.likelihood.eps:", "less than 1"]),
    ("evaluate/crepe_model", "large", ["evaluate.crepe_model:", "'tiny' or 'full'"]),
    ("evaluate/periodicity_threshold", 1.0, ["evaluate.periodicity_threshold:", "less than 1"]),
    ("evaluate/heldout_clips", 0, ["evaluate.heldout_clips:", "greater than 0"]),
    ("plot/real_clips", 0, ["plot.real_clips:", "greater than 0"]),
    ("plot/sheet_columns", 0, ["plot.sheet_columns:", "greater than 0"]),
    ("plot/metrics", ["fid"], ["plot.metrics: no results.csv column(s) ['fid']; accepted: train_loss"]),
    ("plot/hyperparameters", ["lr", "width"], ["plot.hyperparameters: no results.csv column(s) ['width']; accepted: point"]),
    ("play/point", 3, ["play.point:", "valid string"]),
    ("play/point", "b9-nowhere", ["play.point 'b9-nowhere' is not a grid point (b4-1d-32to256-1e-3): name the one to play, e.g. -S play.point=b4-1d-32to256-1e-3"]),
    ("play/instrument", 5, ["play.instrument:", "valid string"]),
    ("play/sampler", "probability_flow_ode", ["play.sampler must be one of euler_maruyama, predictor_corrector, heun"]),
    ("play/steps", 0, ["play.steps:", "greater than 0"]),
    ("play/guidance", -1.0, ["play.guidance:", "greater than or equal to 0"]),
    ("play/guidance_interval", [-1.0, 2.0], ["play.guidance_interval.0:", "greater than or equal to 0"]),
    ("play/scale", "dorian", ["play.scale: unknown scale 'dorian'; accepted: chromatic"]),
    ("play/clip", -1, ["play.clip:", "greater than or equal to 0"]),
    ("play/keep_ms", 0.0, ["play.keep_ms:", "greater than 0"]),
    ("play/inpaint/sampler", "ddim", ["play.inpaint.sampler:"]),
    ("play/inpaint/steps", 0, ["play.inpaint.steps:", "greater than 0"]),
    ("play/inpaint/resample", 0, ["play.inpaint.resample:", "greater than 0"]),
    ("play/strength", 1.5, ["play.strength:", "less than or equal to 1"]),
    ("play/between", -1, ["play.between:", "greater than or equal to 0"]),
    ("play/ode/rtol", 0.0, ["play.ode.rtol:", "greater than 0"]),
    ("play/ode/atol", 0.0, ["play.ode.atol:", "greater than 0"]),
    ("play/melody", 3, ["play.melody:", "valid string"]),
    ("play/beat_seconds", 0.0, ["play.beat_seconds:", "greater than 0"]),
]


@pytest.mark.parametrize(("dotted", "value", "words"), BAD_VALUES, ids=[f"{row[0]}={row[1]!r}" for row in BAD_VALUES])
def test_every_key_refuses_a_bad_value(tmp_path, dotted, value, words):
    with pytest.raises(ParamsError) as err:
        load(tmp_path, edit(default_params(), dotted, value))
    for word in words:
        assert word in str(err.value)


def test_every_key_of_params_yaml_has_a_bad_value_row():
    def leaves(node, prefix=""):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and key not in ("programs", "sde"):
                yield from leaves(value, path + "/")
            else:
                yield path

    params = default_params()
    keys = set(leaves({k: v for k, v in params.items() if k not in ("archs", "grid")}))
    keys |= {"archs/b4-32to256/" + key for key in ("net", "blocks", "channels", "embed_dim", "attention_heads")}
    keys |= {"grid/b4-1d-32to256-1e-3/" + key for key in params["grid"]["b4-1d-32to256-1e-3"]}
    covered = {row[0] for row in BAD_VALUES}
    assert sorted(keys - covered) == []


def test_crops_are_refused_for_layouts_other_than_the_1d_waveform(tmp_path):
    params = edit(edit(default_params(), "train/crop_samples", 4096), "tensorize/layout", "waveform2d")
    with pytest.raises(ParamsError, match="train.crop_samples=4096 crops 1-D clips: it needs tensorize.layout 'waveform1d', not 'waveform2d'"):
        load(tmp_path, params)


def test_the_spectral_loss_needs_1d_waveforms_at_least_as_long_as_its_largest_fft(tmp_path):
    def spectral(weight, key, value):
        return edit(edit(default_params(), "train/spectral_loss/weight", weight), key, value)

    with pytest.raises(ParamsError, match="train.spectral_loss reads 1-D waveforms: it needs tensorize.layout 'waveform1d', not 'waveform2d'"):
        load(tmp_path, spectral(0.05, "tensorize/layout", "waveform2d"))
    with pytest.raises(ParamsError, match=r"train.spectral_loss.fft_sizes \[512, 1024, 2048\] exceed the 1024 samples trained on"):
        load(tmp_path, spectral(0.05, "train/crop_samples", 1024))
    assert load(tmp_path, spectral(0.0, "train/crop_samples", 1024)).train.crop_samples == 1024  # off: no FFT to fit


def shipped_leaves(node, prefix=()):
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from shipped_leaves(value, (*prefix, key))
        else:
            yield (*prefix, key)


@pytest.mark.parametrize("path", list(shipped_leaves(yaml.safe_load((REPO / "params.yaml").read_text()))), ids=".".join)
def test_a_removed_key_stops_the_run_naming_it_and_never_falls_back(tmp_path, path):
    # params.yaml ships every default: without a key the run stops (dvc exp run -S '~key'), it does not
    # quietly take a value of its own, such as the study's.
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    node = params
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(ParamsError) as err:
        load(tmp_path, params)
    dotted = ".".join(path)
    sde_parameter = path[:2] == ("train", "sde") and path[-1] != "name"  # an SDE names the parameters it takes
    assert (f"train.sde: 've' takes sigma_min, sigma_max; missing {path[-1]}" if sde_parameter else f"{dotted}: missing") in str(err.value)
