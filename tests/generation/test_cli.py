"""sgm-generate end to end on tiny checkpoints trained here (a few steps on random clips)."""

import json
import re

import numpy as np
import pretty_midi
import pytest
import soundfile
import soxr
import torch
from sf2utils.sf2parse import Sf2File

from sgm.audio.wav import write_wav
from sgm.checkpoints.model import build_model
from sgm.generation.cli import main
from sgm.generation.keyboard import repitch
from sgm.kinds import make_layout
from sgm.notes.crepe import analyze
from sgm.notes.metrics import clip_pitch_hz, hz_to_midi
from tests.helpers.reference_settings import fit

RATE = 8000
CLIP = 1024
PITCHES = list(range(60, 73))
CONDITIONING = {"pitch": PITCHES, "instrument": ["flute", "violin"]}
FAST = ["--sampler", "heun", "--steps", "3"]


def tiny_checkpoint(directory, conditioning, clip=CLIP):
    config = {
        "net": "unet1d", "channels": [8, 8], "in_channels": 1, "embed_dim": 16,
        "sde": {"name": "ve", "sigma_min": 0.01, "sigma_max": 10.0},
        "conditioning": conditioning, "precond": {"name": "edm", "sigma_data": 0.5},
    }  # fmt: skip
    torch.manual_seed(0)
    net, sde = build_model(config)
    data = 0.5 * torch.randn(8, 1, clip, generator=torch.Generator().manual_seed(1))
    labels = torch.stack([torch.arange(8) % len(PITCHES), torch.arange(8) % 2], dim=1) if conditioning else None
    fit(net, sde, data, lr=1e-3, batch_size=4, epochs=[1], checkpoint_dir=directory, config=config, labels=labels,
          loss_weighting="edm", compile="off", device="cpu")  # fmt: skip
    return directory / "epoch_001.pt"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    paths = {
        "conditional": tiny_checkpoint(root / "conditional", CONDITIONING),
        "unconditional": tiny_checkpoint(root / "unconditional", {}),
        "layout": root / "layout.json",
        "wav": root / "clip.wav",
        "wav16k": root / "clip16k.wav",
        "midi": root / "tune.mid",
    }
    paths["layout"].write_text(json.dumps(make_layout("waveform1d", CLIP, RATE, scale=2.0).to_dict()))
    t = np.arange(2 * CLIP) / RATE
    write_wav(paths["wav"], 0.4 * np.sin(2 * np.pi * 262 * t[:CLIP]), RATE)
    write_wav(paths["wav16k"], 0.4 * np.sin(2 * np.pi * 330 * np.arange(2 * CLIP) / (2 * RATE)), 2 * RATE)
    midi = pretty_midi.PrettyMIDI()
    flute = pretty_midi.Instrument(program=73)
    flute.notes = [pretty_midi.Note(100, 60, 0.0, 0.2), pretty_midi.Note(80, 64, 0.2, 0.5), pretty_midi.Note(60, 67, 0.25, 0.4)]
    midi.instruments.append(flute)
    midi.write(str(paths["midi"]))
    yield paths
    torch.set_num_threads(threads)


def run(files, *args, checkpoint="conditional"):
    return main([args[0], str(files[checkpoint]), "--layout", str(files["layout"]), *map(str, args[1:])])


def read(path):
    audio, rate = soundfile.read(path, dtype="float32")
    assert rate == RATE
    return audio


def test_notes_are_named_after_the_request_and_repeat_with_a_seed(files, tmp_path):
    for out in ("a", "b"):
        assert run(files, "notes", "--instrument", "flute", "40", "--pitch", "C4", 64, "-n", 2, *FAST, "--seed", 3, "--out", tmp_path / out) == 0
    settings = json.loads((tmp_path / "a" / "settings.json").read_text())
    names = [f"{i}_{p}_{k}.wav" for i in ("flute", "violin") for p in ("C4", "E4") for k in (0, 1)]
    assert settings["files"] == names and settings["nfe"] == 5 and settings["seconds"] > 0
    assert settings["requests"][4] == {"instrument": "violin", "pitch": 60}
    for name in names:
        audio = read(tmp_path / "a" / name)
        assert audio.shape == (CLIP,) and np.array_equal(audio, read(tmp_path / "b" / name))
    assert not np.array_equal(read(tmp_path / "a" / names[0]), read(tmp_path / "a" / names[1]))


def test_guidance_interval_limits_guidance_to_its_noise_levels(files, tmp_path):
    def notes(out, *guidance):
        assert run(files, "notes", "--instrument", "flute", "--pitch", "C4", "-n", 2, *FAST, *guidance, "--out", tmp_path / out) == 0
        return read(tmp_path / out / "flute_C4_0.wav")

    plain, guided = notes("plain"), notes("guided", "--guidance", 3)
    assert not np.array_equal(plain, guided)
    assert np.array_equal(notes("nowhere", "--guidance", 3, "--guidance-interval", 1e4, 2e4), plain)  # above every level
    assert np.array_equal(notes("everywhere", "--guidance", 3, "--guidance-interval", 0, 1e4), guided)
    assert json.loads((tmp_path / "nowhere" / "settings.json").read_text())["guidance_interval"] == [1e4, 2e4]


def test_chromatic_scale_from_the_lowest_trained_pitch(files, tmp_path):
    assert run(files, "notes", "--instrument", "violin", "--scale", "chromatic", *FAST, "--out", tmp_path) == 0
    names = json.loads((tmp_path / "settings.json").read_text())["files"]
    assert names[0] == "violin_C4_0.wav" and names[1] == "violin_Cs4_0.wav" and names[-1] == "violin_C5_0.wav" and len(names) == 13


def test_unconditional_checkpoint_makes_unlabelled_notes(files, tmp_path):
    assert run(files, "notes", "-n", 2, *FAST, "--out", tmp_path, checkpoint="unconditional") == 0
    assert json.loads((tmp_path / "settings.json").read_text())["files"] == ["unconditional_0.wav", "unconditional_1.wav"]


@pytest.mark.parametrize("sampler", ["euler_maruyama", "heun"])
def test_continuation_keeps_the_first_milliseconds(files, tmp_path, sampler, capsys):
    assert run(files, "continue", files["wav16k"], "--keep-ms", 50, "--sampler", sampler, "--steps", 4, "--resample", 1 if sampler == "heun" else 2,
               "--instrument", "flute", "-n", 2, "--out", tmp_path) == 0  # fmt: skip
    assert f"{files['wav16k']} is at 16000 Hz; resampled to the model's 8000 Hz" in capsys.readouterr().err
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["files"] == ["clip16k_keep50ms_0.wav", "clip16k_keep50ms_1.wav"] and settings["nfe"] == (7 if sampler == "heun" else 8)
    kept = round(0.05 * RATE)
    first, second = (read(tmp_path / name) for name in settings["files"])
    source, _ = soundfile.read(files["wav16k"], dtype="float64")
    expected = soxr.resample(source, 2 * RATE, RATE, quality="HQ")[:kept]
    assert np.abs(first[:kept] - expected).max() < 1e-4 and np.array_equal(first[:kept], second[:kept])
    assert not np.allclose(first[kept:], second[kept:], atol=1e-3)


def test_span_regeneration_keeps_both_sides(files, tmp_path):
    assert run(files, "continue", files["wav"], "--span", 20, 60, "--sampler", "euler_maruyama", "--steps", 3, "--out", tmp_path) == 0
    original, filled = read(files["wav"]), read(tmp_path / "clip_span20-60ms_0.wav")
    assert np.array_equal(original[:160], filled[:160]) and np.array_equal(original[480:], filled[480:])
    assert not np.allclose(original[160:480], filled[160:480], atol=1e-2)


def test_variations_and_interpolation(files, tmp_path):
    assert run(files, "vary", files["wav"], "--strength", 0.3, "-n", 2, *FAST, "--pitch", "C4", "--out", tmp_path / "vary") == 0
    assert json.loads((tmp_path / "vary" / "settings.json").read_text())["files"] == ["clip_vary0.3_0.wav", "clip_vary0.3_1.wav"]
    assert run(files, "interpolate", files["wav"], files["wav16k"], "--between", 2, "--rtol", 1e-3, "--out", tmp_path / "inter") == 0
    settings = json.loads((tmp_path / "inter" / "settings.json").read_text())
    assert settings["files"] == [f"clip_to_clip16k_{i:02d}.wav" for i in range(4)] and settings["nfe"] > 0


def test_midi_file_played_with_generated_notes(files, tmp_path):
    assert run(files, "midi", files["midi"], "--instrument", "flute", *FAST, "--out", tmp_path) == 0
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["files"] == ["tune_flute.wav"] and settings["notes"] == 3
    assert len(read(tmp_path / "tune_flute.wav")) == round(0.5 * RATE) + round(0.1 * RATE)  # last note end + release
    assert settings["nfe"] == 3 * 5  # one batch per distinct pitch


def sf2_zones(path):
    with open(path, "rb") as file:
        font = Sf2File(file)
        return [(p.name, p.preset) for p in font.presets[:-1]], [
            [(bag.key_range, bag.velocity_range, bag.base_note) for bag in instrument.bags if bag.sample is not None] for instrument in font.instruments[:-1]
        ]


def test_instrument_maps_a_note_of_every_trained_pitch_per_layer_and_variant(files, tmp_path):
    out = tmp_path / "flute.sf2"
    assert run(files, "instrument", "--instrument", "73", "--velocities", 40, 100, "--variants", 2, *FAST, "--out", out) == 0
    presets, zones = sf2_zones(out)
    assert presets == [("flute 1", 0), ("flute 2", 1)]
    expected = [([p, p], velocities, p) for velocities in ([1, 70], [71, 127]) for p in PITCHES]
    assert [sorted(z, key=lambda zone: (zone[1], zone[2])) for z in zones] == [expected, expected]
    settings = json.loads((tmp_path / "flute.json").read_text())
    assert settings["files"] == ["flute.sf2"] and settings["samples"] == 52 and settings["nfe"] == 2 * 5  # one batch per variant
    assert "52 samples of 0.13 s over keys C4 (60) to C5 (72)" in settings["comment"]
    again = tmp_path / "again.sf2"
    assert run(files, "instrument", "--instrument", "flute", "--velocities", 40, 100, "--variants", 2, *FAST, "--out", again) == 0
    assert again.read_bytes() == out.read_bytes()
    assert run(files, "instrument", "--instrument", "flute", *FAST, "--out", out, "--force") == 0
    assert sf2_zones(out)[0] == [("flute", 0)]


def test_instrument_as_sfz_beside_its_wavs(files, tmp_path):
    assert run(files, "instrument", "--instrument", "violin", "--format", "sfz", "--extend", 2, *FAST, "--out", tmp_path / "violin.sfz") == 0
    regions = [line for line in (tmp_path / "violin.sfz").read_text().splitlines() if line.startswith("<region>")]
    assert len(regions) == 13 and "lokey=58 hikey=60" in regions[0] and "lokey=72 hikey=74" in regions[-1]
    assert sorted(f.name for f in (tmp_path / "violin_samples").iterdir())[:2] == ["060_v127_rr1.wav", "061_v127_rr1.wav"]
    assert json.loads((tmp_path / "violin.json").read_text())["files"] == ["violin.sfz", "violin_samples/"]


def test_keyboard_from_one_note_detects_its_pitch(files, tmp_path, capsys):
    out = tmp_path / "mine.sf2"
    assert run(files, "keyboard", files["wav"], "--strength", 0.3, *FAST, "--out", out) == 0
    assert f"note: {files['wav']} sounds at C4 (MIDI 60)" in capsys.readouterr().err  # a 262 Hz sine
    settings = json.loads((tmp_path / "mine.json").read_text())
    assert settings["reference_pitch"] == 60 and settings["samples"] == 13 and settings["nfe"] == 5
    presets, zones = sf2_zones(out)
    assert presets == [("clip", 0)] and [zone[2] for zone in zones[0]] == PITCHES
    assert run(files, "keyboard", files["wav"], "--pitch", "D4", "--instrument", "flute", "--strength", 0.3, *FAST, "--out", tmp_path / "d.sf2") == 0
    assert json.loads((tmp_path / "d.json").read_text())["reference_pitch"] == 62


def test_repitching_moves_the_pitch_by_the_interval():
    t = np.arange(8192) / 16000
    note = 0.5 * np.sin(2 * np.pi * 440 * t)
    for semitones in (-7, 3, 12):
        moved = repitch(note, semitones, 16000)
        heard = hz_to_midi(clip_pitch_hz(analyze(torch.from_numpy(moved[:4000].copy())[None], 16000), 0.5))
        assert abs(float(heard[0]) - (69 + semitones)) < 0.2 and len(moved) == len(note)


@pytest.mark.parametrize(
    "args, checkpoint, message",
    [
        (["notes", "--instrument", "tuba"], "conditional", "unknown instrument 'tuba'; the checkpoint knows instruments: flute, violin"),
        (["notes", "--pitch", "C4", "A6"], "conditional", r"pitch A6 \(MIDI 93\) is outside what the checkpoint was trained on: C4 \(60\) to C5 \(72\)"),
        (["notes", "--pitch", "G4"], "unconditional", "this checkpoint is unconditional: it takes no pitch labels"),
        (["notes", "--scale", "major", "--pitch", "G4"], "conditional", r"pitch D5 \(MIDI 74\) is outside"),
        (["notes", "--sampler", "probability_flow_ode", "--steps", "4"], "conditional", "--steps applies to euler_maruyama, predictor_corrector, heun"),
        (["continue", "WAV", "--keep-ms", "500"], "conditional", "mask outside the clip: --keep-ms 500 must lie strictly between 0 and the clip's 128.0 ms"),
        (["continue", "WAV", "--span", "100", "200"], "conditional", r"mask outside the clip: --span 100 200 must satisfy 0 <= start < end <= 128.0 ms"),
        (["continue", "WAV", "--keep-ms", "50", "--resample", "2"], "conditional", "resample > 1 needs a stochastic sampler"),
        (["vary", "MISSING", "--strength", "0.5"], "conditional", "audio file .*missing.wav does not exist"),
        (["vary", "WAV", "--strength", "2"], "conditional", r"strength must lie in \(0.001, 1\]"),
        (["midi", "BADMIDI"], "conditional", "MIDI file .*bad.mid does not parse"),
        (["midi", "MIDI", "--transpose", "12"], "conditional", "has pitches E5, G5 outside the trained range C4-C5: pass --transpose"),
        (["midi", "MIDI"], "unconditional", "this checkpoint is unconditional: it takes no pitch labels"),
        (["notes", "--layout", "LAYOUT404"], "conditional", "layout file .*nowhere.json does not exist"),
        (["notes", "--params", "PARAMS404"], "conditional", r"params file .*none.yaml does not exist; .* \(pass --params FILE\)"),
        (["notes", "--params", "NOPLAY"], "conditional", "params file .*noplay.yaml has no play section"),
        (["vary", "WAV", "-n", "0"], "conditional", "error: -n must be at least 1, got 0"),
        (["notes", "--guidance", "1", "--guidance-interval", "2", "1"], "conditional", r"guidance_interval must be \(low, high\) noise levels with 0 <= low < high, got \[2.0, 1.0\]"),
        (["notes", "--steps", "0"], "conditional", r"heun needs steps >= 2 \(noise levels from sigma\(T\) to sigma\(eps\)\), got 0"),
        (["instrument", "--instrument", "tuba", "--out", "SF2"], "conditional", "unknown instrument 'tuba'; the checkpoint knows instruments: flute, violin"),
        (["instrument", "--out", "SF2"], "unconditional", "this checkpoint is not conditioned on pitch: an instrument needs a note at every key"),
        (["instrument", "--velocities", "0", "--out", "SF2"], "conditional", r"velocities must be distinct integers in 1..127, got \[0\]"),
        (["instrument", "--pitch", "C4", "--out", "SF2"], "conditional", "instrument takes its pitches from the checkpoint, not from --pitch"),
        (["instrument", "--out", "EXISTING"], "conditional", "existing.sf2 exists; pass --force to overwrite it"),
        (["instrument", "--format", "sfz", "--out", "SF2"], "conditional", "--out .*out.sf2 must end in .sfz for --format sfz"),
        (["keyboard", "WAV", "--out", "SF2"], "unconditional", "a keyboard needs a pitch-conditional checkpoint: this one takes no pitch labels"),
        (["keyboard", "SILENT", "--out", "SF2"], "conditional", r"audio file .*silent.wav: silent \(all zeros; needs a peak above -90 dBFS\)"),
        (["keyboard", "SHORT", "--out", "SF2"], "conditional", r"reference .*short.wav is too short: 0.050 s, at least 0.1 s needed"),
        (["keyboard", "NOISE", "--out", "SF2"], "conditional", r"reference .*noise.wav has no detectable pitch \(CREPE periodicity below 0.5\); pass --pitch"),
    ],
)
def test_bad_input_stops_with_one_line(files, tmp_path, capsys, args, checkpoint, message):
    bad_midi = tmp_path / "bad.mid"
    bad_midi.write_bytes(b"MThd\x00\x00")
    (tmp_path / "existing.sf2").write_bytes(b"mine")
    write_wav(tmp_path / "silent.wav", np.zeros(CLIP), RATE)
    write_wav(tmp_path / "short.wav", 0.4 * np.sin(2 * np.pi * 262 * np.arange(400) / RATE), RATE)
    write_wav(tmp_path / "noise.wav", 0.3 * np.random.default_rng(0).uniform(-1, 1, CLIP), RATE)
    (tmp_path / "noplay.yaml").write_text("sample: {samplers: [heun]}\n")
    swap = {"WAV": files["wav"], "MISSING": tmp_path / "missing.wav", "BADMIDI": bad_midi, "MIDI": files["midi"],
            "LAYOUT404": tmp_path / "nowhere.json", "PARAMS404": tmp_path / "none.yaml", "NOPLAY": tmp_path / "noplay.yaml",
            "SF2": tmp_path / "out.sf2", "EXISTING": tmp_path / "existing.sf2", "SILENT": tmp_path / "silent.wav",
            "SHORT": tmp_path / "short.wav", "NOISE": tmp_path / "noise.wav"}  # fmt: skip
    args = [str(swap.get(a, a)) for a in args]
    out = [] if "--out" in args else ["--out", tmp_path / "out"]
    assert run(files, args[0], *args[1:], *out, checkpoint=checkpoint) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sgm-generate: error: ") and "\n" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "out" / "settings.json").exists() and not (tmp_path / "out.sf2").exists() and not (tmp_path / "out.json").exists()
    assert (tmp_path / "existing.sf2").read_bytes() == b"mine"
