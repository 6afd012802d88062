"""Numbers for sets of piano rolls (uint8 (N, 3, P, S), see sgm.melodies.rolls), and the noise floor they are read against.

Per set: note density (notes per segment), polyphony (pitches sounding at once, averaged over
the steps where something sounds), the share of empty segments, the in-key share (per segment,
the largest share of its notes that one diatonic scale - the 12 major/natural-minor keys - holds;
averaged over non-empty segments; 7/12 for all 12 pitch classes once, 1 for any scale), and two
distances to a reference set: the total-variation distance between the sets' pitch-class
histograms of notes (0 = same, 1 = disjoint) and the Frechet distance between Gaussians fitted
to FEATURES of each segment, each feature in units of its standard deviation in the reference set.
"""

from __future__ import annotations

import numpy as np
import torch

from sgm.kinds.frechet import frechet_distance
from sgm.melodies.rolls import Note, notes_to_roll, roll_to_notes

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
SCALES = np.array([[(pc - tonic) % 12 in MAJOR_SCALE for pc in range(12)] for tonic in range(12)])  # (12 keys, 12 pcs)
FEATURES = ("notes", "mean_duration", "mean_pitch", "pitch_span", "polyphony", "sounding_share", "in_key_share")


def _notes(rolls) -> list[list[Note]]:
    return [roll_to_notes(np.asarray(roll)) for roll in rolls]


def _pitch_classes(notes: list[Note], pitch_low: int) -> np.ndarray:
    return np.array([(pitch_low + n.pitch) % 12 for n in notes], dtype=int)


def pitch_class_histogram(rolls, pitch_low: int) -> np.ndarray:
    """Share of a set's notes on each pitch class C..B (12,); all zeros if it has no note."""
    counts = np.zeros(12)
    for notes in _notes(rolls):
        np.add.at(counts, _pitch_classes(notes, pitch_low), 1)
    return counts / counts.sum() if counts.sum() else counts


def pitch_class_distance(rolls, reference, pitch_low: int) -> float:
    """Total-variation distance of the two sets' pitch-class histograms; 1 if either has no note."""
    a, b = pitch_class_histogram(rolls, pitch_low), pitch_class_histogram(reference, pitch_low)
    if not a.sum() or not b.sum():
        return 1.0
    return float(0.5 * np.abs(a - b).sum())


def in_key_share(notes: list[Note], pitch_low: int) -> float:
    """The largest share of the notes that one diatonic scale holds; NaN without notes."""
    if not notes:
        return float("nan")
    in_scale = SCALES[:, _pitch_classes(notes, pitch_low)]  # (12, notes)
    return float(in_scale.mean(axis=1).max())


def polyphony(roll: np.ndarray) -> tuple[float, int]:
    """Summed count of sounding pitches over the sounding steps, and the number of such steps."""
    per_step = (np.asarray(roll)[1] > 0).sum(axis=0)
    return float(per_step.sum()), int((per_step > 0).sum())


def segment_features(rolls, pitch_low: int) -> np.ndarray:
    """FEATURES of each segment (N, 7); all zeros for an empty segment."""
    rows = []
    for roll, notes in zip(rolls, _notes(rolls)):
        if not notes:
            rows.append(np.zeros(len(FEATURES)))
            continue
        pitches = np.array([n.pitch for n in notes])
        sounding, steps = polyphony(roll)
        rows.append(np.array([
            len(notes), np.mean([n.end - n.start for n in notes]), pitches.mean(), np.ptp(pitches),
            sounding / steps, steps / np.asarray(roll).shape[2], in_key_share(notes, pitch_low),
        ]))  # fmt: skip
    return np.stack(rows)


def melody_metrics(rolls, reference, pitch_low: int) -> dict[str, float]:
    """Every number of a set of rolls, its distances measured to the `reference` rolls."""
    notes = _notes(rolls)
    sounding = [polyphony(roll) for roll in rolls]
    steps = sum(s for _, s in sounding)
    keyed = [in_key_share(n, pitch_low) for n in notes if n]
    return {
        "pitch_class_distance": pitch_class_distance(rolls, reference, pitch_low),
        "in_key_share": float(np.mean(keyed)) if keyed else float("nan"),
        "note_density": float(np.mean([len(n) for n in notes])),
        "polyphony": sum(c for c, _ in sounding) / steps if steps else float("nan"),
        "empty_share": float(np.mean([not n for n in notes])),
        "frechet_distance": standardized_frechet_distance(segment_features(rolls, pitch_low), segment_features(reference, pitch_low)),
    }


def standardized_frechet_distance(features: np.ndarray, reference: np.ndarray) -> float:
    """Frechet distance after scaling each feature by the reference set's standard deviation (1 where
    it is 0), so that note counts do not drown shares between 0 and 1."""
    std = reference.std(axis=0)
    std[std == 0] = 1.0
    return frechet_distance(torch.from_numpy(features / std), torch.from_numpy(reference / std))


def random_rolls(like, n: int, generator: np.random.Generator) -> np.ndarray:
    """n rolls of random notes with the note statistics of the rolls `like`: the noise floor.

    Each roll takes its note count from a random segment of `like`, and each note a uniform
    pitch and start step, and a duration and velocity drawn from `like`'s notes (cut at the end).
    """
    notes = _notes(like)
    counts = np.array([len(n) for n in notes])
    pool = [note for segment in notes for note in segment]
    if not pool:
        raise ValueError("the reference rolls hold no note to take statistics from")
    shape = np.asarray(like[0]).shape
    out = []
    for _ in range(n):
        drawn = []
        for _ in range(counts[generator.integers(len(counts))]):
            model = pool[generator.integers(len(pool))]
            start = int(generator.integers(shape[2]))
            drawn.append(Note(int(generator.integers(shape[1])), start, start + model.end - model.start, model.velocity))
        out.append(notes_to_roll(drawn, shape[1], shape[2]))
    return np.stack(out)
