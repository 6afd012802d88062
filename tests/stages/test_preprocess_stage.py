import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml
from scipy import signal

from sgm.audio.wav import read_wav, write_wav
from sgm.images.sources import render_from_digits
from stages.common.outputs import StageError
from stages.common.params import ParamsError
from stages.preprocess import main
from tests.helpers.study_params import study_params

REPO = Path(__file__).resolve().parents[2]
RATE = 44100
CLIP = 16384
FILES = ["p000_noise/m060_C4_c0.wav", "p000_noise/m060_C4_c1.wav", "p040_noise/m061_Cs4_c0.wav"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory holding data/notes: stereo white-noise clips, notes.csv and an extra file."""
    notes = tmp_path / "data" / "notes"
    rng = np.random.default_rng(0)
    for file in FILES:
        (notes / file).parent.mkdir(parents=True, exist_ok=True)
        write_wav(notes / file, rng.uniform(-0.5, 0.5, (2, CLIP)), RATE)
    rows = [{"file": f, "program": int(f[1:4]), "pitch": int(f[12:15]), "clip": int(f[-5])} for f in FILES]
    pd.DataFrame(rows).to_csv(notes / "notes.csv", index=False)
    (notes / "images.idx").write_bytes(bytes(range(256)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def preprocess(root: Path, **settings) -> Path:
    params = study_params()
    params["preprocess"].update(settings)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    main()
    return root / "data" / "clean"


def digests(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def band_db(before: np.ndarray, after: np.ndarray, low: float, high: float) -> float:
    """Change of energy between `low` and `high` Hz, in dB (Welch power spectra)."""
    freqs, p_before = signal.welch(before, RATE, nperseg=2048)
    _, p_after = signal.welch(after, RATE, nperseg=2048)
    band = (freqs >= low) & (freqs <= high)
    return float(10 * np.log10(p_after[band].sum() / p_before[band].sum()))


def test_clips_become_mono_lowpassed_and_everything_else_is_copied(project):
    untouched = digests(project / "data" / "notes")
    clean = preprocess(project)
    assert digests(project / "data" / "notes") == untouched
    copied = digests(clean)
    assert copied["notes.csv"] == untouched["notes.csv"] and copied["images.idx"] == untouched["images.idx"]
    assert sorted(copied) == sorted(untouched)
    for file in FILES:
        info = soundfile.info(str(clean / file))
        assert (info.channels, info.frames, info.samplerate, info.subtype) == (1, CLIP, RATE, "PCM_16")
    noise, _ = read_wav(project / "data" / "notes" / FILES[0])
    mono = noise.mean(axis=0)
    filtered = read_wav(clean / FILES[0])[0][0]
    assert abs(band_db(mono, filtered, 0, 8000)) < 0.1
    assert -25 < band_db(mono, filtered, 11000, 12000) < -15
    assert band_db(mono, filtered, 14000, 22050) < -80  # -90 dB is the 16-bit quantization floor here
    assert band_db(mono, filtered, 20000, 22050) < -85


def test_without_lowpass_the_clip_is_the_channel_average(project):
    clean = preprocess(project, lowpass_hz=None)
    noise, _ = read_wav(project / "data" / "notes" / FILES[1])
    np.testing.assert_allclose(read_wav(clean / FILES[1])[0][0], noise.mean(axis=0), atol=1 / 32768)


def test_normalize_peak_sets_every_clip_peak(project):
    clean = preprocess(project, normalize_peak=0.5)
    peaks = [np.abs(read_wav(clean / file)[0]).max() for file in FILES]
    np.testing.assert_allclose(peaks, 0.5, atol=1 / 32768)


def test_cutoff_above_nyquist_is_refused_before_any_work(project):
    with pytest.raises(ParamsError, match=r"preprocess.lowpass_hz=30000.0 is not below the Nyquist frequency 22050.0 Hz"):
        preprocess(project, lowpass_hz=30000.0)
    assert not (project / "data" / "clean").exists()


def test_missing_inputs_are_stage_errors(project):
    (project / "data" / "notes" / FILES[2]).unlink()
    with pytest.raises(StageError, match=r"1 file\(s\) listed in .*notes.csv are missing.*m061_Cs4_c0.wav"):
        preprocess(project)
    (project / "data" / "notes" / "notes.csv").unlink()
    with pytest.raises(StageError, match="run the render stage first"):
        preprocess(project)


def test_corrupt_and_empty_wavs_are_named_in_one_error_and_nothing_is_written(project):
    notes = project / "data" / "notes"
    (notes / FILES[0]).write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    soundfile.write(notes / FILES[2], np.zeros((0, 2)), RATE, subtype="PCM_16")
    with pytest.raises(StageError) as err:
        preprocess(project)
    lines = str(err.value).splitlines()
    assert lines[0] == "2 of 3 clips are unusable:"
    assert lines[1].startswith(f"  data/notes/{FILES[0]}: not a readable WAV file (")
    assert lines[2] == f"  data/notes/{FILES[2]}: holds no samples; expected a rendered clip"
    assert not (project / "data" / "clean").exists()
    assert not list((project / "data").glob(".*.partial"))


def test_an_image_set_is_copied_unchanged(tmp_path, monkeypatch):
    notes = tmp_path / "data" / "notes"
    notes.mkdir(parents=True)
    render_from_digits(notes)
    monkeypatch.chdir(tmp_path)
    clean = preprocess(tmp_path)
    assert digests(clean) == digests(notes) and sorted(digests(clean)) == ["images.pt", "notes.csv"]
