"""General MIDI: the study's 59 instruments by name, and the instrument families.

The study rendered 59 of the 128 General MIDI programs (0-based numbers), one or more from every
melodic family; `render.instruments` in params.yaml names the ones to render (null: all 59).
"""

from __future__ import annotations

import pretty_midi

STUDY_INSTRUMENTS = {
    # Piano
    "acoustic_grand_piano": 0,
    "electric_grand_piano": 2,
    "honky_tonk_piano": 3,
    "electric_piano_1": 4,
    "electric_piano_2": 5,
    "harpsichord": 6,
    # Chromatic Percussion
    "music_box": 10,
    "vibraphone": 11,
    "marimba": 12,
    "xylophone": 13,
    "dulcimer": 15,
    # Organ
    "drawbar_organ": 16,
    "percussive_organ": 17,
    "rock_organ": 18,
    "church_organ": 19,
    "reed_organ": 20,
    "harmonica": 22,
    # Guitar
    "acoustic_guitar_nylon": 24,
    "acoustic_guitar_steel": 25,
    "electric_guitar_jazz": 26,
    "electric_guitar_clean": 27,
    "overdriven_guitar": 29,
    # Strings
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "tremolo_strings": 44,
    "orchestral_harp": 46,
    # Ensemble
    "string_ensemble_1": 48,
    "string_ensemble_2": 49,
    "synth_strings_1": 50,
    "synth_strings_2": 51,
    "choir_aahs": 52,
    "voice_oohs": 53,
    # Brass
    "trumpet": 56,
    "trombone": 57,
    "muted_trumpet": 59,
    "french_horn": 60,
    "brass_section": 61,
    "synth_brass_1": 62,
    # Reed
    "soprano_sax": 64,
    "tenor_sax": 66,
    "oboe": 68,
    "english_horn": 69,
    "clarinet": 71,
    # Pipe
    "piccolo": 72,
    "flute": 73,
    "recorder": 74,
    "pan_flute": 75,
    "ocarina": 79,
    # Synth Lead
    "lead_square": 80,
    "lead_sawtooth": 81,
    "lead_calliope": 82,
    "lead_chiff": 83,
    "lead_bass_and_lead": 87,
    # Synth Pad
    "pad_new_age": 88,
    "pad_warm": 89,
    "pad_polysynth": 90,
    "pad_choir": 91,
    "pad_bowed": 92,
}


def gm_family(program: int) -> str:
    """General MIDI family of a 0-based program number, e.g. 0 -> "Piano", 40 -> "Strings"."""
    return pretty_midi.program_to_instrument_class(program)
