import math

import pytest

from sgm.training.lr_schedule import learning_rate


def rates(schedule, total=10, decay_fraction=1.0):
    return [learning_rate(step, total, 2.0, schedule, decay_fraction) for step in range(1, total + 1)]


def test_constant_keeps_the_rate():
    assert rates("constant") == [2.0] * 10


def test_linear_falls_by_equal_steps_from_the_rate_and_stops_one_step_short_of_zero():
    assert rates("linear") == pytest.approx([2.0 * (10 - k) / 10 for k in range(10)])


def test_cosine_follows_half_a_cosine_and_is_symmetric_about_half_the_rate():
    values = rates("cosine")
    assert values[0] == 2.0 and values[5] == pytest.approx(1.0)
    assert values[-1] == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi * 0.9)))
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[2] + values[8] == pytest.approx(2.0)


def test_a_decay_fraction_holds_the_rate_and_decays_over_the_last_part_only():
    assert rates("linear", decay_fraction=0.3) == pytest.approx([2.0] * 8 + [4 / 3, 2 / 3])
    assert rates("cosine", total=100, decay_fraction=0.2)[:81] == [2.0] * 81


@pytest.mark.parametrize(("schedule", "fraction", "message"), [("step", 1.0, "'step' is not one of"), ("linear", 0.0, "decay_fraction must lie in")])
def test_bad_arguments_are_named(schedule, fraction, message):
    with pytest.raises(ValueError, match=message):
        learning_rate(1, 10, 1.0, schedule, fraction)
