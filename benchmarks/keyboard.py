"""A keyboard from one real note: the model's (sgm-generate keyboard) against repitching, key by key.

For each instrument of the data, one real note (a test clip at --reference, else the nearest
test clip's pitch) is made into every other trained pitch two ways: repitched by resampling, as a
SoundFont player plays one sample across the keys, and by the model (SDEdit of the repitched note
with the target pitch's label, at each --strength, once without the instrument label, so that
the timbre has to come from the note, and once with it). Each result is compared with the real note of that instrument
at that pitch (data/clean): the distance of their spectral envelopes (mel-cepstral coefficients
1-19, averaged over frames; lower is closer) and the timbre classifier's vote (fitted on the
training split, as the evaluate stage's judge). Prints and writes the table by distance in
semitones.

Run in a project whose last run trained an instrument-conditional model (e.g. the cpu-notes preset):
    python -m benchmarks.keyboard --out keyboard.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import torch
import yaml

from sgm.generation.keyboard import model_keyboard, repitched_keyboard
from sgm.generation.session import Session
from sgm.kinds.naming import instrument_names
from sgm.notes.clips import read_clip_set
from sgm.notes.timbre_classifier import InstrumentClassifier
from stages.common.params import PARAMS_FILE
from stages.common.paths import CLEAN_DIR, checkpoint_file, read_label_names, read_layout, read_split, train_dir

BINS = [(1, 3), (4, 6), (7, 12), (13, 36)]


def envelope(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mean mel-cepstral coefficients 1-19 of each clip (N, L): the spectral envelope, pitch aside."""
    mfcc = librosa.feature.mfcc(y=np.asarray(audio, dtype=np.float32), sr=rate, n_mfcc=20, n_mels=64, fmax=10000)
    return mfcc[:, 1:, :].mean(axis=-1)


def real_notes(layout) -> dict[tuple[str, int], np.ndarray]:
    """{(instrument, pitch): the first clean clip of that note}, read from data/clean as tensorize reads it."""
    clean = read_clip_set(CLEAN_DIR, layout.clip_samples, layout.sample_rate)
    names = instrument_names(clean.label_names)
    labels = clean.labels
    return {
        (names(program), pitch): audio
        for audio, program, pitch, clip in zip(clean.data.numpy(), labels["program"].tolist(), labels["pitch"].tolist(), labels["clip"].tolist())
        if clip == 0
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--point", help="grid point (default: params' play.point)")
    parser.add_argument("--reference", type=int, default=69, help="MIDI pitch of each instrument's reference note")
    parser.add_argument("--strength", type=float, nargs="+", default=[0.3, 0.5])
    parser.add_argument("--out", default="keyboard.json")
    args = parser.parse_args()
    params = yaml.safe_load(PARAMS_FILE.read_text())
    point, epoch = args.point or params["play"]["point"], params["train"]["epochs"][-1]
    layout = read_layout(params["kind"])
    session = Session(checkpoint_file(train_dir(point), epoch), layout, params["seed"])
    rate, pitches = layout.sample_rate, sorted(session.conditioning["pitch"])
    play, sample = params["play"], params["sample"]
    settings = {**sample[play["sampler"]], "steps": play["steps"]}

    train = read_split("train")
    names = instrument_names(read_label_names())
    judge = InstrumentClassifier.fit(layout.to_audio(train["x"]), [names(p) for p in train["program"].tolist()], rate)
    real = real_notes(layout)
    rows = []
    for instrument in sorted({name for name, _ in real}):
        reference = min((p for i, p in real if i == instrument), key=lambda p: abs(p - args.reference))
        targets = [p for p in pitches if p != reference and (instrument, p) in real]
        truth = np.stack([real[instrument, p] for p in targets])
        reference_note = real[instrument, reference]
        candidates = {"repitch": repitched_keyboard(reference_note, reference, targets, rate)}
        for strength in args.strength:
            for labelled in (False, True):
                requests = [{"pitch": p, **({"instrument": instrument} if labelled else {})} for p in targets]
                name = f"model {strength:g}{' + label' if labelled else ''}"
                candidates[name] = model_keyboard(session, reference_note, reference, requests, strength, play["sampler"], settings, play["guidance"], play["guidance_interval"])
        print(f"{instrument}: reference {reference}, {len(targets)} other pitches, {len(candidates)} ways", flush=True)
        target_envelope = envelope(truth, rate)
        for method, audio in candidates.items():
            distance = np.linalg.norm(envelope(audio, rate) - target_envelope, axis=1)
            votes = judge.predict(torch.from_numpy(audio)) == instrument
            rows += [{"instrument": instrument, "method": method, "semitones": abs(p - reference), "envelope_distance": float(d), "classifier_vote": bool(v)}
                     for p, d, v in zip(targets, distance, votes)]  # fmt: skip
    table = pd.DataFrame(rows)
    table["distance"] = pd.cut(table["semitones"], [b[0] - 0.5 for b in BINS] + [BINS[-1][1] + 0.5], labels=[f"{a}-{b}" for a, b in BINS])
    summary = table.groupby(["distance", "method"], observed=True)[["envelope_distance", "classifier_vote"]].mean().unstack("method")
    by_instrument = table.groupby(["instrument", "method"])[["envelope_distance", "classifier_vote"]].mean().unstack("method")
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string(), "\n")
    print(by_instrument.round(3).to_string())
    Path(args.out).write_text(json.dumps({"rows": rows, "cost": session.cost, "strengths": args.strength, "reference": args.reference}, indent=1))


if __name__ == "__main__":
    main()
