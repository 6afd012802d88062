import pytest
import torch

from sgm.core.score import score_fn_from_net
from sgm.generation.requests import labels_for, request_name, requests_for, resolve_instrument, scale_pitches
from sgm.nets.build import build_net
from tests.helpers.reference_settings import reference_sde

CONDITIONING = {"pitch": list(range(55, 92)), "instrument": ["acoustic_grand_piano", "flute", "lead_square", "violin"]}


def test_requests_cover_every_instrument_and_pitch_n_times():
    requests = requests_for(CONDITIONING, ["flute", "40"], ["G4", 69], n=2)
    assert requests == [
        {"instrument": "flute", "pitch": 67}, {"instrument": "flute", "pitch": 67},
        {"instrument": "flute", "pitch": 69}, {"instrument": "flute", "pitch": 69},
        {"instrument": "violin", "pitch": 67}, {"instrument": "violin", "pitch": 67},
        {"instrument": "violin", "pitch": 69}, {"instrument": "violin", "pitch": 69},
    ]  # fmt: skip
    assert [request_name(r) for r in requests[::2]] == ["flute_G4", "flute_A4", "violin_G4", "violin_A4"]
    assert requests_for(CONDITIONING, [], ["F#4"]) == [{"pitch": 66}] and request_name({"pitch": 66}) == "Fs4"
    assert requests_for({}, n=3) == [{}, {}, {}] and request_name({}) == "unconditional"


def test_general_midi_numbers_find_the_trained_names():
    vocabulary = CONDITIONING["instrument"]
    assert resolve_instrument("73", vocabulary) == "flute"
    assert resolve_instrument("0", vocabulary) == "acoustic_grand_piano"
    assert resolve_instrument("80", vocabulary) == "lead_square"  # GM "Lead 1 (square)"


def test_scales_from_a_root():
    assert scale_pitches("chromatic", 60) == list(range(60, 73))
    assert scale_pitches("major", 67) == [67, 69, 71, 72, 74, 76, 78, 79]
    assert scale_pitches("pentatonic", 60, octaves=2) == [60, 62, 64, 67, 69, 72, 74, 76, 79, 81, 84]


@pytest.mark.parametrize(
    "conditioning, instruments, pitches, message",
    [
        (CONDITIONING, ["tuba"], [], "unknown instrument 'tuba'; the checkpoint knows instruments: acoustic_grand_piano, flute, lead_square, violin"),
        (CONDITIONING, ["58"], [], r"instrument '58' \(GM program 58, Tuba\) was not trained; the checkpoint knows instruments: acoustic_grand_piano"),
        (CONDITIONING, ["200"], [], "not a General MIDI program number 0-127"),
        (CONDITIONING, [], ["C2"], r"pitch C2 \(MIDI 36\) is outside what the checkpoint was trained on: G3 \(55\) to G6 \(91\)"),
        (CONDITIONING, [], [100], r"pitch E7 \(MIDI 100\) is outside .* G3 \(55\) to G6 \(91\)"),
        ({"pitch": [60, 64, 67]}, [], ["D4"], r"trained on: C4 \(60\), E4 \(64\), G4 \(67\)"),
        (CONDITIONING, [], ["H4"], "neither a MIDI number 0-127 nor a note name"),
        ({}, ["flute"], [], "this checkpoint is unconditional: it takes no instrument labels"),
        ({}, [], ["G4"], "this checkpoint is unconditional: it takes no pitch labels"),
        ({"pitch": [60]}, ["flute"], [], "this checkpoint is conditioned on pitch only: it takes no instrument labels"),
    ],
)
def test_bad_requests_are_refused_listing_what_the_checkpoint_knows(conditioning, instruments, pitches, message):
    with pytest.raises(ValueError, match=message):
        requests_for(conditioning, instruments, pitches)


def test_unknown_scale_and_bad_counts_are_refused():
    with pytest.raises(ValueError, match="unknown scale 'dorian'; accepted: chromatic, major"):
        scale_pitches("dorian", 60)
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        requests_for(CONDITIONING, ["flute"], [], n=0)


def test_one_label_row_serves_any_batch(single_thread):
    conditioning = {"pitch": [60, 62], "instrument": ["flute"]}
    net = build_net("unet1d", [8, 8], embed_dim=16, num_classes=[3, 2]).eval()
    sde = reference_sde("ve")
    row = labels_for(conditioning, [{"pitch": 62, "instrument": "flute"}])
    assert row.tolist() == [[1, 0]] and labels_for({}, [{}]) is None
    x, t = torch.randn(3, 1, 64), torch.full((3,), 0.5)
    with torch.no_grad():
        repeated = score_fn_from_net(net, sde, row)(x, t)
        full = score_fn_from_net(net, sde, row.expand(3, -1).clone())(x, t)
        other = score_fn_from_net(net, sde, labels_for(conditioning, [{"pitch": 60, "instrument": "flute"}]))(x, t)
    assert torch.equal(repeated, full) and not torch.allclose(repeated, other)
