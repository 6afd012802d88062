import pytest
import torch

from sgm.audio.pitch import note_name
from sgm.core.labels import balanced_requests, drop_labels, encode_labels, null_labels
from sgm.kinds.naming import describe

CONDITIONING = {"pitch": [55, 56, 57, 58, 59, 60], "instrument": ["piano", "flute"]}


def test_labels_index_the_vocabularies_and_a_missing_kind_is_no_label():
    labels = encode_labels(CONDITIONING, [{"pitch": 57, "instrument": "flute"}, {"pitch": 55}, {}])
    assert labels.tolist() == [[2, 1], [0, 2], [6, 2]]
    assert null_labels([6, 2], 2).tolist() == [[6, 2], [6, 2]]


def test_unknown_values_and_kinds_name_what_the_model_knows():
    with pytest.raises(ValueError, match="unknown pitch 61; the model knows: 55, 56, 57, 58, 59, 60"):
        encode_labels(CONDITIONING, [{"pitch": 61}])
    with pytest.raises(ValueError, match=r"not conditioned on \['instrument'\]; it takes: none"):
        encode_labels({}, [{"instrument": "flute"}])


def test_balanced_requests_cover_the_range_evenly_and_are_seeded():
    requests = balanced_requests(CONDITIONING, 4, seed=0)
    assert sorted(r["pitch"] for r in requests) == [55, 57, 58, 60]  # spread over the whole range
    assert sorted(r["instrument"] for r in requests) == ["flute", "flute", "piano", "piano"]
    assert requests == balanced_requests(CONDITIONING, 4, seed=0) != balanced_requests(CONDITIONING, 4, seed=1)
    many = balanced_requests(CONDITIONING, 12, seed=3)
    assert sorted(r["pitch"] for r in many) == sorted(CONDITIONING["pitch"] * 2)
    assert balanced_requests({}, 3, seed=0) == [{}, {}, {}]


def test_label_dropout_drops_each_kind_at_its_rate():
    labels = torch.zeros(20000, 2, dtype=torch.int64)
    dropped = drop_labels(labels, [6, 2], 0.25, torch.Generator().manual_seed(0))
    rates = (dropped == torch.tensor([6, 2])).float().mean(dim=0)
    assert torch.allclose(rates, torch.tensor([0.25, 0.25]), atol=0.01)
    both = ((dropped == torch.tensor([6, 2])).all(dim=1)).float().mean()
    assert abs(both - 0.0625) < 0.01  # kinds drop independently
    assert drop_labels(labels, [6, 2], 0.0) is labels


def test_names_are_note_names():
    assert [note_name(p, sharp="s") for p in (55, 60, 61, 69, 91)] == ["G3", "C4", "Cs4", "A4", "G6"]
    assert describe({"pitch": 67, "instrument": "flute"}) == "flute_G4" and describe({"pitch": 61}) == "Cs4"
