"""params.yaml validation: every mistake is reported with its key before any stage works."""

from pathlib import Path

import pytest
import yaml

from stages.config import ParamsError, load_params

REPO = Path(__file__).resolve().parents[1]


def default_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def load(tmp_path, params) -> object:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return load_params(path)


def test_default_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.render.pitch_high - params.render.pitch_low + 1 == 37
    assert len(params.render.programs) == 59
    for point in params.grid.values():
        assert point.arch in params.archs


def test_study_architectures_are_all_declared():
    archs = load_params(REPO / "params.yaml").archs
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
        ("archs/b4-32to256", {"blocks": 5, "channels": [32, 64, 128, 256]}, "channel list [32, 64, 128, 256] has 4 entries but blocks=5"),
        ("grid/b4-32to256-1e-4", {"arch": "b9-huge", "lr": 1e-4}, "grid point 'b4-32to256-1e-4' names architecture 'b9-huge', which is not in archs"),
        ("grid/b4-32to256-0.0001", {"arch": "b4-32to256", "lr": 1e-4}, "grid point name 'b4-32to256-0.0001' contains '.'"),
        ("sample/samplers", ["euler_maruyama", "ddim"], "sample.samplers: unknown sampler(s) ['ddim']; accepted: euler_maruyama"),
        ("tensorize/layout", "mel", "tensorize.layout: Input should be 'waveform2d', 'waveform1d', 'stft' or 'image'"),
        ("render/pitch_low", 95, "pitch_low=95 is above pitch_high=91"),
        ("seed", -1, "seed: Input should be greater than or equal to 0"),
        ("train/max_examples", 16, "train: batch_size=32 exceeds max_examples=16"),
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


def test_1d_layout_needs_1d_net(tmp_path):
    params = edit(default_params(), "tensorize/layout", "waveform1d")
    with pytest.raises(ParamsError, match="layout 'waveform1d' needs a unet1d"):
        load(tmp_path, params)


def test_lowpass_must_be_below_nyquist(tmp_path):
    with pytest.raises(ParamsError, match="lowpass_hz=30000.0 is not below the Nyquist frequency 22050.0 Hz"):
        load(tmp_path, edit(default_params(), "preprocess/lowpass_hz", 30000.0))


def test_image_layout_needs_the_idx_source(tmp_path):
    with pytest.raises(ParamsError, match="layout 'image' does not fit render.source 'soundfont'"):
        load(tmp_path, edit(default_params(), "tensorize/layout", "image"))
    with pytest.raises(ParamsError, match="layout 'waveform2d' does not fit render.source 'digits'"):
        load(tmp_path, edit(default_params(), "render/source", "digits"))
    digits = edit(edit(default_params(), "render/source", "digits"), "tensorize/layout", "image")
    assert load(tmp_path, edit(digits, "train/conditioning", ["digit"])).train.conditioning == ["digit"]
    with pytest.raises(ParamsError, match=r"conditioning \['pitch'\] does not fit render.source 'digits'"):
        load(tmp_path, edit(digits, "train/conditioning", ["pitch"]))
    with pytest.raises(ParamsError, match=r"conditioning \['digit'\] does not fit render.source 'soundfont'"):
        load(tmp_path, edit(default_params(), "train/conditioning", ["digit"]))


def test_exponents_without_a_dot_are_numbers_as_dvc_writes_them(tmp_path):
    text = (REPO / "params.yaml").read_text().replace("{arch: b4-32to256, lr: 1.0e-4}", "{arch: b4-32to256, lr: 1e-05}")
    assert "lr: 1e-05" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load_params(tmp_path / "params.yaml").grid["b4-32to256-1e-4"].lr == 1e-5


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "params.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")
