"""Instruments written as SF2 and SFZ, played back by real players nobody here wrote.

The notes are real: TimGM6mb's flute rendered by the project's SoundFont renderer at every other
pitch, so the players also fill the keys between them by repitching. FluidSynth (Debian's
command-line player) and tinysoundfont render a chromatic scale and a short tune (a note held past
its sample among them) through the exported SF2; every note must sound at the MIDI pitch asked for
(CREPE), start on time and not clip. sf2utils parses the file back.
"""

import logging
import shutil
import struct
import subprocess

import numpy as np
import pretty_midi
import pytest
import torch
from sf2utils.sf2parse import Sf2File

from sgm.audio.pitch import pitch_hz
from sgm.audio.soundfont import SoundFont, default_soundfont
from sgm.audio.wav import read_wav
from sgm.generation.instrument import make_instrument
from sgm.instruments.instrument import Instrument, Region, find_loop, key_ranges, velocity_layers
from sgm.instruments.sf2 import sf2_bytes, write_sf2
from sgm.instruments.sfz import sfz_text, write_sfz
from sgm.notes.crepe import analyze
from sgm.notes.metrics import clip_pitch_hz, hz_to_midi

RATE = 44100
CLIP = 16384
FLUTE = 73
TRAINED = list(range(60, 73, 2))
SCALE = list(range(60, 73))
NOTE_SECONDS, GAP_SECONDS = 0.3, 0.2


@pytest.fixture(scope="module")
def flute():
    """An instrument of real flute notes at every other pitch, two velocity layers, as make_instrument builds it."""
    font = SoundFont(default_soundfont(), RATE)
    notes = {(pitch, velocity, 0): font.render_note(FLUTE, pitch, velocity, CLIP).mean(0) for pitch in TRAINED for velocity in (60, 110)}
    return make_instrument("flute", RATE, notes, "TimGM6mb's flute, every other pitch")


STEP = NOTE_SECONDS + GAP_SECONDS
SCALE_NOTES = [(pitch, i * STEP, i * STEP + NOTE_SECONDS, 100) for i, pitch in enumerate(SCALE)]
TUNE_NOTES = [(62, 0.0, 0.15, 50), (66, 0.4, 1.6, 127), (71, 1.9, 2.0, 90), (61, 2.3, 2.6, 70)]  # short, held past its sample, soft


def write_midi(path, notes):
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=0)
    track.notes = [pretty_midi.Note(velocity, pitch, start, end) for pitch, start, end, velocity in notes]
    midi.instruments.append(track)
    midi.write(str(path))
    return path


def check_notes(audio: np.ndarray, rate: int, notes):
    """Every note at its pitch (within 50 cents) and on time: silent before its start, above -30 dB of its peak within 15 ms; no clipping."""
    assert np.abs(audio).max() < 0.99
    mono = audio.mean(0) if audio.ndim == 2 else audio
    window = round(0.005 * rate)
    for pitch, start_s, end_s, _ in notes:
        start = round(start_s * rate)
        note = mono[start + round(0.02 * rate) : start + round(min(0.25, end_s - start_s) * rate)]
        heard = float(hz_to_midi(clip_pitch_hz(analyze(torch.from_numpy(note.copy())[None], rate), 0.5))[0])
        assert abs(heard - pitch) < 0.5, (pitch, heard)
        onset = next(k for k in range(0, len(note), window) if np.abs(mono[start + k : start + k + window]).max() > 0.03 * np.abs(note).max())
        assert onset * 1000 / rate <= 15, (pitch, onset)
        before = mono[max(0, start - 4 * window) : max(0, start - window)]
        assert before.size == 0 or np.abs(before).max() < 0.03 * np.abs(note).max(), (pitch, "sound before the note")


def fluidsynth(sf2, midi, out):
    """Render `midi` through `sf2` with the fluidsynth command-line player; returns the audio and what it printed."""
    player = shutil.which("fluidsynth")
    assert player, "the fluidsynth command-line player is installed by `make test` (Debian's fluidsynth)"
    run = subprocess.run([player, "-ni", "-q", "-r", str(RATE), "-F", str(out), str(sf2), str(midi)], capture_output=True, text=True, check=True)
    audio, rate = read_wav(out)
    assert rate == RATE
    return audio, [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]


def test_key_ranges_split_halfway_and_extend_the_ends():
    assert key_ranges([60, 62, 64]) == {60: (60, 61), 62: (62, 63), 64: (64, 64)}
    assert key_ranges([60, 63], extend=2) == {60: (58, 61), 63: (62, 65)}
    assert key_ranges([1, 126], extend=5) == {1: (0, 63), 126: (64, 127)}
    assert velocity_layers([40, 100]) == [(1, 70), (71, 127)]
    with pytest.raises(ValueError, match="distinct integers in 1..127"):
        velocity_layers([0, 100])


def test_loops_only_where_the_sample_repeats():
    t = np.arange(CLIP) / RATE
    tone = np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 880 * t)
    (start, end), error = find_loop(tone, RATE, 440.0)
    assert error < 1e-3 and end > CLIP / 2
    assert abs((end - start) * 440 / RATE - round((end - start) * 440 / RATE)) < 0.02  # whole periods
    noise = np.random.default_rng(0).normal(size=CLIP)
    assert find_loop(noise, RATE, 440.0) is None


def test_sf2_parses_back_with_every_sample_and_zone(flute, tmp_path, caplog):
    path = tmp_path / "flute.sf2"
    write_sf2(flute, path)
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and struct.unpack("<I", data[4:8])[0] == len(data) - 8 and data[8:12] == b"sfbk"
    with path.open("rb") as file:
        font = Sf2File(file)
        assert font.info.bank_name == "flute" and "every other pitch" in font.info.comments
        assert [p.name for p in font.presets] == ["flute", "EOP"] and font.presets[0].preset == 0
        zones = [bag for bag in font.instruments[0].bags if bag.sample is not None]
        assert len(zones) == len(flute.regions) == 2 * len(TRAINED)
        for bag, region in zip(zones, flute.regions):
            assert bag.key_range == list(region.keys) and bag.velocity_range == list(region.velocities)
            assert bag.base_note == region.root_key == bag.sample.original_pitch
            assert bag.sample.sample_rate == RATE and bag.sample.sample_width == 2
            stored = np.frombuffer(bag.sample.raw_sample_data, "<i2") / 32767
            assert np.abs(stored - region.audio).max() < 1e-4
            if region.loop is not None:
                assert (bag.sample.start_loop, bag.sample.end_loop) == region.loop
    assert not [record.message for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_truncated_sf2_is_caught(flute, tmp_path):
    data = sf2_bytes(flute)
    path = tmp_path / "truncated.sf2"
    path.write_bytes(data[: len(data) // 2])
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8 != path.stat().st_size - 8
    with path.open("rb") as file, pytest.raises(Exception):
        Sf2File(file).samples


def test_variants_are_presets_from_the_instruments_program(tmp_path):
    tone = np.sin(2 * np.pi * 440 * np.arange(4096) / RATE).astype(np.float32)
    regions = [Region(tone * (1 + v) / 3, 69, (0, 127), variant=v) for v in range(2)]
    path = tmp_path / "two.sf2"
    write_sf2(Instrument("tone", RATE, regions, program=40), path)
    with path.open("rb") as file:
        presets = Sf2File(file).presets
    assert [(p.name, p.preset) for p in presets[:-1]] == [("tone 1", 40), ("tone 2", 41)]
    with pytest.raises(ValueError, match="programs 127.. of its 2 variants must lie in 0..127"):
        Instrument("tone", RATE, regions, program=127)


@pytest.mark.parametrize("notes", [SCALE_NOTES, TUNE_NOTES], ids=["scale", "tune"])
def test_fluidsynth_plays_a_midi_file_at_pitch_on_time_without_clipping(flute, tmp_path, notes):
    write_sf2(flute, tmp_path / "flute.sf2")
    audio, said = fluidsynth(tmp_path / "flute.sf2", write_midi(tmp_path / "notes.mid", notes), tmp_path / "out.wav")
    # the only line FluidSynth prints is that no drum kit (bank 128) exists for MIDI channel 10
    assert said in ([], ["fluidsynth: warning: No preset found on channel 9 [bank=128 prog=0]"]), said
    check_notes(audio, RATE, notes)


@pytest.mark.parametrize("notes", [SCALE_NOTES, TUNE_NOTES], ids=["scale", "tune"])
def test_tinysoundfont_plays_the_notes_at_pitch_on_time_without_clipping(flute, tmp_path, notes):
    write_sf2(flute, tmp_path / "flute.sf2")
    end = max(end for _, _, end, _ in notes) + 0.3
    check_notes(SoundFont(tmp_path / "flute.sf2", RATE).render_notes(0, notes, round(end * RATE)), RATE, notes)


def test_held_notes_sustain_on_their_loop_and_release_without_a_click(flute, tmp_path):
    looped = [region for region in flute.regions if region.loop is not None]
    assert looped, "TimGM6mb's flute holds steady: its notes should loop"
    write_sf2(flute, tmp_path / "flute.sf2")
    pitch = looped[0].root_key
    audio = SoundFont(tmp_path / "flute.sf2", RATE).render_notes(0, [(pitch, 0.0, 1.5, 100)], round(2.0 * RATE)).mean(0)
    level = [float(np.sqrt(np.mean(audio[round(t * RATE) : round((t + 0.1) * RATE)] ** 2))) for t in (0.2, 0.6, 1.0, 1.3)]
    assert min(level) > 0.5 * max(level), level  # still sounding a second past the 0.37 s sample
    tail = audio[round(1.5 * RATE + flute.envelope.release * RATE) + 200 :]
    assert np.abs(tail).max() < 0.01 * max(level) * np.sqrt(2)
    jumps = np.abs(np.diff(audio))
    assert jumps.max() < 0.2, "a click: a sample-to-sample jump"


def test_sfz_lists_every_region_beside_its_wavs(flute, tmp_path):
    folder = write_sfz(flute, tmp_path / "flute.sfz")
    text = (tmp_path / "flute.sfz").read_text()
    assert text == sfz_text(flute, "flute_samples") and folder == tmp_path / "flute_samples"
    regions = [dict(opcode.split("=") for opcode in line.split()[1:]) for line in text.splitlines() if line.startswith("<region>")]
    assert len(regions) == len(flute.regions)
    for opcodes, region in zip(regions, flute.regions):
        audio, rate = read_wav(folder / opcodes["sample"])
        assert rate == RATE and audio.shape == (1, CLIP)
        assert int(opcodes["pitch_keycenter"]) == region.root_key and (int(opcodes["lokey"]), int(opcodes["hikey"])) == region.keys
        if region.loop is not None:
            assert opcodes["loop_mode"] == "loop_sustain" and int(opcodes["loop_end"]) == region.loop[1] - 1
        else:
            assert opcodes["loop_mode"] == "no_loop"


def test_every_sample_ends_in_a_fade_at_one_shared_gain(flute):
    peaks = [np.abs(region.audio).max() for region in flute.regions]
    assert max(peaks) == pytest.approx(0.89, abs=1e-3) and min(peaks) < max(peaks)
    for region in flute.regions:
        assert np.abs(region.audio[-3:]).max() < 1e-3
        assert pitch_hz(region.root_key) > 0

