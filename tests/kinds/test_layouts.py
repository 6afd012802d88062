"""Layouts: exact inverses, the row-by-row waveform image, scale rules and size errors."""

import json
import math

import pytest
import torch

from sgm.kinds import layout_from_dict, make_layout, read_layout_file

L = 16384
SR = 44100


def random_audio(n=3, length=L, dtype=torch.float64, seed=0):
    return torch.rand(n, length, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2 - 1


@pytest.mark.parametrize(
    ("name", "options", "shape"),
    [("waveform2d", {}, (1, 128, 128)), ("waveform1d", {}, (1, 16384)), ("stft", {"n_fft": 254, "hop": 128}, (2, 128, 128))],
)
def test_audio_layouts_invert_exactly(name, options, shape):
    layout = make_layout(name, L, SR, scale=3.7, **options)
    audio = random_audio()
    x = layout.to_model(audio)
    assert layout.shape == shape
    assert x.shape == (3, *shape)
    back = layout.to_audio(x)
    assert back.shape == audio.shape
    assert (back - audio).abs().max() < 1e-12


def test_stft_round_trip_in_float32_is_within_1e_5_relative():
    layout = make_layout("stft", L, SR, n_fft=254, hop=128).fit_scale(random_audio(8, dtype=torch.float32))
    audio = random_audio(8, dtype=torch.float32, seed=1)
    error = (layout.to_audio(layout.to_model(audio)) - audio).abs().max() / audio.abs().max()
    assert error < 1e-5


@pytest.mark.parametrize("name", ["waveform2d", "waveform1d", "stft"])
def test_preemphasis_is_undone_exactly(name):
    layout = make_layout(name, L, SR, scale=3.7, preemphasis=0.9)
    audio = random_audio()
    assert (layout.to_audio(layout.to_model(audio)) - audio).abs().max() < 1e-10
    emphasized = layout.to_model(audio) if name != "stft" else None
    if emphasized is not None:  # the waveform layouts hold 3.7 * (x[n] - 0.9 x[n-1]), x[-1] = 0
        flat = emphasized.reshape(3, L) / 3.7
        assert torch.allclose(flat[:, 0], audio[:, 0]) and torch.allclose(flat[:, 1:], audio[:, 1:] - 0.9 * audio[:, :-1])
    float32 = make_layout(name, L, SR, preemphasis=0.97).fit_scale(random_audio(4, dtype=torch.float32), target_std=0.5)
    audio32 = random_audio(4, dtype=torch.float32, seed=1)
    assert (float32.to_audio(float32.to_model(audio32)) - audio32).abs().max() < 1e-5


def test_preemphasis_lifts_high_frequencies_by_the_first_order_high_pass_gain():
    t = torch.arange(L, dtype=torch.float64)
    layout = make_layout("waveform1d", L, SR, preemphasis=0.9)
    for hz in (200.0, 2000.0, 15000.0):
        sine = torch.sin(2 * torch.pi * hz * t / SR)[None]
        omega = 2 * torch.pi * hz / SR
        gain = abs(1 - 0.9 * complex(torch.cos(torch.tensor(omega)), -torch.sin(torch.tensor(omega))))
        ratio = layout.to_model(sine)[0, 0, 1000:].std() / sine[0, 1000:].std()
        assert ratio.item() == pytest.approx(gain, rel=1e-3)  # 0.10 at 200 Hz, 0.30 at 2 kHz, 1.8 at 15 kHz


def test_preemphasis_preserves_volume_so_densities_are_unchanged():
    layout = make_layout("waveform1d", 32, SR, scale=2.0, preemphasis=0.9)
    jacobian = torch.autograd.functional.jacobian(lambda a: layout.to_model(a[None]).flatten(), torch.zeros(32, dtype=torch.float64))
    assert torch.linalg.slogdet(jacobian).logabsdet.item() == pytest.approx(32 * math.log(2.0), abs=1e-9)


def test_layouts_stored_before_preemphasis_and_band_load_without_them():
    stored = {"layout": "waveform1d", "clip_samples": L, "sample_rate": SR, "scale": 2.0}
    assert layout_from_dict(stored).preemphasis == 0.0
    assert layout_from_dict(stored).band_hz is None


def periodic_sine(cycles: int) -> torch.Tensor:
    """A sine of `cycles` whole periods per clip: one Fourier coefficient, at cycles * SR / L Hz."""
    return torch.sin(2 * torch.pi * cycles * torch.arange(L, dtype=torch.float64) / L)


@pytest.mark.parametrize(("name", "options"), [("waveform2d", {}), ("waveform1d", {}), ("stft", {"n_fft": 254, "hop": 128})])
def test_to_audio_projects_onto_the_band(name, options):
    layout = make_layout(name, L, SR, scale=3.7, preemphasis=0.9, band_hz=13000.0, **options)
    in_band, above = periodic_sine(372), 0.1 * periodic_sine(5200)  # 1.0 kHz and 14.0 kHz
    back = layout.to_audio(layout.to_model(torch.stack([in_band + above, in_band])))
    assert (back[0] - in_band).abs().max() < 1e-9  # the 14 kHz sine is gone, the 1 kHz one untouched
    assert (back[1] - in_band).abs().max() < 1e-9
    assert (layout.to_audio(layout.to_model(back)) - back).abs().max() < 1e-9  # a projection: twice is once
    noise = random_audio(2)
    removed = noise - layout.to_audio(layout.to_model(noise))
    share_above = (SR / 2 - 13000.0) / (SR / 2)
    assert removed.square().sum() / noise.square().sum() == pytest.approx(share_above, rel=0.02)  # white noise loses the band above


def test_stft_frames_cover_odd_lengths_too():
    layout = make_layout("stft", 1000, SR, n_fft=62, hop=32)
    assert layout.shape == (2, 32, 31)  # 30 hops of 32 + 62 = 1022 >= 1000 samples
    audio = random_audio(2, 1000)
    assert (layout.to_audio(layout.to_model(audio)) - audio).abs().max() < 1e-12


def test_stft_channels_are_real_and_imaginary_parts_of_a_spectrum():
    t = torch.arange(L, dtype=torch.float64)
    bin_index = 20  # a sine exactly on bin 20 of a 254-point FFT
    sine = torch.sin(2 * torch.pi * bin_index * t / 254)[None]
    magnitude = make_layout("stft", L, SR).to_model(sine).square().sum(1).sqrt()[0]
    assert magnitude.mean(1).argmax() == bin_index


def test_waveform2d_fills_rows_first():
    audio = random_audio(1)
    x = make_layout("waveform2d", L, SR, scale=2.0).to_model(audio)
    assert x[0, 0, 1, 0] == 2.0 * audio[0, 128]
    assert x[0, 0, 0, 127] == 2.0 * audio[0, 127]
    assert x[0, 0, 127, 127] == 2.0 * audio[0, L - 1]


def test_waveform_scale_puts_the_training_peak_at_one():
    train = random_audio() * 0.25
    layout = make_layout("waveform2d", L, SR).fit_scale(train)
    assert layout.scale == pytest.approx(1 / train.abs().max().item())
    assert layout.to_model(train).abs().max().item() == pytest.approx(1.0)


def test_stft_scale_gives_training_std_one_half():
    train = random_audio(dtype=torch.float32) * 0.1
    layout = make_layout("stft", L, SR).fit_scale(train)
    assert layout.to_model(train).std().item() == pytest.approx(0.5, rel=1e-4)


def test_silent_training_data_cannot_set_a_scale():
    with pytest.raises(ValueError, match="silent"):
        make_layout("waveform1d", L, SR).fit_scale(torch.zeros(2, L))


def test_image_layout_pads_with_zero_and_maps_pixels_to_unit_range():
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    layout = make_layout("image", 28 * 28, 0).fit_scale(images)
    x = layout.to_model(images)
    assert layout.scale == 1 / 255
    assert x.shape == (4, 1, 32, 32)
    assert x[:, :, :2].abs().max() == 0 and x[:, :, :, 30:].abs().max() == 0
    assert x[0, 0, 2, 2].item() == pytest.approx(images[0, 0, 0].item() / 255)
    assert torch.equal(layout.to_images(x), images)
    with pytest.raises(ValueError, match="no to_audio"):
        layout.to_audio(x)


def test_small_images_are_enlarged_by_whole_pixel_blocks_and_shrunk_back_by_block_means():
    images = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    layout = make_layout("image", 8 * 8, 0).fit_scale(images)
    assert layout.upsample == 4 and layout_from_dict(layout.to_dict()).upsample == 4
    x = layout.to_model(images)
    assert x.shape == (3, 1, 32, 32)
    assert torch.equal(x[1, 0, 4:8, 12:16], torch.full((4, 4), images[1, 1, 3].item() / 255))
    assert torch.equal(layout.to_images(x), images)
    blurred = x.clone()
    blurred[0, 0, 0, 0] += 160 / 255  # one pixel of a 4x4 block moves its mean by 160 / 16 grey levels
    assert layout.to_images(blurred)[0, 0, 0].item() == min(255, images[0, 0, 0].item() + 10)
    padded = make_layout("image", 8 * 8, 0, padded_size=36, upsample=2).to_model(images)
    assert padded.shape == (3, 1, 36, 36) and padded[:, :, :10].abs().max() == 0
    assert padded[0, 0, 10, 10].item() == images[0, 0, 0].item()


@pytest.mark.parametrize(
    ("name", "options"), [("waveform2d", {}), ("waveform1d", {}), ("stft", {"n_fft": 126, "hop": 64}), ("image", {"padded_size": 32})]
)
def test_dict_round_trip_through_json(name, options):
    clip_samples, sample_rate = (784, 0) if name == "image" else (L, SR)
    audio_options = {} if name == "image" else {"preemphasis": 0.95, "band_hz": 13368.08}
    layout = make_layout(name, clip_samples, sample_rate, scale=0.123456789, **options, **audio_options)
    stored = json.loads(json.dumps(layout.to_dict()))
    assert stored["layout"] == name and stored["scale"] == 0.123456789
    assert layout_from_dict(stored) == layout


def test_a_layout_file_is_read_back_and_a_broken_one_is_named(tmp_path):
    layout = make_layout("waveform1d", L, SR, scale=2.0, preemphasis=0.9)
    (tmp_path / "layout.json").write_text(json.dumps(layout.to_dict()))
    assert read_layout_file(tmp_path / "layout.json") == layout
    (tmp_path / "broken.json").write_text('{"layout": "waveform1d"}')
    with pytest.raises(ValueError, match=r"broken.json is not a layout written by the tensorize stage: .*clip_samples"):
        read_layout_file(tmp_path / "broken.json")
    with pytest.raises(FileNotFoundError):
        read_layout_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_layout("waveform2d", 16000, SR), "clip_samples=16000 is not a square.*126x126=15876 and 127x127=16129"),
        (lambda: make_layout("stft", L, SR, n_fft=100, hop=128), "0 < hop <= n_fft.*n_fft=100, hop=128"),
        (lambda: make_layout("mel", L, SR), "unknown layout 'mel'; accepted: waveform2d, waveform1d, stft, image"),
        (lambda: make_layout("stft", L, SR, nfft=254), r"no option\(s\) \['nfft'\]; accepted: \['preemphasis', 'band_hz', 'n_fft', 'hop'\]"),
        (lambda: make_layout("waveform1d", L, SR, scale=0.0), "scale must be a positive finite number, got 0.0"),
        (lambda: make_layout("image", 784, SR), "pass sample_rate=0, got 44100"),
        (lambda: make_layout("image", 28 * 28, 0, padded_size=16), "padded_size must be an int >= the image side 28, got 16"),
        (lambda: make_layout("image", 8 * 8, 0, upsample=5), "upsample must be an int from 1 to 4 .*got 5"),
        (lambda: make_layout("waveform1d", L, SR).to_model(torch.zeros(2, 100)), r"must have shape \(N, 16384\), got \(2, 100\)"),
        (lambda: make_layout("waveform2d", L, SR).to_audio(torch.zeros(2, 1, 64, 64)), r"\(N, 1, 128, 128\), got \(2, 1, 64, 64\)"),
        (lambda: layout_from_dict({"scale": 1.0}), "no 'layout' key"),
        (lambda: make_layout("waveform1d", L, SR, preemphasis=1.0), r"preemphasis must be a number in \[0, 1\), got 1.0"),
        (lambda: make_layout("image", 784, 0, preemphasis=0.9), "image: preemphasis applies to waveforms"),
        (lambda: make_layout("image", 784, 0, band_hz=1000.0), "image: band_hz applies to waveforms"),
        (lambda: make_layout("waveform1d", L, SR, band_hz=22050.0), "band_hz must lie between 0 and the Nyquist frequency 22050.0 Hz, got 22050.0"),
    ],
)
def test_bad_sizes_and_names_are_reported(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_stft_pads_an_odd_total_with_the_extra_sample_on_the_right():
    # 1001 samples, n_fft 62, hop 32: 31 frames span 30 * 32 + 62 = 1022, so 21 samples of
    # padding, 10 before the clip and 11 after. Frame t covers padded samples 32 t .. 32 t + 61.
    layout = make_layout("stft", 1001, SR, n_fft=62, hop=32)
    audio = random_audio(2, 1001)
    padded = torch.cat([torch.zeros(2, 10, dtype=audio.dtype), audio, torch.zeros(2, 11, dtype=audio.dtype)], dim=1)
    window = torch.hamming_window(62, dtype=audio.dtype)
    x = layout.to_model(audio)
    for frame in (0, 30):
        spectrum = torch.fft.rfft(padded[:, 32 * frame : 32 * frame + 62] * window)
        torch.testing.assert_close(x[:, 0, :, frame], spectrum.real)
        torch.testing.assert_close(x[:, 1, :, frame], spectrum.imag)
    assert (layout.to_audio(x) - audio).abs().max() < 1e-12


def test_image_pads_an_odd_margin_with_the_extra_row_below_and_column_right():
    images = torch.randint(1, 256, (2, 27, 27), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    layout = make_layout("image", 27 * 27, 0, padded_size=32).fit_scale(images)
    x = layout.to_model(images)
    torch.testing.assert_close(x[:, 0, 2:29, 2:29], images.float() / 255)
    assert x[:, :, :2].abs().max() == 0 and x[:, :, 29:].abs().max() == 0
    assert x[:, :, :, :2].abs().max() == 0 and x[:, :, :, 29:].abs().max() == 0
    assert torch.equal(layout.to_images(x), images)


def test_stft_to_audio_of_an_arbitrary_tensor_is_its_least_squares_clip():
    # What a model outputs is in general no STFT of any clip (frames disagree where they
    # overlap, DC and Nyquist have imaginary parts). to_audio must return the clip whose STFT
    # is nearest in the full-spectrum norm (Griffin and Lim 1984): bins 1..n_fft/2 - 1 stand for
    # two conjugate bins, so they weigh twice. At the optimum the residual is orthogonal to the
    # STFT of every clip.
    layout = make_layout("stft", 1001, SR, scale=2.0, n_fft=62, hop=32)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(3, *layout.shape, generator=generator, dtype=torch.float64)
    clip = layout.to_audio(x)
    residual = x - layout.to_model(clip)
    weight = torch.full((layout.shape[1], 1), 2.0, dtype=torch.float64)
    weight[[0, -1]] = 1.0
    directions = random_audio(3, 1001, seed=3)
    along = (residual * weight * layout.to_model(directions)).sum(dim=(1, 2, 3))
    assert residual.norm() > 0.5 * x.norm()  # far from any spectrogram
    assert along.abs().max() < 1e-9 * residual.norm() * layout.to_model(directions).norm()
    assert (layout.to_audio(layout.to_model(clip)) - clip).abs().max() < 1e-12
