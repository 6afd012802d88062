from pathlib import Path

import librosa
import numpy as np
import pretty_midi
import pytest

from sgm.audio.general_midi import gm_family
from sgm.audio.pitch import note_name, pitch_hz
from sgm.audio.soundfont import SoundFont, SoundFontError, default_soundfont
from tests.helpers.sine_soundfont import write_sine_soundfont

RATE = 44100
NOTE = 16384


@pytest.fixture(scope="module")
def general_midi():
    return SoundFont(default_soundfont(), RATE)


def cents_off(audio: np.ndarray, pitch: int) -> float:
    """Median YIN f0 of the sustained part of a stereo note, in cents from the nominal pitch."""
    nominal = pitch_hz(pitch)
    f0 = librosa.yin(audio.mean(axis=0)[4096:], fmin=nominal / 2.5, fmax=nominal * 2.5, sr=RATE, frame_length=2048)
    return float(1200 * np.log2(np.median(f0) / nominal))


def spectral_peak_hz(audio: np.ndarray, rate: int) -> float:
    mono = audio.mean(axis=0)[rate // 10 :]
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono)), 1 << 19))
    return float(np.fft.rfftfreq(1 << 19, 1 / rate)[spectrum.argmax()])


def test_default_soundfont_is_the_general_midi_font_inside_pretty_midi(general_midi):
    path = default_soundfont()
    assert path.parent == Path(pretty_midi.__file__).parent
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 5_000_000
    assert all(general_midi.preset_name(program) for program in range(128))
    general_midi.check_programs(list(range(128)))


def test_general_midi_names():
    assert [gm_family(p) for p in (0, 8, 19, 40, 48, 56, 73, 80, 88)] == [
        "Piano", "Chromatic Percussion", "Organ", "Strings", "Ensemble", "Brass", "Pipe", "Synth Lead", "Synth Pad",
    ]
    assert [note_name(p) for p in (55, 61, 69, 91)] == ["G3", "C#4", "A4", "G6"]
    assert pitch_hz(69) == 440.0
    assert pitch_hz(55) == pytest.approx(195.998, abs=1e-3)


def test_render_note_is_stereo_float32_audible_and_independent_of_history(general_midi):
    first = general_midi.render_note(0, 60, 100, NOTE)
    assert first.shape == (2, NOTE) and first.dtype == np.float32
    assert 0.01 < np.abs(first).max() < 1
    general_midi.render_note(40, 72, 127, NOTE)
    np.testing.assert_array_equal(general_midi.render_note(0, 60, 100, NOTE), first)


@pytest.mark.parametrize("program", [0, 40, 48])  # acoustic grand piano, violin, string ensemble
@pytest.mark.parametrize("pitch", [55, 73, 91])
def test_rendered_pitch_is_the_nominal_pitch(general_midi, program, pitch):
    assert abs(cents_off(general_midi.render_note(program, pitch, 100, 3 * NOTE), pitch)) < 25


@pytest.mark.parametrize("pitch", [55, 73, 91])
def test_organ_pitch_is_nominal_up_to_its_sub_octave_rank(general_midi, pitch):
    cents = cents_off(general_midi.render_note(19, pitch, 100, 3 * NOTE), pitch)  # church organ
    assert min(abs(cents), abs(cents + 1200), abs(cents - 1200)) < 25


def test_any_soundfont_file_renders_its_own_tuning_and_velocity(tmp_path):
    sine = SoundFont(write_sine_soundfont(tmp_path / "sine.sf2", program=5), RATE)
    assert sine.preset_name(5) == "sine" and sine.preset_name(0) is None
    a4 = sine.render_note(5, 69, 100, RATE)
    assert spectral_peak_hz(a4, RATE) == pytest.approx(440.0, abs=0.5)
    assert spectral_peak_hz(sine.render_note(5, 81, 100, RATE), RATE) == pytest.approx(880.0, abs=0.5)
    assert spectral_peak_hz(sine.render_note(5, 62, 100, RATE), RATE) == pytest.approx(pitch_hz(62), abs=0.5)
    assert np.abs(sine.render_note(5, 69, 40, RATE)).max() < 0.5 * np.abs(a4).max()


def test_missing_programs_are_all_named(tmp_path):
    sine = SoundFont(write_sine_soundfont(tmp_path / "sine.sf2", program=5))
    sine.check_programs([5])
    with pytest.raises(SoundFontError, match=r"sine.sf2 has no preset for program\(s\) \[0, 7\]; it has \[5\]"):
        sine.check_programs([7, 5, 0])
    with pytest.raises(SoundFontError, match=r"\[0\]"):
        sine.render_note(0, 60, 100, 100)


def test_missing_or_invalid_files_are_rejected_with_their_path(tmp_path):
    with pytest.raises(SoundFontError, match="nowhere.sf2' does not exist"):
        SoundFont(tmp_path / "nowhere.sf2")
    (tmp_path / "fake.sf2").write_bytes(b"RIFF\0\0\0\0WAVE" + bytes(100))
    with pytest.raises(SoundFontError, match="fake.sf2' is not a readable SoundFont"):
        SoundFont(tmp_path / "fake.sf2")
    assert issubclass(SoundFontError, ValueError)


def test_out_of_range_pitch_or_velocity_is_rejected(general_midi):
    with pytest.raises(ValueError, match="pitch=128"):
        general_midi.render_note(0, 128, 100, 100)
    with pytest.raises(ValueError, match="velocity=0"):
        general_midi.render_note(0, 60, 0, 100)
