import numpy as np
import pytest
import soundfile as sf

from sgm.audio import ingest
from sgm.audio.pitch import parse_pitch

RATE = 8000


def sine(freq, rate, seconds, amplitude=0.5, channels=1):
    t = np.arange(round(rate * seconds)) / rate
    wave = amplitude * np.sin(2 * np.pi * freq * t)
    return np.stack([wave] * channels, axis=1)


def test_find_audio_files_recurses_sorts_and_ignores_other_and_hidden_files(tmp_path):
    for name in ["b.wav", "A/c.FLAC", "a.ogg", "README.txt", "labels.csv", ".hidden.wav", ".cache/x.wav", "A/._c.wav"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert ingest.find_audio_files(tmp_path) == ["A/c.FLAC", "a.ogg", "b.wav"]


@pytest.mark.parametrize("text, midi", [("55", 55), ("G3", 55), ("C#4", 61), ("Db4", 61), ("c4", 60), ("C-1", 0), ("G9", 127), (" A4 ", 69)])
def test_parse_pitch_reads_midi_numbers_and_note_names(text, midi):
    assert parse_pitch(text) == midi


@pytest.mark.parametrize("text", ["H3", "128", "-1", "G#9", "4.5", "C", "piano"])
def test_parse_pitch_rejects_unparseable_or_out_of_range(text):
    with pytest.raises(ValueError, match=f"pitch {text.strip()!r}.*MIDI number 0-127"):
        parse_pitch(text)


def test_read_labels_matches_rows_and_reports_every_mismatch(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "file,instrument,pitch\n"
        "a.wav,violin,G3\n"
        "b.wav,,\n"
        "c.wav,flute,H9\n"
        "d.wav,flute,60\n"
        "d.wav,flute,61\n"
        "gone.wav,oboe,70\n"
    )
    sources, rejected = ingest.read_labels(csv, ["a.wav", "b.wav", "c.wav", "d.wav", "e.wav"])
    assert sources == [ingest.SourceFile("a.wav", "violin", 55), ingest.SourceFile("b.wav", "", -1)]
    reasons = {r.file: r.reason for r in rejected}
    assert set(reasons) == {"c.wav", "d.wav", "e.wav", "gone.wav"}
    assert "'H9'" in reasons["c.wav"]
    assert reasons["d.wav"] == "2 rows in labels.csv, expected one"
    assert reasons["e.wav"] == "no row in labels.csv"
    assert "not an audio file in the folder" in reasons["gone.wav"]


def test_read_labels_names_missing_columns(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("file,note\na.wav,G3\n")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['instrument', 'pitch'\]"):
        ingest.read_labels(csv, ["a.wav"])


@pytest.mark.parametrize(
    "subtype, fmt, tolerance",
    [
        ("PCM_U8", "WAV", 1 / 64),
        ("PCM_16", "WAV", 1e-4),
        ("PCM_24", "WAV", 1e-6),
        ("PCM_32", "WAV", 1e-8),
        ("FLOAT", "WAV", 1e-7),
        ("DOUBLE", "WAV", 1e-12),
        ("PCM_16", "FLAC", 1e-4),
        ("VORBIS", "OGG", 0.05),
    ],
)
def test_read_audio_accepts_every_bit_depth_and_format(tmp_path, subtype, fmt, tolerance):
    written = sine(440, RATE, 0.5, channels=2)
    written[:, 1] *= 0.5
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, written, RATE, subtype=subtype, format=fmt)
    audio, rate = ingest.read_audio(path)
    assert rate == RATE and audio.shape == (2, len(written))
    assert np.abs(audio - written.T).max() < tolerance


def write_bad_file(folder, kind):
    """Write one real bad file of the given kind; returns its path."""
    good = sine(440, RATE, 1.0)
    path = folder / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random_bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    elif kind == "text":
        path.write_text("this is not audio\n" * 20)
    elif kind == "truncated":
        sf.write(path, good, RATE, subtype="PCM_16")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "header_only":
        sf.write(path, good, RATE, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[:30])
    elif kind == "nan":
        bad = good.copy()
        bad[100] = np.nan
        sf.write(path, bad, RATE, subtype="FLOAT")
    elif kind == "infinite":
        bad = good.copy()
        bad[5:8] = np.inf
        sf.write(path, bad, RATE, subtype="DOUBLE")
    elif kind == "zeros":
        sf.write(path, np.zeros_like(good), RATE, subtype="PCM_16")
    elif kind == "quiet":
        sf.write(path, good * 10 ** (-100 / 20) / 0.5, RATE, subtype="FLOAT")
    else:
        raise ValueError(kind)
    return path


BAD_KINDS = {
    "empty": r"^empty file \(0 bytes\)$",
    "random_bytes": r"^not readable as audio \(Format not recognised.\)$",
    "text": r"^not readable as audio \(Format not recognised.\)$",
    "truncated": r"truncated: its data chunk declares 16000 bytes but the file holds 7978",
    "header_only": r"^not readable as audio \(Error in WAV file. No 'data' chunk marker.\)$",
    "nan": "contains 1 NaN or infinite samples",
    "infinite": "contains 3 NaN or infinite samples",
    "zeros": r"silent \(all zeros",
    "quiet": r"silent \(peak -100.0 dBFS; needs a peak above -90 dBFS\)",
}


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_read_audio_rejects_bad_files_with_a_reason(tmp_path, kind):
    path = write_bad_file(tmp_path, kind)
    with pytest.raises(ingest.UnusableAudio, match=BAD_KINDS[kind]):
        ingest.read_audio(path)


def test_read_audio_rejects_truncated_flac(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, np.random.default_rng(1).uniform(-0.5, 0.5, (RATE, 1)), RATE, format="FLAC")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ingest.UnusableAudio, match=r"not readable as audio \(flac decoder lost sync.\)"):
        ingest.read_audio(path)


def test_conform_resamples_a_1khz_sine_from_48k_to_44k1_without_moving_it():
    audio = ingest.conform(sine(1000, 48000, 1.0).T, 48000, 44100, 1)
    assert audio.shape == (1, 44100) and audio.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(audio[0] * np.hanning(44100)))
    freqs = np.fft.rfftfreq(44100, 1 / 44100)
    assert freqs[spectrum.argmax()] == 1000.0
    assert np.abs(audio[0, 2000:-2000]).max() == pytest.approx(0.5, abs=1e-3)
    assert spectrum[np.abs(freqs - 1000) > 20].max() < 1e-3 * spectrum.max()


def test_conform_mixes_down_and_duplicates_channels():
    left, right = np.full(10, 0.2), np.full(10, -0.6)
    stereo = np.stack([left, right])
    np.testing.assert_allclose(ingest.conform(stereo, RATE, RATE, 1), [np.full(10, -0.2)], atol=1e-7)
    np.testing.assert_allclose(ingest.conform(left[None], RATE, RATE, 2), [left, left], atol=1e-7)
    six = np.arange(6, dtype=float)[:, None].repeat(10, axis=1) / 10
    np.testing.assert_allclose(ingest.conform(six, RATE, RATE, 2), np.full((2, 10), 0.25), atol=1e-7)


def test_conform_scales_audio_above_full_scale_down_to_peak_one():
    audio = np.array([[0.5, -2.0, 1.0, 0.25]])
    np.testing.assert_allclose(ingest.conform(audio, RATE, RATE, 1), [[0.25, -1.0, 0.5, 0.125]])


def test_load_clips_counts_clips_after_resampling(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, sine(440, 16000, 1.0, channels=2), 16000, subtype="PCM_24")
    clips = ingest.load_clips(path, sample_rate=RATE, channels=1, clip_samples=3000)
    assert clips.shape == (2, 1, 3000)


def test_load_clips_rejects_audio_shorter_than_one_clip(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, sine(440, 16000, 0.25), 16000)
    with pytest.raises(ingest.UnusableAudio, match=r"too short: 2000 samples at 8000 Hz \(0.250 s\), one clip needs 3000"):
        ingest.load_clips(path, sample_rate=RATE, channels=1, clip_samples=3000)


@pytest.mark.parametrize("content", [b"not audio, just words\n" * 20, bytes(range(256)) * 20])
def test_a_non_audio_file_named_mp3_gets_one_clear_reason_and_no_decoder_chatter(tmp_path, capfd, content):
    path = tmp_path / "fake.mp3"
    path.write_bytes(content)
    with pytest.raises(ingest.UnusableAudio) as raised:
        ingest.read_audio(path)
    assert str(raised.value) == "not readable as audio (Format not recognised: no audio frames in this .mp3 file)"
    assert capfd.readouterr() == ("", "")


def test_a_real_mp3_still_reads(tmp_path, capfd):
    path = tmp_path / "tone.mp3"
    sf.write(path, sine(440, 16000, 1.0), 16000, format="MP3")
    audio, rate = ingest.read_audio(path)
    assert rate == 16000 and audio.shape[0] == 1 and audio.shape[1] >= 16000
    spectrum = np.abs(np.fft.rfft(audio[0, :16000]))
    assert np.fft.rfftfreq(16000, 1 / 16000)[spectrum.argmax()] == pytest.approx(440, abs=2)
    assert capfd.readouterr() == ("", "")
