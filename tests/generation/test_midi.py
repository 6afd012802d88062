import numpy as np
import pretty_midi
import pytest

from sgm.generation.midi import Envelope, Note, clips_needed, crossfade, excerpt, read_midi, render

RATE = 8000
CLIP = 2960  # 0.37 s


def write_midi(path, notes, drums=()):
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for s, e, p, v in notes]
    midi.instruments.append(piano)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        kit.notes = [pretty_midi.Note(velocity=100, pitch=36, start=s, end=s + 0.1) for s in drums]
        midi.instruments.append(kit)
    midi.write(str(path))
    return path


def constant_clips(pitch, count):
    """Clips of constant value 1 (so the mix shows the envelope) and a record of the calls."""
    calls.append((pitch, count))
    return np.ones((count, CLIP), dtype=np.float32)


calls = []


def test_read_midi_gives_pitched_notes_in_order_without_drums(tmp_path):
    path = write_midi(tmp_path / "tune.mid", [(0.5, 1.0, 64, 80), (0.0, 0.5, 60, 100), (0.0, 1.5, 48, 60)], drums=[0.0, 0.5])
    notes = read_midi(path)
    assert [(n.pitch, n.velocity) for n in notes] == [(48, 60), (60, 100), (64, 80)]
    assert notes[0].start == 0.0 and abs(notes[0].end - 1.5) < 1e-3
    cut = excerpt(notes, 0.75)
    assert [n.pitch for n in cut] == [48, 60, 64] and abs(cut[0].end - 0.75) < 1e-9


def test_render_places_notes_with_their_duration_velocity_and_release(tmp_path):
    # A 1.0 s note needs 1.0 + 0.1 s release = 8800 samples: 4 clips of 2960 overlapping by 400.
    notes = read_midi(write_midi(tmp_path / "tune.mid", [(0.0, 1.0, 60, 127), (1.25, 1.5, 62, 64), (1.5, 1.75, 62, 64)]))
    calls.clear()
    envelope = Envelope(attack=0.01, decay=0.1, sustain=0.5, release=0.1)
    mix = render(notes, constant_clips, RATE, CLIP, fade=0.05, envelope=envelope)
    assert len(mix) == round(1.75 * RATE) + round(0.1 * RATE)
    assert calls == [(60, clips_needed(8800, CLIP, 400)), (62, 2)] and clips_needed(8800, CLIP, 400) == 4
    # first note: full level after the attack, sustain 0.5 while held, silent after its release
    assert abs(mix[80] - 1.0) < 0.02 and abs(mix[round(0.9 * RATE)] - 0.5) < 0.01
    assert np.all(mix[round(1.1 * RATE) : round(1.25 * RATE)] == 0)
    # the second pitch at half velocity: its sustain is 0.5 * 64/127 while held
    assert abs(mix[round(1.45 * RATE)] - 0.5 * 64 / 127) < 0.01


def test_loud_mix_is_scaled_to_full_scale(tmp_path):
    chord = [(0.0, 0.5, p, 127) for p in (60, 64, 67)]
    mix = render(read_midi(write_midi(tmp_path / "chord.mid", chord)), constant_clips, RATE, CLIP, envelope=Envelope(sustain=1.0))
    assert abs(np.abs(mix).max() - 1.0) < 1e-6


def test_crossfade_keeps_constant_power_and_length():
    rng = np.random.default_rng(0)
    clips = rng.standard_normal((3, 4000))
    joined = crossfade(clips, 1000)
    assert len(joined) == 3 * 4000 - 2 * 1000
    # independent noise clips: the equal-power fade keeps the variance ~1 through each overlap
    assert abs(joined[3000:4000].var() - 1) < 0.15 and np.array_equal(joined[:3000], clips[0, :3000])


@pytest.mark.parametrize(
    "content, message",
    [(b"not a midi file at all", "does not parse"), (b"", "does not parse"), (b"MThd\x00\x00\x00\x06\x00\x01\x00", "does not parse")],
)
def test_unparseable_midi_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"MIDI file {path} {message}"):
        read_midi(path)


def test_midi_without_pitched_notes_is_refused(tmp_path):
    path = write_midi(tmp_path / "drums.mid", [], drums=[0.0, 0.5])
    with pytest.raises(ValueError, match="has no pitched notes"):
        read_midi(path)
    with pytest.raises(ValueError, match="does not exist"):
        read_midi(tmp_path / "missing.mid")


def test_render_checks_what_clips_for_returns():
    with pytest.raises(ValueError, match=r"returned shape \(1, 10\), expected \(1, 2960\)"):
        render([Note(0.0, 0.2, 60, 100)], lambda pitch, count: np.zeros((count, 10)), RATE, CLIP)
