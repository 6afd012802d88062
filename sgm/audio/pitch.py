"""Pitch names and frequencies: MIDI numbers to names (C4 = 60) and back, and to equal-tempered Hz."""

from __future__ import annotations

import pretty_midi

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int, sharp: str = "#") -> str:
    """MIDI 61 -> "C#4"; with sharp="s", "Cs4", safe in file names."""
    return f"{NOTE_NAMES[pitch % 12].replace('#', sharp)}{pitch // 12 - 1}"


def parse_pitch(text: str) -> int:
    """A MIDI note number from '55' or a note name such as 'G3', 'C#4' or 'Db4' (C4 = 60)."""
    text = text.strip()
    try:
        midi = int(text) if text.lstrip("-").isdigit() else pretty_midi.note_name_to_number(text)
    except ValueError:
        midi = None
    if midi is None or not 0 <= midi <= 127:
        raise ValueError(f"pitch {text!r} is neither a MIDI number 0-127 nor a note name like G3, C#4 or Db4")
    return midi


def pitch_hz(pitch: int) -> float:
    """Equal-tempered frequency of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((pitch - 69) / 12)
