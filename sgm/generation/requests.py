"""Notes on request from a trained checkpoint: labels from names and numbers, scales, file names.

A checkpoint's config names what it was conditioned on ({kind: vocabulary}, kinds "pitch" with
MIDI numbers and "instrument" with program names; empty or absent for an unconditional model).
Requests are dicts like {"pitch": 67, "instrument": "flute"}; anything the checkpoint does not
know is refused with the list of what it knows, before any sampling.
"""

from __future__ import annotations

import re

import pretty_midi
import torch

from sgm.audio.pitch import note_name, parse_pitch
from sgm.core.labels import encode_labels
from sgm.kinds.naming import describe

SCALES = {
    "chromatic": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
    "whole_tone": (0, 2, 4, 6, 8, 10),
}


def scale_pitches(name: str, root: int, octaves: int = 1) -> list[int]:
    """The MIDI pitches of scale `name` from `root` up `octaves` octaves, the top root included."""
    if name not in SCALES:
        raise ValueError(f"unknown scale {name!r}; accepted: {', '.join(SCALES)}")
    if not (isinstance(octaves, int) and octaves >= 1):
        raise ValueError(f"octaves must be an integer >= 1, got {octaves!r}")
    return [root + 12 * octave + step for octave in range(octaves) for step in SCALES[name]] + [root + 12 * octaves]


def _squash(name: str, digits: bool = True) -> str:
    kept = re.sub(r"[^a-z0-9]", "", name.lower())
    return kept if digits else re.sub(r"[0-9]", "", kept)


def resolve_instrument(value: str, vocabulary: list[str]) -> str:
    """A vocabulary name from a name or a General MIDI program number (0-127, e.g. 73 = Flute).

    A number is matched through pretty_midi's GM name ignoring case and punctuation, then also
    ignoring digits ("Lead 1 (square)" finds lead_square) when that leaves one candidate.
    """
    if value in vocabulary:
        return value
    known = f"the checkpoint knows instruments: {', '.join(vocabulary)}"
    if not value.isdigit():
        raise ValueError(f"unknown instrument {value!r}; {known}")
    program = int(value)
    if program > 127:
        raise ValueError(f"instrument {value!r} is not a General MIDI program number 0-127; {known}")
    gm_name = pretty_midi.program_to_instrument_name(program)
    for digits in (True, False):
        matches = [name for name in vocabulary if _squash(name, digits) == _squash(gm_name, digits)]
        if len(matches) == 1:
            return matches[0]
    raise ValueError(f"instrument {value!r} (GM program {program}, {gm_name}) was not trained; {known}")


def describe_pitches(pitches: list[int]) -> str:
    """'G3 (55) to G6 (91)' for a contiguous range, else the list of names."""
    if pitches == list(range(pitches[0], pitches[-1] + 1)):
        return f"{note_name(pitches[0])} ({pitches[0]}) to {note_name(pitches[-1])} ({pitches[-1]})"
    return ", ".join(f"{note_name(p)} ({p})" for p in pitches)


def resolve_pitch(value: str | int, vocabulary: list[int]) -> int:
    """A trained MIDI pitch from a number or a note name like G4."""
    pitch = value if isinstance(value, int) else parse_pitch(str(value))
    if pitch not in vocabulary:
        raise ValueError(f"pitch {note_name(pitch)} (MIDI {pitch}) is outside what the checkpoint was trained on: {describe_pitches(sorted(vocabulary))}")
    return pitch


def requests_for(conditioning: dict, instruments=(), pitches=(), n: int = 1) -> list[dict]:
    """Every instrument x pitch asked for, n of each, checked against `conditioning`.

    An unconditional checkpoint ({} conditioning) takes no labels and gives n unlabelled requests.
    """
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    asked = {"instrument": list(instruments), "pitch": list(pitches)}
    for kind, values in asked.items():
        if values and kind not in conditioning:
            trained = f"conditioned on {', '.join(conditioning)} only" if conditioning else "unconditional"
            raise ValueError(f"this checkpoint is {trained}: it takes no {kind} labels")
    instruments = [resolve_instrument(str(v), list(conditioning["instrument"])) for v in asked["instrument"]] or [None]
    pitches = [resolve_pitch(v, list(conditioning["pitch"])) for v in asked["pitch"]] or [None]
    requests = []
    for instrument in instruments:
        for pitch in pitches:
            request = {kind: value for kind, value in (("instrument", instrument), ("pitch", pitch)) if value is not None}
            requests += [request] * n
    return requests


def request_name(request: dict) -> str:
    """A file-name stem for a request: 'flute_G4', 'Fs4', 'flute' or 'unconditional'."""
    return describe(request) or "unconditional"


def labels_for(conditioning: dict, requests: list[dict], device=None) -> torch.Tensor | None:
    """The (B, K) label tensor of `requests`, or None for an unconditional checkpoint."""
    return encode_labels(conditioning, requests).to(device) if conditioning else None
