"""Single notes from a General MIDI SoundFont, rendered with TinySoundFont.

Every note gets a freshly loaded synthesizer: a reused one keeps voice state that changes the
output by about -57 dB depending on what it played before, which would break byte-identical
re-renders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import tinysoundfont


class SoundFontError(ValueError):
    """A SoundFont file is missing, unreadable, or lacks a requested program."""


def default_soundfont() -> Path:
    """TimGM6mb.sf2, the General MIDI SoundFont shipped inside the pretty_midi package."""
    return Path(str(resources.files("pretty_midi") / "TimGM6mb.sf2"))


class SoundFont:
    """A SoundFont file held in memory, rendering one note at a time (bank 0, melodic presets)."""

    def __init__(self, path: str | Path, sample_rate: int = 44100):
        path = Path(path)
        if not path.is_file():
            raise SoundFontError(
                f"SoundFont {str(path)!r} does not exist or is not a file; give a .sf2/.sf3 path or 'default'"
            )
        self.path = path
        self.sample_rate = sample_rate
        self._data = path.read_bytes()
        synth, sfid = self._load()
        self._preset_names = {program: synth.sfpreset_name(sfid, 0, program) for program in range(128)}

    def _load(self) -> tuple[tinysoundfont.Synth, int]:
        synth = tinysoundfont.Synth(samplerate=self.sample_rate)
        try:
            return synth, synth.sfload(self._data)
        except RuntimeError:
            raise SoundFontError(f"{str(self.path)!r} is not a readable SoundFont (.sf2/.sf3)") from None

    def preset_name(self, program: int) -> str | None:
        """The SoundFont's own name for a program, or None when it has no such preset."""
        return self._preset_names[program]

    def check_programs(self, programs: list[int]) -> None:
        """Raise SoundFontError naming every program this SoundFont lacks."""
        missing = sorted({p for p in programs if self._preset_names.get(p) is None})
        if missing:
            available = [p for p, name in self._preset_names.items() if name is not None]
            raise SoundFontError(f"{self.path.name} has no preset for program(s) {missing}; it has {available}")

    def render_note(self, program: int, pitch: int, velocity: int, n_samples: int) -> np.ndarray:
        """Hold `pitch` on `program` for `n_samples` samples; returns float32 stereo (2, n_samples)."""
        self.check_programs([program])
        if not 0 <= pitch <= 127 or not 1 <= velocity <= 127:
            raise ValueError(f"pitch={pitch} must be in 0..127 and velocity={velocity} in 1..127")
        synth, sfid = self._load()
        synth.program_select(0, sfid, 0, program)
        synth.noteon(0, pitch, velocity)
        interleaved = np.frombuffer(synth.generate(n_samples), dtype=np.float32)
        return np.ascontiguousarray(interleaved.reshape(n_samples, 2).T)

    def render_notes(self, program: int, notes: list[tuple[int, float, float, int]], n_samples: int) -> np.ndarray:
        """Play (pitch, start_s, end_s, velocity) notes on `program`; float32 stereo (2, n_samples).

        Notes still sounding at the end are cut there. At equal times note-offs come first, so a
        repeated pitch is struck again.
        """
        self.check_programs([program])
        synth, sfid = self._load()
        synth.program_select(0, sfid, 0, program)
        events = sorted(
            [(round(start * self.sample_rate), 1, pitch, velocity) for pitch, start, _, velocity in notes]
            + [(round(end * self.sample_rate), 0, pitch, 0) for pitch, _, end, _ in notes]
        )
        chunks, done = [], 0
        for sample, is_on, pitch, velocity in events:
            if sample >= n_samples:
                break
            if sample > done:
                chunks.append(np.frombuffer(synth.generate(sample - done), dtype=np.float32))
                done = sample
            if is_on:
                synth.noteon(0, pitch, velocity)
            else:
                synth.noteoff(0, pitch)
        chunks.append(np.frombuffer(synth.generate(n_samples - done), dtype=np.float32))
        return np.ascontiguousarray(np.concatenate(chunks).reshape(n_samples, 2).T)
