"""Listening examples from one grid point's last checkpoint: python -m stages.play.

Writes play/ (WAVs, a spectrogram PNG for each, melody.mid and index.json for the report) and
results/play.json (NFE and seconds of each example, and the pitch metrics of the scale):
- a scale (params play.scale, one octave up from the lowest trained pitch), one note per pitch;
- a continuation of test clip play.clip (its first play.keep_ms kept, the rest generated);
- a variation of it (SDEdit at play.strength);
- an interpolation from it to the first test clip of another pitch (probability-flow ODE);
- play.melody played with generated notes (written to melody.mid and read back).
A model without pitch labels makes unlabelled notes instead of the scale, and no melody.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time

import numpy as np
import torch

from sgm.audio_io import write_wav
from sgm.embeddings import analyze
from sgm.generate import labels_for, request_name, requests_for, sample, scale_pitches, score_for
from sgm.inpaint import inpaint, keep_mask
from sgm.interpolate import interpolate
from sgm.layouts import layout_from_dict
from sgm.metrics import pitch_accuracy, pitchedness, spectral_flatness
from sgm.midi_render import parse_melody, read_midi, render, write_midi
from sgm.plots import clip_figure, sampler_sheet, save_png
from sgm.train import load_for_inference
from sgm.variation import vary
from stages.common import PLAY_DIR, RESULTS_DIR, TENSORS_DIR, StageError, atomic_dir, checkpoint_file, run_stage, train_dir, write_json
from stages.config import load_params

METRICS_FILE = RESULTS_DIR / "play.json"
UNLABELLED_NOTES = 8
AUDIO_LAYOUTS = ("waveform1d", "waveform2d", "stft")


class Player:
    """The model, its labels and the output folder; `run` times each generation and counts its NFE."""

    def __init__(self, params, out):
        settings = params.play
        path = checkpoint_file(train_dir(settings.point), params.train.epochs[-1])
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.net, self.sde, self.conditioning = load_for_inference(path, device=self.device)
        self.layout = layout_from_dict(json.loads((TENSORS_DIR / "layout.json").read_text()))
        self.settings, self.seed, self.out = settings, params.seed, out
        self.instruments = [settings.instrument or self.conditioning["instrument"][0]] if "instrument" in self.conditioning else []
        self.cost, self.index = {}, []

    def generator(self):
        return torch.Generator(self.device).manual_seed(self.seed)

    def run(self, name, fn, *args, **kwargs):
        """fn(...) -> (x, nfe); returns x and adds its NFE and seconds to cost[name]."""
        start = time.perf_counter()
        x, nfe = fn(*args, **kwargs)
        cost = self.cost.setdefault(name, {"nfe": 0, "seconds": 0.0})
        cost["nfe"] += nfe
        cost["seconds"] += time.perf_counter() - start
        return x

    def notes(self, requests):
        labels = labels_for(self.conditioning, requests, self.device)
        shape = (len(requests), *self.layout.shape)
        settings = {"steps": self.settings.steps}
        return sample(
            self.net, self.sde, shape, self.settings.sampler, settings, labels, self.settings.guidance, self.generator(), self.device,
            guidance_interval=self.settings.guidance_interval,
        )  # fmt: skip

    def audio(self, x):
        return self.layout.to_audio(x.float().cpu()).numpy()

    def save(self, name, audio, title):
        """A WAV and its spectrogram PNG; returns the clip entry of index.json."""
        write_wav(self.out / f"{name}.wav", np.clip(audio, -1, 1), self.layout.sample_rate)
        save_png(clip_figure(audio, self.layout.sample_rate, title), self.out / f"{name}.png")
        return {"caption": title, "wav": f"{name}.wav", "png": f"{name}.png"}

    def item(self, title, text, clips, figures=()):
        self.index.append({"title": title, "text": text, "clips": list(clips), "figures": list(figures)})


def scale(player: Player, params) -> dict:
    """The scale (or unlabelled notes); returns its metrics."""
    known = sorted(player.conditioning.get("pitch", []))
    if known:
        pitches = [p for p in scale_pitches(params.play.scale, known[0]) if p in known]
        requests = requests_for(player.conditioning, player.instruments, pitches)
        text = f"{params.play.scale} scale from {request_name({'pitch': known[0]})}, one note per pitch"
    else:
        requests = requests_for(player.conditioning, player.instruments, n=UNLABELLED_NOTES)
        text = f"the model is not conditioned on pitch: {UNLABELLED_NOTES} unlabelled notes instead of a scale"
    clips = player.audio(player.run("scale", player.notes, requests))
    for i, (request, clip) in enumerate(zip(requests, clips)):
        write_wav(player.out / f"scale_{i:02d}_{request_name(request)}.wav", clip.clip(-1, 1), player.layout.sample_rate)
    joined = player.save("scale", np.concatenate(list(clips)), f"scale: {text}")
    player.item("Scale", text, [joined])
    analysis = analyze(torch.from_numpy(clips), player.layout.sample_rate, params.evaluate.crepe_model)
    threshold = params.evaluate.periodicity_threshold
    audio = torch.from_numpy(clips)
    metrics = {
        "pitchedness": pitchedness(analysis, threshold),
        "spectral_flatness": spectral_flatness(audio),
        "spectral_flatness_in_band": spectral_flatness(audio, player.layout.sample_rate, params.preprocess.lowpass_hz),
    }
    if known:
        metrics["pitch_accuracy"] = pitch_accuracy(analysis, threshold, torch.tensor([r["pitch"] for r in requests], dtype=torch.float32))
        metrics["asked"] = [r["pitch"] for r in requests]
    return metrics


def test_clips(player: Player, params):
    """The test clip play.clip, the first test clip of another pitch, and a label row of the first one's pitch."""
    test = torch.load(TENSORS_DIR / "test.pt", weights_only=True)
    first = params.play.clip
    if first >= len(test["x"]):
        raise StageError(f"play.clip={first} but the test set has {len(test['x'])} clips")
    others = [i for i in range(len(test["x"])) if test["pitch"][i] != test["pitch"][first]]
    second = others[0] if others else (first + 1) % len(test["x"])
    pitch = int(test["pitch"][first])
    request = {"pitch": pitch} if pitch in player.conditioning.get("pitch", []) else {}
    return test["x"][first : first + 1].to(player.device), test["x"][second].to(player.device), labels_for(player.conditioning, [request], player.device)


def edits(player: Player, params, clips) -> None:
    """Continuation, variation and interpolation of a test clip, given test_clips(...)."""
    settings = params.play
    x, other, labels = clips
    score = score_for(player.net, player.sde, labels, settings.guidance, settings.guidance_interval)
    source = player.save("source", player.audio(x)[0], f"test clip {settings.clip}")

    at = np.arange(player.layout.clip_samples) * 1000 / player.layout.sample_rate
    keep = keep_mask(player.layout, torch.from_numpy(at < settings.keep_ms)).to(player.device)
    inpainting = settings.inpaint
    resample = {"resample": inpainting.resample} if inpainting.sampler in ("euler_maruyama", "predictor_corrector") else {}
    steps = {"steps": inpainting.steps} if inpainting.sampler != "probability_flow_ode" else {}
    continued = player.run("continuation", inpaint, score, player.sde, x, keep, inpainting.sampler, generator=player.generator(), **steps, **resample)
    text = f"the first {settings.keep_ms:g} ms kept, the rest generated ({inpainting.sampler}, {inpainting.steps} steps, resample {inpainting.resample})"
    player.item("Continuation", text, [source, player.save("continuation", player.audio(continued)[0], f"continuation: {text}")])

    varied = player.run("variation", vary, score, player.sde, x, settings.strength, settings.sampler, generator=player.generator(), steps=settings.steps)
    text = f"noised up to t = {settings.strength:g} T and denoised (SDEdit, {settings.sampler})"
    player.item("Variation", text, [source, player.save("variation", player.audio(varied)[0], f"variation: {text}")])

    path = player.run("interpolation", interpolate, score, player.sde, x[0], other, settings.between, **settings.ode.model_dump())
    clips = player.audio(path)
    joined = player.save("interpolation", np.concatenate(list(clips)), "interpolation, end to end")
    sheet = save_png(sampler_sheet({"interpolation": clips}, player.layout.sample_rate, columns=len(clips)), player.out / "interpolation_sheet.png")
    text = f"{settings.between} clips between test clip {settings.clip} and a test clip of another pitch, spherical in the ODE's latent space"
    player.item("Interpolation", text, [joined], [{"png": sheet.name, "caption": "spectrograms along the path"}])


def melody_notes(player: Player, params):
    """play.melody, moved by whole octaves into the trained range and checked; None for a model without pitch labels."""
    known = sorted(player.conditioning.get("pitch", []))
    if not known:
        return None
    notes = parse_melody(params.play.melody, params.play.beat_seconds)
    shift = 12 * max(0, math.ceil((known[0] - min(n.pitch for n in notes)) / 12))
    notes = [dataclasses.replace(n, pitch=n.pitch + shift) for n in notes]
    requests_for(player.conditioning, player.instruments, sorted({n.pitch for n in notes}))  # refuses notes above the range
    return notes


def melody(player: Player, notes) -> None:
    """The melody written to melody.mid, read back and played with generated notes."""
    if notes is None:
        player.item("Melody", "the model is not conditioned on pitch, so it cannot play a melody", [])
        return
    write_midi(notes, player.out / "melody.mid")
    notes = read_midi(player.out / "melody.mid")

    def clips_for(pitch, count):
        return player.audio(player.run("melody", player.notes, requests_for(player.conditioning, player.instruments, [pitch], count)))

    audio = render(notes, clips_for, player.layout.sample_rate, player.layout.clip_samples)
    instrument = f" on {player.instruments[0]}" if player.instruments else ""
    text = f"{len(notes)} notes of melody.mid{instrument}; long notes are crossfaded clips under an ADSR envelope"
    player.item("Melody", text, [player.save("melody", audio, "melody")])


def main() -> None:
    params = load_params()
    if params.play is None:
        raise StageError("params.yaml has no play section")
    with atomic_dir(PLAY_DIR) as out:
        try:
            player = Player(params, out)
            if player.layout.name not in AUDIO_LAYOUTS:
                player.item("Play", f"no examples: layout {player.layout.name!r} does not hold single-note clips", [])
                finish(out, params, player, {})
                return
            notes, clips = melody_notes(player, params), test_clips(player, params)
            scale_metrics = scale(player, params)
            edits(player, params, clips)
            melody(player, notes)
        except ValueError as err:
            raise StageError(f"play: {err}") from None
        metrics = {name: dict(cost) for name, cost in player.cost.items()}
        metrics["scale"].update(scale_metrics)
        finish(out, params, player, metrics)


def finish(out, params, player: Player, metrics: dict) -> None:
    index = {"point": params.play.point, "epoch": params.train.epochs[-1], "items": player.index}
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    write_json(METRICS_FILE, metrics)


if __name__ == "__main__":
    run_stage(main)
