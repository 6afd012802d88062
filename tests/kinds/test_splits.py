"""Group splits: whole notes on one side, the asked fraction, determinism; picks spread over a split."""

import numpy as np
import pytest
import torch

from sgm.kinds.splits import split_by_group, spread_by


def note_ids(notes=200, clips=3):
    return np.repeat(np.arange(notes), clips)


def test_clips_of_a_note_stay_together():
    groups = note_ids()
    train, test = split_by_group(groups, 0.1, seed=0)
    assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([train, test])) == list(range(len(groups)))


def test_fraction_counts_groups():
    train, test = split_by_group(note_ids(), 0.1, seed=0)
    assert len(test) == 20 * 3 and len(train) == 180 * 3


def test_same_seed_same_split_whatever_the_order():
    groups = note_ids()
    shuffled = np.random.default_rng(5).permutation(groups)
    _, test = split_by_group(groups, 0.2, seed=7)
    _, test_again = split_by_group(groups, 0.2, seed=7)
    _, test_shuffled = split_by_group(shuffled, 0.2, seed=7)
    assert np.array_equal(test, test_again)
    assert set(groups[test]) == set(shuffled[test_shuffled])


def test_different_seeds_differ():
    groups = note_ids()
    assert not np.array_equal(split_by_group(groups, 0.1, 0)[1], split_by_group(groups, 0.1, 1)[1])


def test_each_side_gets_a_group_even_at_extreme_fractions():
    groups = np.array([4, 4, 9, 9, 9])
    for fraction in (0.01, 0.99):
        train, test = split_by_group(groups, fraction, seed=0)
        assert len(set(groups[train])) == 1 and len(set(groups[test])) == 1


@pytest.mark.parametrize(
    ("groups", "fraction", "message"),
    [
        ([1, 1, 1], 0.1, "at least 2 groups.*got 1"),
        ([1, 2], 0.0, "between 0 and 1.*got 0.0"),
        ([1, 2], 1.5, "between 0 and 1.*got 1.5"),
        ([[1, 2]], 0.5, r"1-D\), got shape \(1, 2\)"),
    ],
)
def test_bad_splits_are_reported(groups, fraction, message):
    with pytest.raises(ValueError, match=message):
        split_by_group(groups, fraction, seed=0)


def test_real_clips_spread_from_lowest_to_highest_pitch():
    pitch = torch.tensor([67, 55, 79, 60, 72])
    assert spread_by(pitch, 2) == [1, 2]
    assert spread_by(pitch, 3) == [1, 0, 2]
    assert spread_by(pitch, 9) == [1, 3, 0, 4, 2]
