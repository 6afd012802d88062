"""A piano roll as a picture: one row per pitch, one column per sixteenth step, bars and beats marked."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from sgm.audio.pitch import note_name
from sgm.kinds.figures import new_figure
from sgm.melodies.rolls import STEPS_PER_QUARTER, roll_to_notes

ROLL_SIZE = (640, 480)
VELOCITY_COLOURS = ListedColormap(["#ffffff"] + [(0.1, 0.2 + 0.6 * (1 - v / 127), 0.7) for v in range(1, 128)])


def pianoroll_figure(roll: np.ndarray, pitch_low: int, title: str = "") -> Figure:
    """A uint8 roll (3, P, S): sustained cells coloured by velocity (darker = louder), onsets as black
    ticks, C rows labelled, a line every beat and a heavier one every bar of 4/4; ROLL_SIZE pixels."""
    roll = np.asarray(roll)
    pitches, steps = roll.shape[1:]
    figure = new_figure(ROLL_SIZE)
    ax = figure.add_subplot()
    ax.imshow(roll[2], origin="lower", aspect="auto", cmap=VELOCITY_COLOURS, vmin=0, vmax=127, interpolation="nearest")
    for note in roll_to_notes(roll):
        ax.plot([note.start - 0.5, note.start - 0.5], [note.pitch - 0.45, note.pitch + 0.45], color="black", linewidth=2)
    for step in range(0, steps + 1, STEPS_PER_QUARTER):
        ax.axvline(step - 0.5, color="grey", linewidth=1.5 if step % (4 * STEPS_PER_QUARTER) == 0 else 0.4)
    rows = [r for r in range(pitches) if (pitch_low + r) % 12 == 0]
    ax.set_yticks(rows, [note_name(pitch_low + r) for r in rows])
    ax.set(xlim=(-0.5, steps - 0.5), ylim=(-0.5, pitches - 0.5), xlabel="sixteenth step", ylabel="pitch")
    if title:
        ax.set_title(title, fontsize=9)
    return figure
