"""Short melodies as piano rolls: scores -> notes on a sixteenth-note grid -> 3 x 32 x 32 rolls -> MIDI.

The study's proposed next step: a melody as a 3-channel image, one row per pitch and one column
per time step. Precisely:

- Time: one column per sixteenth note (4 steps per quarter note); a segment is 32 steps, two
  bars of 4/4. Note starts and ends are rounded to the nearest step; a note shorter than a step
  lasts one step; grace notes (no duration) are left out.
- Pitch: row r is MIDI pitch `pitch_low + r`, 32 rows (default 48-79, C3-G5). Each piece may first be
  transposed by -6..+5 semitones so that its key (music21's estimate, Aarden-Essen profiles) becomes
  C major or A minor; notes that then fall outside the window are dropped (and counted).
- Channels (uint8): 0 onset (1 on a note's first step), 1 sustain (1 on every step it sounds,
  the first included), 2 velocity (the note's MIDI velocity 1-127 on every step it sounds, 0 elsewhere).
- One note per cell: a later note on a sounding pitch ends the earlier one where it starts (two
  voices in unison become one note); a note that began before a segment starts again on its first
  step, with an onset.

Decoding rules (`roll_to_notes`, used for every sampled roll): onset and sustain are on where
the value exceeds `THRESHOLD` (0.5 of the channel's range); a note starts on each step where
sustain is on and either onset is on or the step before had no sustain, and lasts while sustain
stays on without a new onset; an onset without sustain is ignored; the note's velocity is the
velocity channel on its first step, rounded and kept within 1-127. A roll built by `notes_to_roll`
decodes to exactly its notes, so data roll -> MIDI -> roll is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi

STEPS = 32
PITCHES = 32
STEPS_PER_QUARTER = 4
CHANNELS = ("onset", "sustain", "velocity")
THRESHOLD = 0.5
DEFAULT_VELOCITY = 80  # for scores without dynamics (the chorales)
MAJOR_TONIC, MINOR_TONIC = 0, 9  # C major, A minor


@dataclass(frozen=True, order=True)
class Note:
    """A note on the step grid: row = pitch - pitch_low, steps [start, end), MIDI velocity."""

    pitch: int
    start: int
    end: int
    velocity: int


@dataclass(frozen=True)
class Piece:
    """A score's notes in quarter-note units from its first downbeat, and what was done to it."""

    notes: list[tuple[int, float, float, int]]  # (pitch, start, end, velocity), pitches already transposed
    key: str
    transposition: int


def transposition_to_c(tonic_pitch_class: int, mode: str) -> int:
    """Semitones in -6..+5 that move a key's tonic to C (major) or A (minor)."""
    target = MINOR_TONIC if mode == "minor" else MAJOR_TONIC
    return (target - tonic_pitch_class + 6) % 12 - 6


def notes_to_roll(notes: list[Note], pitches: int = PITCHES, steps: int = STEPS) -> np.ndarray:
    """uint8 roll (3, pitches, steps) of notes given in row/step units (see the module rules)."""
    roll = np.zeros((3, pitches, steps), dtype=np.uint8)
    for note in sorted(notes, key=lambda n: (n.pitch, n.start, -n.end)):
        if not (0 <= note.pitch < pitches and 0 <= note.start < steps and note.end > note.start and 1 <= note.velocity <= 127):
            raise ValueError(f"note {note} does not fit a {pitches} x {steps} roll")
        if roll[0, note.pitch, note.start]:
            continue  # unison: the longer note of the same start is kept
        step = note.start  # a new onset ends the note sounding there, for good
        while step < steps and roll[1, note.pitch, step] and (step == note.start or not roll[0, note.pitch, step]):
            roll[:, note.pitch, step] = 0
            step += 1
        end = min(note.end, steps)
        roll[0, note.pitch, note.start] = 1
        roll[1, note.pitch, note.start : end] = 1
        roll[2, note.pitch, note.start : end] = note.velocity
    return roll


def threshold(roll: np.ndarray) -> np.ndarray:
    """A real-valued roll (3, P, S), channels 0-1 in [0, 1] and velocity in 0-127 units, as uint8."""
    out = np.zeros(roll.shape, dtype=np.uint8)
    out[0] = roll[0] > THRESHOLD
    out[1] = roll[1] > THRESHOLD
    out[2] = np.where(out[1] == 1, np.clip(np.round(roll[2]), 1, 127), 0)
    return out


def roll_to_notes(roll: np.ndarray) -> list[Note]:
    """The notes of a uint8 roll (3, P, S) by the decoding rules, sorted by pitch then start."""
    onset, sustain, velocity = roll[0] > 0, roll[1] > 0, roll[2]
    notes = []
    for pitch in range(roll.shape[1]):
        start = None
        for step in range(roll.shape[2] + 1):
            on = step < roll.shape[2] and sustain[pitch, step]
            if start is not None and (not on or onset[pitch, step]):
                notes.append(Note(pitch, start, step, int(np.clip(velocity[pitch, start], 1, 127))))
                start = None
            if on and start is None:
                start = step
    return notes


def canonical(roll: np.ndarray) -> np.ndarray:
    """A thresholded roll re-encoded from its decoded notes: exactly what MIDI export keeps."""
    return notes_to_roll(roll_to_notes(roll), roll.shape[1], roll.shape[2])


def segment_piece(piece: Piece, pitch_low: int, hop: int) -> tuple[list[np.ndarray], list[int], int]:
    """Cut a piece into full STEPS-long segments every `hop` steps from its first downbeat.

    Returns the non-empty segments' rolls, their start steps, and how many notes fell outside
    the pitch window (each counted once).
    """
    grid = []
    outside = 0
    for pitch, start, end, velocity in piece.notes:
        if end <= start:
            continue  # grace note
        first = round(start * STEPS_PER_QUARTER)
        last = max(first + 1, round(end * STEPS_PER_QUARTER))
        if not 0 <= pitch - pitch_low < PITCHES:
            outside += 1
            continue
        grid.append((pitch - pitch_low, first, last, velocity))
    total = max((last for _, _, last, _ in grid), default=0)
    rolls, starts = [], []
    for offset in range(0, total - STEPS + 1, hop):
        inside = [
            Note(row, max(first, offset) - offset, min(last, offset + STEPS) - offset, velocity)
            for row, first, last, velocity in grid
            if first < offset + STEPS and last > offset
        ]
        if inside:
            rolls.append(notes_to_roll(inside))
            starts.append(offset)
    return rolls, starts, outside


def read_piece(path, transpose: bool = True) -> Piece:
    """Read a MusicXML or MIDI file with music21 into a `Piece`; ValueError says why one is unusable.

    Only 4/4 pieces (or files without a time signature) are accepted: 32 steps are then two bars.
    Times count from the first downbeat, so a pickup bar's notes fall before 0 and are not used.
    """
    import music21  # slow to import; only the melody source needs it

    score = music21.converter.parse(str(path))
    meter = score.recurse().getElementsByClass("TimeSignature").first()
    if meter is not None and meter.ratioString != "4/4":
        raise ValueError(f"time signature {meter.ratioString}; needs 4/4 (32 sixteenth steps = 2 bars)")
    score = score.stripTies()
    parts = score.parts if score.hasPartLikeStreams() else [score]
    measure = parts[0].getElementsByClass("Measure").first()
    downbeat = float(measure.quarterLength) if measure is not None and measure.paddingLeft > 0 else 0.0
    found = []
    for element in score.flatten().notes:
        start = float(element.offset) - downbeat
        end = start + float(element.quarterLength)
        velocity = element.volume.velocity or DEFAULT_VELOCITY
        found += [(p.midi, start, end, int(velocity)) for p in element.pitches]
    if not found:
        raise ValueError("holds no notes")
    key = score.analyze("key")
    shift = transposition_to_c(key.tonic.pitchClass, key.mode) if transpose else 0
    notes = [(pitch + shift, start, end, velocity) for pitch, start, end, velocity in found]
    return Piece(notes, f"{key.tonic.name} {key.mode}", shift)


def roll_to_midi(roll: np.ndarray, pitch_low: int, step_seconds: float, program: int) -> pretty_midi.PrettyMIDI:
    """A one-instrument MIDI file of a uint8 roll's notes, each step `step_seconds` long."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=60.0 / (step_seconds * STEPS_PER_QUARTER))
    instrument = pretty_midi.Instrument(program=program)
    for note in roll_to_notes(roll):
        instrument.notes.append(
            pretty_midi.Note(note.velocity, pitch_low + note.pitch, note.start * step_seconds, note.end * step_seconds)
        )
    midi.instruments.append(instrument)
    return midi


def midi_to_roll(midi: pretty_midi.PrettyMIDI, pitch_low: int, step_seconds: float) -> np.ndarray:
    """The uint8 roll of a MIDI file's notes on the step grid (times rounded to the nearest step)."""
    notes = [
        Note(n.pitch - pitch_low, round(n.start / step_seconds), max(round(n.start / step_seconds) + 1, round(n.end / step_seconds)), n.velocity)
        for instrument in midi.instruments
        for n in instrument.notes
    ]
    return notes_to_roll(notes)
