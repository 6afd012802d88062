"""Play a MIDI file with generated notes: every note becomes clips at its pitch, shaped and mixed.

A model makes clips of a fixed length (0.37 s at 44.1 kHz by default). A longer note is made of
successive clips, each a fresh sample at the note's pitch, joined by equal-power crossfades of
`fade` seconds; the joined audio is cut to the note's length plus its release and shaped by an
ADSR envelope whose level is velocity / 127. Notes are mixed at their start times; a mix louder
than full scale is scaled down to a peak of 1. Drum tracks are left out (they have no pitch).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from sgm.audio.pitch import parse_pitch


@dataclass(frozen=True)
class Note:
    start: float
    end: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Envelope:
    """Attack, decay and release in seconds, sustain as a fraction of the peak."""

    attack: float = 0.01
    decay: float = 0.1
    sustain: float = 0.7
    release: float = 0.1

    def shape(self, held: int, sample_rate: int) -> np.ndarray:
        """Gain over `held` samples of key-down plus the release: (held + release samples,)."""
        t = np.arange(held) / sample_rate
        rise = np.minimum(1.0, t / self.attack) if self.attack > 0 else np.ones(held)
        fall = 1.0 - (1.0 - self.sustain) * np.clip((t - self.attack) / max(self.decay, 1e-12), 0.0, 1.0)
        gain = np.where(t < self.attack, rise, fall)
        level = gain[-1] if held else 0.0
        tail = level * np.linspace(1.0, 0.0, round(self.release * sample_rate), endpoint=False)
        return np.concatenate([gain, tail])


def read_midi(path: str | Path) -> list[Note]:
    """The pitched notes of a MIDI file, sorted by start; ValueError naming the file if it does not parse or has none."""
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except FileNotFoundError:
        raise ValueError(f"MIDI file {path} does not exist") from None
    except Exception as err:  # pretty_midi/mido raise many types (OSError, EOFError, KeyError, ValueError...)
        raise ValueError(f"MIDI file {path} does not parse: {type(err).__name__}: {err}") from None
    notes = [Note(n.start, n.end, n.pitch, n.velocity) for i in midi.instruments if not i.is_drum for n in i.notes if n.end > n.start]
    if not notes:
        raise ValueError(f"MIDI file {path} has no pitched notes")
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def excerpt(notes: list[Note], seconds: float) -> list[Note]:
    """The notes that start within the first `seconds`, cut off at `seconds`."""
    return [Note(n.start, min(n.end, seconds), n.pitch, n.velocity) for n in notes if n.start < seconds]


def clips_needed(samples: int, clip_samples: int, fade: int) -> int:
    """How many clips, overlapping by `fade` samples, cover `samples`."""
    if not 0 <= fade < clip_samples:
        raise ValueError(f"the crossfade ({fade} samples) must be shorter than a clip ({clip_samples} samples)")
    return 1 + max(0, math.ceil((samples - clip_samples) / (clip_samples - fade)))


def crossfade(clips: np.ndarray, fade: int) -> np.ndarray:
    """Join clips (K, L) end to start, each overlap an equal-power (sine/cosine) crossfade of `fade` samples."""
    phase = (np.arange(fade) + 0.5) / fade * (np.pi / 2)
    out = clips[0].astype(np.float64)
    for clip in clips[1:]:
        joined = out[len(out) - fade :] * np.cos(phase) + clip[:fade] * np.sin(phase)
        out = np.concatenate([out[: len(out) - fade], joined, clip[fade:]])
    return out


def render(
    notes: list[Note],
    clips_for: Callable[[int, int], np.ndarray],
    sample_rate: int,
    clip_samples: int,
    fade: float = 0.05,
    envelope: Envelope = Envelope(),
) -> np.ndarray:
    """Mix `notes` into one float32 track of (last note end + release) seconds.

    `clips_for(pitch, count)` returns `count` clips (count, clip_samples) at `pitch`; it is called
    once per distinct pitch, so a model generates every clip of one pitch in one batch.
    """
    if not notes:
        raise ValueError("no notes to render")
    fade_samples = round(fade * sample_rate)
    held = {note: max(1, round((note.end - note.start) * sample_rate)) for note in notes}
    release = round(envelope.release * sample_rate)
    counts = {note: clips_needed(held[note] + release, clip_samples, fade_samples) for note in notes}
    by_pitch = defaultdict(list)
    for note in notes:
        by_pitch[note.pitch].append(note)
    mix = np.zeros(max(round(n.start * sample_rate) + held[n] for n in notes) + release)
    for pitch, group in by_pitch.items():
        clips = np.asarray(clips_for(pitch, sum(counts[n] for n in group)))
        if clips.shape != (sum(counts[n] for n in group), clip_samples):
            raise ValueError(f"clips_for({pitch}, ...) returned shape {clips.shape}, expected ({sum(counts[n] for n in group)}, {clip_samples})")
        first = 0
        for note in group:
            gain = envelope.shape(held[note], sample_rate) * note.velocity / 127
            audio = crossfade(clips[first : first + counts[note]], fade_samples)[: len(gain)] * gain
            start = round(note.start * sample_rate)
            mix[start : start + len(audio)] += audio
            first += counts[note]
    return (mix / max(1.0, np.abs(mix).max())).astype(np.float32)


def parse_melody(text: str, beat_seconds: float, velocity: int = 100) -> list[Note]:
    """A monophonic melody written as 'G4 A4:2 R B4:0.5' (note or R for a rest, then :beats, default 1)."""
    notes, start = [], 0.0
    for token in text.split():
        name, _, beats = token.partition(":")
        try:
            length = float(beats) * beat_seconds if beats else beat_seconds
        except ValueError:
            raise ValueError(f"melody token {token!r}: beats {beats!r} is not a number") from None
        if not length > 0:
            raise ValueError(f"melody token {token!r}: beats must be positive")
        if name.upper() != "R":
            notes.append(Note(start, start + length, parse_pitch(name), velocity))
        start += length
    if not notes:
        raise ValueError(f"melody {text!r} has no notes")
    return notes


def write_midi(notes: list[Note], path: str | Path, program: int = 0) -> None:
    """Write notes as a one-track MIDI file (General MIDI `program`, 0-based)."""
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(program=program)
    track.notes = [pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=n.start, end=n.end) for n in notes]
    midi.instruments.append(track)
    midi.write(str(path))
