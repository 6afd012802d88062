import numpy as np
import pytest
import soundfile

from sgm.audio.wav import read_wav, write_wav

STEP = 1 / 32768  # one 16-bit quantization step


def test_stereo_round_trip_is_16_bit_pcm_within_one_step(tmp_path):
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.9, 0.9, (2, 1000)).astype(np.float32)
    write_wav(tmp_path / "a.wav", audio, 22050)
    info = soundfile.info(str(tmp_path / "a.wav"))
    assert (info.subtype, info.channels, info.frames, info.samplerate) == ("PCM_16", 2, 1000, 22050)
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == 22050 and back.shape == (2, 1000) and back.dtype == np.float32
    assert np.abs(back - audio).max() <= STEP


def test_mono_input_reads_back_as_one_channel_and_overshoot_is_clipped(tmp_path):
    write_wav(tmp_path / "m.wav", np.array([0.0, 1.5, -2.0, 0.25]), 8000)
    back, _ = read_wav(tmp_path / "m.wav")
    assert back.shape == (1, 4)
    np.testing.assert_allclose(back[0], [0.0, 1 - STEP, -1.0, 0.25], atol=STEP)


def test_same_audio_gives_identical_bytes(tmp_path):
    audio = np.sin(np.linspace(0, 100, 4000)) * 0.5
    write_wav(tmp_path / "1.wav", audio, 16000)
    write_wav(tmp_path / "2.wav", audio, 16000)
    assert (tmp_path / "1.wav").read_bytes() == (tmp_path / "2.wav").read_bytes()


def test_write_rejects_empty_or_3d_audio(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(0,\)"):
        write_wav(tmp_path / "x.wav", np.zeros(0), 8000)
    with pytest.raises(ValueError, match=r"shape \(1, 2, 3\)"):
        write_wav(tmp_path / "x.wav", np.zeros((1, 2, 3)), 8000)
