"""Melody metrics on hand-made rolls whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from sgm.melodies.metrics import (
    FEATURES,
    in_key_share,
    melody_metrics,
    pitch_class_distance,
    pitch_class_histogram,
    random_rolls,
    segment_features,
)
from sgm.melodies.rolls import Note, notes_to_roll, roll_to_notes

LOW = 48  # row 0 is C3


def roll(*notes) -> np.ndarray:
    return notes_to_roll([Note(*n) for n in notes])


C_MAJOR_CHORD = roll((0, 0, 8, 80), (4, 0, 8, 80), (7, 0, 8, 80))  # C3 E3 G3 together for 8 steps
SCALE_RUN = roll(*[(p, 4 * i, 4 * i + 4, 80) for i, p in enumerate([0, 2, 4, 5, 7, 9, 11, 12])])  # C3..C4, one at a time
CHROMATIC = roll(*[(p, 2 * p, 2 * p + 2, 80) for p in range(12)])  # all 12 pitch classes once
EMPTY = np.zeros((3, 32, 32), dtype=np.uint8)


def test_pitch_class_histogram_and_distance():
    histogram = pitch_class_histogram([C_MAJOR_CHORD, EMPTY], LOW)
    assert histogram.tolist() == pytest.approx([1 / 3, 0, 0, 0, 1 / 3, 0, 0, 1 / 3, 0, 0, 0, 0])
    assert pitch_class_distance([C_MAJOR_CHORD], [C_MAJOR_CHORD, C_MAJOR_CHORD], LOW) == 0
    # chord: C E G a third each; chromatic: 1/12 each -> TV = 0.5 * (3 * (1/3 - 1/12) + 9/12) = 0.75
    assert pitch_class_distance([C_MAJOR_CHORD], [CHROMATIC], LOW) == pytest.approx(0.75)
    assert pitch_class_distance([roll((1, 0, 4, 80))], [roll((0, 0, 4, 80))], LOW) == 1.0
    assert pitch_class_distance([EMPTY], [C_MAJOR_CHORD], LOW) == 1.0


def test_in_key_share():
    assert in_key_share(roll_to_notes(SCALE_RUN), LOW) == 1.0
    assert in_key_share(roll_to_notes(CHROMATIC), LOW) == pytest.approx(7 / 12)
    # C D E F# G A B is G major: all in key, though not in C major
    assert in_key_share(roll_to_notes(roll(*[(p, i, i + 1, 80) for i, p in enumerate([0, 2, 4, 6, 7, 9, 11])])), LOW) == 1.0
    assert in_key_share(roll_to_notes(roll(*[(p, i, i + 1, 80) for i, p in enumerate([0, 1, 2, 3])])), LOW) == 0.75  # Db major: C Db Eb
    assert np.isnan(in_key_share([], LOW))


def test_set_metrics():
    metrics = melody_metrics([C_MAJOR_CHORD, SCALE_RUN, EMPTY, EMPTY], [C_MAJOR_CHORD, SCALE_RUN, CHROMATIC], LOW)
    assert metrics["note_density"] == pytest.approx((3 + 8) / 4)
    assert metrics["empty_share"] == 0.5
    assert metrics["in_key_share"] == 1.0
    # sounding steps: chord 8 steps x 3 pitches, run 32 steps x 1 pitch -> (24 + 32) / 40
    assert metrics["polyphony"] == pytest.approx(56 / 40)
    assert metrics["frechet_distance"] > 0
    same = melody_metrics([C_MAJOR_CHORD, SCALE_RUN], [C_MAJOR_CHORD, SCALE_RUN], LOW)
    assert same["frechet_distance"] == pytest.approx(0, abs=1e-4) and same["pitch_class_distance"] == 0
    silent = melody_metrics([EMPTY, EMPTY], [C_MAJOR_CHORD, SCALE_RUN], LOW)
    assert silent["empty_share"] == 1 and np.isnan(silent["polyphony"]) and np.isnan(silent["in_key_share"])


def test_segment_features():
    features = segment_features([C_MAJOR_CHORD, SCALE_RUN, EMPTY], LOW)
    assert features.shape == (3, len(FEATURES))
    chord = dict(zip(FEATURES, features[0]))
    assert chord == pytest.approx({
        "notes": 3, "mean_duration": 8, "mean_pitch": 11 / 3, "pitch_span": 7, "polyphony": 3,
        "sounding_share": 8 / 32, "in_key_share": 1,
    })  # fmt: skip
    run = dict(zip(FEATURES, features[1]))
    assert run["notes"] == 8 and run["mean_duration"] == 4 and run["pitch_span"] == 12 and run["sounding_share"] == 1
    assert features[2].tolist() == [0] * len(FEATURES)


def test_random_rolls_keep_the_note_statistics_not_the_music():
    rng = np.random.default_rng(0)
    data = [SCALE_RUN] * 5 + [C_MAJOR_CHORD] * 5
    noise = random_rolls(data, 400, rng)
    assert noise.shape == (400, 3, 32, 32)
    metrics = melody_metrics(noise, data, LOW)
    # note counts drawn from 8 and 3: 5.5 on average, less a few same-pitch collisions
    assert 4.8 < metrics["note_density"] < 6.0
    durations = [n.end - n.start for r in noise for n in roll_to_notes(r) if n.end < 32]
    assert set(durations) <= {1, 2, 3, 4, 5, 6, 7, 8}  # 4 or 8, or shortened by a later onset
    assert metrics["in_key_share"] < 0.95 and metrics["pitch_class_distance"] > 0.2
    assert np.array_equal(noise, random_rolls(data, 400, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="no note"):
        random_rolls([EMPTY], 2, rng)
