"""The layout of melodies: uint8 piano rolls 3 x 32 x 32 (sgm.melodies.rolls) as tensors in [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from sgm.audio.soundfont import SoundFont, default_soundfont
from sgm.kinds.layout import Layout, check_shape
from sgm.melodies.rolls import canonical, roll_to_midi, roll_to_notes, threshold


@dataclass(frozen=True)
class PianoRoll(Layout):
    """uint8 melody rolls (N, 3, pitches, steps) (see sgm.melodies.rolls) as model tensors in [-1, 1].

    Onset and sustain map 0/1 to -1/+1 and velocity 0-127 to -1..+1; `clip_samples` is the length
    of a segment played at `step_seconds` per step on General MIDI `program` with the default
    SoundFont, which is what `to_audio` renders after thresholding (`to_rolls`).
    """

    name: ClassVar[str] = "pianoroll"
    kind: ClassVar[str] = "melodies"
    holds_waveforms: ClassVar[bool] = False
    pitch_low: int = 48
    pitches: int = 32
    steps: int = 32
    step_seconds: float = 0.125
    program: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.clip_samples != round(self.steps * self.step_seconds * self.sample_rate):
            raise ValueError(
                f"pianoroll: clip_samples must be steps * step_seconds * sample_rate = "
                f"{round(self.steps * self.step_seconds * self.sample_rate)}, got {self.clip_samples}"
            )

    @classmethod
    def planned_shape(cls, clip_samples: int, sample_rate: int, options: dict) -> tuple[int, ...]:
        """The roll's grid, whatever the audio clip length (that follows from the melody's time grid)."""
        return (3, cls.pitches, cls.steps)

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, self.pitches, self.steps)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.shape

    def _arrange(self, data):
        levels = torch.tensor([1.0, 1.0, 127.0]).view(1, 3, 1, 1)
        return data.float() / levels * 2 - 1

    def _unarrange(self, x):
        levels = torch.tensor([1.0, 1.0, 127.0], dtype=x.dtype).view(1, 3, 1, 1)
        return (x + 1) / 2 * levels

    def _scale_for(self, unscaled):
        return 1.0

    def to_rolls(self, x: torch.Tensor) -> torch.Tensor:
        """Model tensor -> uint8 rolls by sgm.melodies.rolls' thresholds and decoding rules (canonical)."""
        check_shape("model tensor", x, self.shape, self.name)
        rolls = self._unarrange(x / self.scale).numpy()
        return torch.from_numpy(np.stack([canonical(threshold(r)) for r in rolls]))

    def to_midi(self, roll: torch.Tensor):
        """One uint8 roll (3, pitches, steps) as a pretty_midi.PrettyMIDI."""
        return roll_to_midi(roll.numpy(), self.pitch_low, self.step_seconds, self.program)

    def to_audio(self, x):
        """Model tensor -> mono clips (N, clip_samples): the thresholded rolls played on the default SoundFont."""
        synth = SoundFont(default_soundfont(), self.sample_rate)
        clips = []
        for roll in self.to_rolls(x):
            notes = [
                (self.pitch_low + n.pitch, n.start * self.step_seconds, n.end * self.step_seconds, n.velocity)
                for n in roll_to_notes(roll.numpy())
            ]
            clips.append(synth.render_notes(self.program, notes, self.clip_samples).mean(axis=0))
        return torch.from_numpy(np.stack(clips))


LAYOUTS = {PianoRoll.name: PianoRoll}
