import pytest
import torch

from sgm.training.crops import random_crops


def test_each_crop_is_a_contiguous_window_of_its_own_example_across_all_channels():
    x = torch.arange(3 * 2 * 50, dtype=torch.float32).view(3, 2, 50)
    crops = random_crops(x, 8, torch.Generator().manual_seed(0))
    assert crops.shape == (3, 2, 8)
    for example, crop in zip(x, crops):
        start = int(crop[0, 0] - example[0, 0])
        assert 0 <= start <= 42
        assert torch.equal(crop, example[:, start : start + 8])


def test_offsets_are_seeded_and_cover_the_whole_clip():
    x = torch.arange(40, dtype=torch.float32).expand(2000, 1, 40)
    starts = random_crops(x, 10, torch.Generator().manual_seed(1))[:, 0, 0]
    assert torch.equal(starts, random_crops(x, 10, torch.Generator().manual_seed(1))[:, 0, 0])
    assert set(starts.long().tolist()) == set(range(31))
    assert torch.equal(random_crops(x, 40), x)


@pytest.mark.parametrize(("shape", "length", "message"), [((2, 1, 8, 8), 4, "1-D examples"), ((2, 1, 16), 17, r"lie in \[1, 16\]"), ((2, 1, 16), 0, "lie in")])
def test_bad_shapes_and_lengths_are_refused(shape, length, message):
    with pytest.raises(ValueError, match=message):
        random_crops(torch.zeros(shape), length)
