import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from sgm.audio.soundfont import SoundFont, default_soundfont
from sgm.audio.wav import read_wav
from sgm.kinds.kind import DataError
from stages.render import main
from tests.helpers.sine_soundfont import write_sine_soundfont
from tests.helpers.study_params import study_params, with_tiny_1d_net

REPO = Path(__file__).resolve().parents[2]
RATE = 16000
CLIP = 2048
TINY = {
    "instruments": ["acoustic_grand_piano", "violin"],
    "pitch_low": 60,
    "pitch_high": 62,
    "note_seconds": 0.3,
    "sample_rate": RATE,
    "clip_samples": CLIP,
    "clips_per_note": 2,
}
COLUMNS = ["file", "program", "instrument", "family", "pitch", "note", "frequency", "clip", "note_id"]


def use_params(root: Path, **render) -> None:
    """Write params.yaml with tiny render settings into `root`, the stage's working directory."""
    params = with_tiny_1d_net(study_params())
    params["render"].update(TINY, **render)
    params["preprocess"]["lowpass_hz"] = RATE / 4
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def render_in(root: Path, monkeypatch, **render) -> Path:
    root.mkdir(exist_ok=True)
    use_params(root, **render)
    monkeypatch.chdir(root)
    main()
    return root / "data" / "notes"


def digests(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_render_writes_every_clip_and_its_index(tmp_path, monkeypatch):
    notes = render_in(tmp_path, monkeypatch)
    index = pd.read_csv(notes / "notes.csv")
    assert list(index.columns) == COLUMNS
    assert len(index) == 2 * 3 * 2
    assert len(list(notes.rglob("*.wav"))) == 12
    first = index.iloc[0].to_dict()
    assert first == {
        "file": "p000_acoustic_grand_piano/m060_C4_c0.wav", "program": 0, "instrument": "acoustic_grand_piano",
        "family": "Piano", "pitch": 60, "note": "C4", "frequency": pytest.approx(261.6256, abs=1e-4), "clip": 0,
        "note_id": 0,
    }
    assert index.loc[3, "file"] == "p000_acoustic_grand_piano/m061_Cs4_c1.wav" and index.loc[3, "note"] == "C#4"
    assert set(index.loc[index.program == 40, "family"]) == {"Strings"}
    assert index.note_id.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert index["clip"].tolist() == [0, 1] * 6
    info = soundfile.info(str(notes / index.file[0]))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (RATE, 2, CLIP, "PCM_16")
    assert json.loads((notes / "metrics.json").read_text()) == {"clips": 12, "notes": 6, "programs": 2}


def test_clips_are_consecutive_pieces_of_the_held_note(tmp_path, monkeypatch):
    notes = render_in(tmp_path, monkeypatch, channels=1)
    note = SoundFont(default_soundfont(), RATE).render_note(40, 62, 100, round(0.3 * RATE)).mean(axis=0)
    for clip in range(2):
        audio, _ = read_wav(notes / f"p040_violin/m062_D4_c{clip}.wav")
        assert audio.shape == (1, CLIP)
        np.testing.assert_allclose(audio[0], note[clip * CLIP : (clip + 1) * CLIP], atol=1 / 32768)


def test_rerender_gives_byte_identical_files(tmp_path, monkeypatch):
    first = digests(render_in(tmp_path / "a", monkeypatch))
    second = digests(render_in(tmp_path / "b", monkeypatch))
    assert len(first) == 14 and first == second


def test_soundfont_param_names_any_sf2_file(tmp_path, monkeypatch):
    font = write_sine_soundfont(tmp_path / "sine.sf2", program=5)
    notes = render_in(tmp_path, monkeypatch, soundfont=str(font), instruments=["electric_piano_2"], pitch_low=69, pitch_high=69)  # GM program 5
    index = pd.read_csv(notes / "notes.csv")
    assert index.file.tolist() == ["p005_electric_piano_2/m069_A4_c0.wav", "p005_electric_piano_2/m069_A4_c1.wav"]
    audio, _ = read_wav(notes / index.file[1])
    spectrum = np.abs(np.fft.rfft(audio[0] * np.hanning(CLIP), 1 << 18))
    assert np.fft.rfftfreq(1 << 18, 1 / RATE)[spectrum.argmax()] == pytest.approx(440.0, abs=1.0)


def test_soundfont_without_a_requested_program_is_a_stage_error(tmp_path, monkeypatch):
    font = write_sine_soundfont(tmp_path / "sine.sf2", program=5)
    with pytest.raises(DataError, match=r"render.soundfont: sine.sf2 has no preset for program\(s\) \[0, 40\]"):
        render_in(tmp_path, monkeypatch, soundfont=str(font))
    assert not (tmp_path / "data" / "notes").exists()


def test_a_file_that_is_not_a_soundfont_is_a_stage_error(tmp_path, monkeypatch):
    (tmp_path / "notes.sf2").write_text("just text")
    with pytest.raises(DataError, match="notes.sf2' is not a readable SoundFont"):
        render_in(tmp_path, monkeypatch, soundfont=str(tmp_path / "notes.sf2"))


def test_missing_soundfont_fails_with_a_message_not_a_traceback(tmp_path):
    use_params(tmp_path, soundfont="fonts/missing.sf2")
    result = subprocess.run(
        [sys.executable, "-m", "stages.render"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: render.soundfont: SoundFont 'fonts/missing.sf2' does not exist")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
