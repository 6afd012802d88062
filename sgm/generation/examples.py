"""Listening examples of a checkpoint: a scale, a continuation, a variation, an interpolation, a melody, an instrument.

Each example is written as WAVs with a spectrogram PNG each into one folder, and described by an
item (title, text, clips, figures) for the report:
- a scale (play.scale, one octave up from the lowest trained pitch), one note per pitch;
- a continuation of test clip play.clip (its first play.keep_ms kept, the rest generated);
- a variation of it (SDEdit at play.strength);
- an interpolation from it to the first test clip of another pitch (probability-flow ODE);
- play.melody played with generated notes (written to melody.mid and read back);
- instrument.sf2, a SoundFont of a generated note at every trained pitch (sgm.generation.instrument),
  with the melody played through it by tinysoundfont, and the pitch accuracy of every trained
  pitch played through it.
A model without pitch labels makes unlabelled notes instead of the scale, and no melody or instrument. Every
sampler takes its settings from params' `sample` section, with the play section's steps.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch

from sgm.audio.soundfont import SoundFont
from sgm.audio.wav import write_wav
from sgm.generation.inpainting import inpaint
from sgm.generation.instrument import generate_notes, make_instrument
from sgm.generation.interpolation import interpolate
from sgm.generation.midi import parse_melody, read_midi, render, write_midi
from sgm.generation.requests import request_name, requests_for, scale_pitches
from sgm.generation.session import Session
from sgm.generation.variation import vary
from sgm.instruments.sf2 import write_sf2
from sgm.kinds.figures import save_png
from sgm.notes.crepe import analyze
from sgm.notes.figures import clip_figure, sampler_sheet
from sgm.notes.metrics import pitch_accuracy, pitchedness, spectral_flatness

UNLABELLED_NOTES = 8
KEY_TEST_SECONDS = 0.3  # each trained pitch held this long through instrument.sf2, then as long silent


class Examples:
    """The session, the play settings and the output folder; collects the report's items."""

    def __init__(self, session: Session, params, out: Path):
        self.session, self.params, self.settings, self.out = session, params, params.play, out
        conditioning = session.conditioning
        self.instruments = [self.settings.instrument or conditioning["instrument"][0]] if "instrument" in conditioning else []
        self.items: list[dict] = []

    def sampler_settings(self, sampler: str, steps: int | None) -> dict:
        """The `sample` section's settings of `sampler`, with `steps` where it takes steps."""
        settings = self.params.sample.settings(sampler)
        return settings if steps is None else {**settings, "steps": steps}

    def notes(self, name: str, requests: list[dict], generator=None) -> np.ndarray:
        settings = self.settings
        x = self.session.notes(
            name, requests, settings.sampler, self.sampler_settings(settings.sampler, settings.steps),
            settings.guidance, settings.guidance_interval, generator or self.session.generator(),
        )  # fmt: skip
        return self.session.audio(x)

    def save(self, name: str, audio: np.ndarray, title: str) -> dict:
        """A WAV and its spectrogram PNG; returns the clip entry of the item."""
        rate = self.session.layout.sample_rate
        write_wav(self.out / f"{name}.wav", np.clip(audio, -1, 1), rate)
        save_png(clip_figure(audio, rate, title), self.out / f"{name}.png")
        return {"caption": title, "wav": f"{name}.wav", "png": f"{name}.png"}

    def item(self, title: str, text: str, clips, figures=(), downloads=()) -> None:
        self.items.append({"title": title, "text": text, "clips": list(clips), "figures": list(figures), "downloads": list(downloads)})


def scale(examples: Examples) -> dict:
    """The scale (or unlabelled notes); returns its metrics."""
    session, params = examples.session, examples.params
    known = sorted(session.conditioning.get("pitch", []))
    if known:
        pitches = [p for p in scale_pitches(params.play.scale, known[0]) if p in known]
        requests = requests_for(session.conditioning, examples.instruments, pitches)
        text = f"{params.play.scale} scale from {request_name({'pitch': known[0]})}, one note per pitch"
    else:
        requests = requests_for(session.conditioning, examples.instruments, n=UNLABELLED_NOTES)
        text = f"the model is not conditioned on pitch: {UNLABELLED_NOTES} unlabelled notes instead of a scale"
    clips = examples.notes("scale", requests)
    rate = session.layout.sample_rate
    for i, (request, clip) in enumerate(zip(requests, clips)):
        write_wav(examples.out / f"scale_{i:02d}_{request_name(request)}.wav", clip.clip(-1, 1), rate)
    joined = examples.save("scale", np.concatenate(list(clips)), f"scale: {text}")
    examples.item("Scale", text, [joined])
    analysis = analyze(torch.from_numpy(clips), rate, params.evaluate.crepe_model)
    threshold = params.evaluate.periodicity_threshold
    audio = torch.from_numpy(clips)
    metrics = {
        "pitchedness": pitchedness(analysis, threshold),
        "spectral_flatness": spectral_flatness(audio),
        "spectral_flatness_in_band": spectral_flatness(audio, rate, params.preprocess.lowpass_hz),
    }
    if known:
        metrics["pitch_accuracy"] = pitch_accuracy(analysis, threshold, torch.tensor([r["pitch"] for r in requests], dtype=torch.float32))
        metrics["asked"] = [r["pitch"] for r in requests]
    return metrics


def test_clips(examples: Examples, test: dict):
    """Test clip play.clip, the first test clip of another pitch, and a label row of the first one's pitch."""
    session, first = examples.session, examples.settings.clip
    if first >= len(test["x"]):
        raise ValueError(f"play.clip={first} but the test set has {len(test['x'])} clips")
    others = [i for i in range(len(test["x"])) if test["pitch"][i] != test["pitch"][first]]
    second = others[0] if others else (first + 1) % len(test["x"])
    pitch = int(test["pitch"][first])
    request = {"pitch": pitch} if pitch in session.conditioning.get("pitch", []) else {}
    return test["x"][first : first + 1].to(session.device), test["x"][second].to(session.device), session.labels([request])


def edits(examples: Examples, clips) -> None:
    """Continuation, variation and interpolation of a test clip, given test_clips(...)."""
    session, settings = examples.session, examples.settings
    x, other, labels = clips
    score = session.score(labels, settings.guidance, settings.guidance_interval)
    source = examples.save("source", session.audio(x)[0], f"test clip {settings.clip}")

    layout = session.layout
    at = np.arange(layout.clip_samples) * 1000 / layout.sample_rate
    keep = layout.keep_mask(torch.from_numpy(at < settings.keep_ms)).to(session.device)
    inpainting = settings.inpaint
    steps = None if inpainting.sampler == "probability_flow_ode" else inpainting.steps
    resample = inpainting.resample if inpainting.sampler in ("euler_maruyama", "predictor_corrector") else 1
    continued = session.run(
        "continuation", inpaint, score, session.sde, x, keep, inpainting.sampler, examples.sampler_settings(inpainting.sampler, steps),
        resample=resample, generator=session.generator(),
    )  # fmt: skip
    text = f"the first {settings.keep_ms:g} ms kept, the rest generated ({inpainting.sampler}, {inpainting.steps} steps, resample {inpainting.resample})"
    examples.item("Continuation", text, [source, examples.save("continuation", session.audio(continued)[0], f"continuation: {text}")])

    varied = session.run(
        "variation", vary, score, session.sde, x, settings.strength, settings.sampler, examples.sampler_settings(settings.sampler, settings.steps),
        generator=session.generator(),
    )  # fmt: skip
    text = f"noised up to t = {settings.strength:g} T and denoised (SDEdit, {settings.sampler})"
    examples.item("Variation", text, [source, examples.save("variation", session.audio(varied)[0], f"variation: {text}")])

    ode = {**settings.ode.model_dump(), "eps": examples.params.sample.probability_flow_ode.eps}
    path = session.run("interpolation", interpolate, score, session.sde, x[0], other, settings.between, **ode)
    clips = session.audio(path)
    joined = examples.save("interpolation", np.concatenate(list(clips)), "interpolation, end to end")
    sheet = save_png(sampler_sheet({"interpolation": clips}, layout.sample_rate, columns=len(clips)), examples.out / "interpolation_sheet.png")
    text = f"{settings.between} clips between test clip {settings.clip} and a test clip of another pitch, spherical in the ODE's latent space"
    examples.item("Interpolation", text, [joined], [{"png": sheet.name, "caption": "spectrograms along the path"}])


def melody_notes(examples: Examples):
    """play.melody, moved up by whole octaves to the lowest trained pitch and checked; None for a model without pitch labels."""
    session, settings = examples.session, examples.settings
    known = sorted(session.conditioning.get("pitch", []))
    if not known:
        return None
    notes = parse_melody(settings.melody, settings.beat_seconds)
    shift = 12 * max(0, math.ceil((known[0] - min(n.pitch for n in notes)) / 12))
    notes = [dataclasses.replace(n, pitch=n.pitch + shift) for n in notes]
    requests_for(session.conditioning, examples.instruments, sorted({n.pitch for n in notes}))  # refuses notes above the range
    return notes


def melody(examples: Examples, notes) -> None:
    """The melody written to melody.mid, read back and played with generated notes."""
    if notes is None:
        examples.item("Melody", "the model is not conditioned on pitch, so it cannot play a melody", [])
        return
    write_midi(notes, examples.out / "melody.mid")
    notes = read_midi(examples.out / "melody.mid")
    session = examples.session

    def clips_for(pitch, count):
        return examples.notes("melody", requests_for(session.conditioning, examples.instruments, [pitch], count))

    audio = render(notes, clips_for, session.layout.sample_rate, session.layout.clip_samples)
    instrument = f" on {examples.instruments[0]}" if examples.instruments else ""
    text = f"{len(notes)} notes of melody.mid{instrument}; long notes are crossfaded clips under an ADSR envelope"
    examples.item("Melody", text, [examples.save("melody", audio, "melody")])


def instrument(examples: Examples, notes) -> dict:
    """instrument.sf2 and the melody played through it; returns its metrics (keys, looped samples, pitch accuracy through it)."""
    session, out = examples.session, examples.out
    if notes is None:
        examples.item("Instrument", "the model is not conditioned on pitch, so it cannot make an instrument", [])
        return {}
    label = examples.instruments[0] if examples.instruments else None
    made = generate_notes(session.conditioning, label, [127], 1, lambda requests, generator: examples.notes("instrument", requests, generator), session.generator)
    params = examples.params
    sf2 = make_instrument(label or "model", session.layout.sample_rate, made, f"made by the play stage from grid point {params.play.point}, epoch {params.train.epochs[-1]}")
    write_sf2(sf2, out / "instrument.sf2")
    font = SoundFont(out / "instrument.sf2", sf2.sample_rate)
    end = max(n.end for n in notes) + sf2.envelope.release
    played = font.render_notes(0, [(n.pitch, n.start, n.end, n.velocity) for n in notes], round(end * sf2.sample_rate)).mean(0)
    download = {"file": "instrument.sf2", "caption": f"instrument.sf2 (SoundFont 2, {(out / 'instrument.sf2').stat().st_size / 1e6:.1f} MB)"}
    text = f"instrument.sf2: {sf2.comment} The melody played through it by tinysoundfont."
    examples.item("Instrument", text, [examples.save("instrument_melody", played, "melody through instrument.sf2")], downloads=[download])
    pitches = sorted(session.conditioning["pitch"])
    accuracy = keys_pitch_accuracy(font, pitches, params.evaluate.crepe_model, params.evaluate.periodicity_threshold)
    return {"keys": len(pitches), "looped": sum(region.loop is not None for region in sf2.regions), "pitch_accuracy": accuracy}


def keys_pitch_accuracy(font: SoundFont, pitches: list[int], crepe_model: str, threshold: float) -> float:
    """Share of `pitches` that sound at their pitch when each is held KEY_TEST_SECONDS through `font`'s program 0."""
    held = round(KEY_TEST_SECONDS * font.sample_rate)
    notes = [(p, 2 * i * KEY_TEST_SECONDS, (2 * i + 1) * KEY_TEST_SECONDS, 100) for i, p in enumerate(pitches)]
    audio = font.render_notes(0, notes, 2 * held * len(pitches)).mean(0)
    keys = torch.from_numpy(np.stack([audio[2 * i * held : (2 * i + 1) * held] for i in range(len(pitches))]))
    return pitch_accuracy(analyze(keys, font.sample_rate, crepe_model), threshold, torch.tensor(pitches, dtype=torch.float32))


def play(session: Session, params, test: dict, out: Path) -> tuple[list[dict], dict]:
    """Every example into `out`; returns the report's items and the metrics (NFE and seconds of each, the scale's pitch numbers)."""
    examples = Examples(session, params, out)
    notes, clips = melody_notes(examples), test_clips(examples, test)
    scale_metrics = scale(examples)
    edits(examples, clips)
    melody(examples, notes)
    instrument_metrics = instrument(examples, notes)
    metrics = {name: dict(cost) for name, cost in session.cost.items()}
    metrics["scale"].update(scale_metrics)
    if instrument_metrics:
        metrics["instrument"].update(instrument_metrics)
    return examples.items, metrics
