"""Piano rolls: segmenting a score built here, the exact round trip through MIDI, decoding rules, the layout."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import torch
from music21 import key, meter, note, stream

from sgm.kinds import layout_from_dict
from sgm.melodies import rolls as melody
from sgm.melodies.layouts import PianoRoll
from sgm.melodies.rolls import Note, notes_to_roll, roll_to_notes


def chorale_like(tmp_path, pickup: bool = True, time_signature: str = "4/4"):
    """A MusicXML file in D major: an optional one-quarter pickup (A3), then D4-F#4-A4-F#4 quarters
    over a held D3 bass, for 5 bars."""
    soprano, bass = stream.Part(), stream.Part()
    bar_quarters = 4 if time_signature == "4/4" else 3
    if pickup:
        first = stream.Measure(number=0)
        first.append([meter.TimeSignature(time_signature), key.Key("D"), note.Note("A3", quarterLength=1)])
        first.paddingLeft = bar_quarters - 1
        soprano.append(first)
        bass_first = stream.Measure(number=0)
        bass_first.append([meter.TimeSignature(time_signature), note.Rest(quarterLength=1)])
        bass_first.paddingLeft = bar_quarters - 1
        bass.append(bass_first)
    for number in range(1, 6):
        bar, bass_bar = stream.Measure(number=number), stream.Measure(number=number)
        if number == 1 and not pickup:
            bar.append(meter.TimeSignature(time_signature))
            bass_bar.append(meter.TimeSignature(time_signature))
        for name in ["D4", "F#4", "A4", "F#4"][:bar_quarters]:
            bar.append(note.Note(name, quarterLength=1))
        bass_bar.append(note.Note("D3", quarterLength=bar_quarters))
        soprano.append(bar)
        bass.append(bass_bar)
    score = stream.Score([soprano, bass])
    path = tmp_path / "piece.musicxml"
    score.write("musicxml", fp=str(path))
    return path


def test_a_score_is_transposed_to_c_and_cut_into_two_bar_segments(tmp_path):
    piece = melody.read_piece(chorale_like(tmp_path))
    assert piece.key == "D major" and piece.transposition == -2
    rolls, starts, outside = melody.segment_piece(piece, pitch_low=48, hop=16)
    # 5 bars after the pickup = 80 steps: segments at 0, 16, 32, 48 (64 would run past the end)
    assert starts == [0, 16, 32, 48] and outside == 0
    first = roll_to_notes(rolls[0])
    soprano = [n for n in first if n.pitch >= 60 - 48]
    bass = [n for n in first if n.pitch < 60 - 48]
    # D4 F#4 A4 F#4 -> C4 E4 G4 E4, a quarter (4 steps) each, twice; the pickup is before step 0
    assert [(48 + n.pitch, n.start, n.end) for n in sorted(soprano, key=lambda n: n.start)] == [
        (60, 0, 4), (64, 4, 8), (67, 8, 12), (64, 12, 16), (60, 16, 20), (64, 20, 24), (67, 24, 28), (64, 28, 32)
    ]  # fmt: skip
    assert [(48 + n.pitch, n.start, n.end) for n in bass] == [(48, 0, 16), (48, 16, 32)]
    assert all(n.velocity == melody.DEFAULT_VELOCITY for n in first)
    # the segment from step 16 (one bar later) holds whole bass notes again
    assert [(n.start, n.end) for n in roll_to_notes(rolls[1]) if n.pitch == 0] == [(0, 16), (16, 32)]


def test_notes_below_the_window_are_dropped_and_counted(tmp_path):
    piece = melody.read_piece(chorale_like(tmp_path))
    rolls, starts, outside = melody.segment_piece(piece, pitch_low=49, hop=32)
    assert outside == 5  # the five C3 bass notes, one per bar
    assert starts == [0, 32] and all(min(n.pitch for n in roll_to_notes(r)) == 60 - 49 for r in rolls)


def test_another_meter_is_refused(tmp_path):
    with pytest.raises(ValueError, match="time signature 3/4; needs 4/4"):
        melody.read_piece(chorale_like(tmp_path, time_signature="3/4"))


def test_without_transposition_the_key_stays(tmp_path):
    piece = melody.read_piece(chorale_like(tmp_path, pickup=False), transpose=False)
    assert piece.transposition == 0
    assert sorted({p for p, *_ in piece.notes}) == [50, 62, 66, 69]


@pytest.mark.parametrize(("tonic", "mode", "shift"), [(0, "major", 0), (2, "major", -2), (7, "major", 5), (6, "major", -6), (9, "minor", 0), (4, "minor", 5), (0, "minor", -3)])
def test_transposition_to_c_major_or_a_minor(tonic, mode, shift):
    assert melody.transposition_to_c(tonic, mode) == shift


def test_roll_channels_and_one_note_per_cell():
    roll = notes_to_roll([Note(3, 2, 6, 100), Note(3, 4, 8, 50), Note(5, 0, 4, 90), Note(5, 0, 2, 10)])
    # pitch 3: the second onset at 4 ends the first note; pitch 5: same start, the longer note stays
    assert roll[0, 3].tolist() == [0, 0, 1, 0, 1, 0, 0, 0] + [0] * 24
    assert roll[1, 3, :9].tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 0]
    assert roll[2, 3, :9].tolist() == [0, 0, 100, 100, 50, 50, 50, 50, 0]
    assert roll[2, 5, :5].tolist() == [90, 90, 90, 90, 0]
    assert roll_to_notes(roll) == [Note(3, 2, 4, 100), Note(3, 4, 8, 50), Note(5, 0, 4, 90)]


def test_decoding_rules_on_a_hand_made_roll():
    roll = np.zeros((3, 4, 8), dtype=np.uint8)
    roll[1, 0, 1:4] = 1  # sustain without onset starts a note
    roll[2, 0, 1:4] = [70, 10, 10]  # the first step's velocity counts
    roll[0, 1, 5] = 1  # onset without sustain is ignored
    roll[:2, 2, 0] = 1
    roll[1, 2, 0:8] = 1
    roll[0, 2, 6] = 1  # a second onset inside a held sustain splits it
    roll[2, 2] = 0  # velocity 0 on a sounding note is read as 1
    assert roll_to_notes(roll) == [Note(0, 1, 4, 70), Note(2, 0, 6, 1), Note(2, 6, 8, 1)]


def test_threshold_at_half_the_range():
    real = np.zeros((3, 2, 3))
    real[0, 0] = [0.51, 0.49, 0.9]
    real[1, 0] = [0.6, 0.5, 1.2]
    real[2, 0] = [127.6, 40.4, -3.0]
    out = melody.threshold(real)
    assert out[0, 0].tolist() == [1, 0, 1] and out[1, 0].tolist() == [1, 0, 1]
    assert out[2, 0].tolist() == [127, 0, 1] and not out[:, 1].any()


def random_canonical_rolls(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    rolls = []
    for _ in range(n):
        notes = []
        for _ in range(rng.integers(0, 40)):
            start = int(rng.integers(32))
            notes.append(Note(int(rng.integers(32)), start, start + int(rng.integers(1, 12)), int(rng.integers(1, 128))))
        rolls.append(notes_to_roll(notes))
    return rolls


def test_data_roll_to_midi_file_and_back_is_exact(tmp_path, chorale_rolls):
    for i, roll in enumerate([*chorale_rolls, *random_canonical_rolls(50, seed=1)]):
        path = tmp_path / f"{i}.mid"
        melody.roll_to_midi(roll, pitch_low=48, step_seconds=0.125, program=0).write(str(path))
        back = melody.midi_to_roll(pretty_midi.PrettyMIDI(str(path)), pitch_low=48, step_seconds=0.125)
        assert np.array_equal(back, roll), i


@pytest.fixture(scope="module")
def chorale_rolls():
    """Segments of three real chorales from music21's bundled corpus."""
    from music21 import corpus

    paths = sorted(p for p in corpus.getComposer("bach") if p.suffix == ".mxl")[:3]
    rolls = [r for path in paths for r in melody.segment_piece(melody.read_piece(path), 48, 16)[0]]
    assert len(rolls) > 20
    return rolls


def test_pianoroll_layout_maps_rolls_to_plus_minus_one_and_back(chorale_rolls):
    layout = PianoRoll(clip_samples=32000, sample_rate=8000)
    rolls = torch.from_numpy(np.stack(chorale_rolls[:4]))
    x = layout.fit_scale(rolls).to_model(rolls)
    assert x.shape == (4, 3, 32, 32) and x.min() == -1 and x.max() == 1
    assert torch.equal(x[:, 1] > 0, rolls[:, 1] == 1)
    assert torch.allclose(layout._unarrange(x)[:, 2], rolls[:, 2].float(), atol=1e-4)
    assert torch.equal(layout.to_rolls(x), rolls)
    noisy = x.clone()
    noisy[:, :2] += (0.5 * torch.randn(noisy[:, :2].shape, generator=torch.Generator().manual_seed(0))).clamp(-0.9, 0.9)
    assert torch.equal(layout.to_rolls(noisy), rolls)  # onset and sustain survive noise below the threshold
    assert layout_from_dict(layout.to_dict()) == layout


def test_pianoroll_layout_rejects_a_wrong_clip_length():
    with pytest.raises(ValueError, match="clip_samples must be steps \\* step_seconds \\* sample_rate = 32000"):
        PianoRoll(clip_samples=16384, sample_rate=8000)


def test_rolls_play_their_notes_on_the_soundfont():
    layout = PianoRoll(clip_samples=32000, sample_rate=8000, program=0)
    silent = torch.full((1, 3, 32, 32), -1.0)
    one = silent.clone()
    one[0, :, 57 - 48, 8:16] = 1.0  # A3 (220 Hz) from 1 s to 2 s, velocity 127
    audio = layout.to_audio(torch.cat([silent, one]))
    assert audio.shape == (2, 32000) and audio[0].abs().max() == 0
    before, during = audio[1, :8000], audio[1, 8000:16000]
    assert before.abs().max() == 0 and during.abs().max() > 0.05
    peak_hz = torch.fft.rfft(during).abs().argmax().item()  # 1 Hz bins
    assert abs(peak_hz / 220 - round(peak_hz / 220)) < 0.02  # a partial of A3
