"""Turn the clean clips into model tensors, split by note: python -m stages.tensorize.

Reads data/clean (mono WAVs listed in notes.csv, or images.pt from the idx source) and writes
data/tensors/{train.pt, test.pt, layout.json, metrics.json}. The layout's scale is fitted on the
training split only, so nothing about the test clips leaks into the model's units. Audio layouts
also record the band the preprocess low-pass left (`band_hz`, where it reaches -60 dB), so that
audio made from model tensors is limited to the same band.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import soundfile
import torch

from sgm.dsp import stopband_hz
from sgm.layouts import LAYOUTS, Layout, make_layout
from sgm.sde import max_pairwise_distance
from sgm.splits import split_by_group
from stages import melody_data
from stages.common import CLEAN_DIR, TENSORS_DIR, StageError, atomic_dir, run_stage, write_json
from stages.config import load_params

LABEL_COLUMNS = ("pitch", "program", "note_id", "clip")
IMAGES_FILE = "images.pt"
NOTES_FILE = "notes.csv"
MAX_LISTED = 20


def read_clips(table: pd.DataFrame, clip_samples: int, sample_rate: int) -> np.ndarray:
    """All clips of `table.file` as one float32 (N, clip_samples) array; StageError lists every bad file."""
    audio = np.empty((len(table), clip_samples), dtype=np.float32)
    problems = []
    for i, name in enumerate(table["file"]):
        path = CLEAN_DIR / name
        if not path.is_file():
            problems.append(f"{path}: listed in {NOTES_FILE} but missing")
            continue
        try:
            with soundfile.SoundFile(path) as wav:
                found = (wav.channels, wav.frames, wav.samplerate)
                if found != (1, clip_samples, sample_rate):
                    problems.append(
                        f"{path}: {wav.channels} channel(s), {wav.frames} samples at {wav.samplerate} Hz; "
                        f"expected mono, {clip_samples} samples at {sample_rate} Hz"
                    )
                    continue
                wav.read(dtype="float32", out=audio[i])
        except soundfile.LibsndfileError as err:
            problems.append(f"{path}: not a readable WAV file ({err.error_string}); expected a mono {clip_samples}-sample clip")
    if problems:
        shown = problems[:MAX_LISTED] + ([f"... and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else [])
        raise StageError(f"{len(problems)} of {len(table)} clips are unusable:\n  " + "\n  ".join(shown))
    return audio


def read_audio_set(clip_samples: int, sample_rate: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clips (N, L) and their int64 labels (pitch, program, note_id, clip) from data/clean."""
    table = pd.read_csv(CLEAN_DIR / NOTES_FILE)
    missing = [c for c in ("file", *LABEL_COLUMNS) if c not in table.columns]
    if missing:
        raise StageError(f"{CLEAN_DIR / NOTES_FILE}: missing column(s) {missing}; found {list(table.columns)}")
    audio = read_clips(table, clip_samples, sample_rate)
    return torch.from_numpy(audio), {c: torch.tensor(table[c].to_numpy(), dtype=torch.int64) for c in LABEL_COLUMNS}


def read_image_set() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Images uint8 (N, H, W); the class label goes in "program", each image is its own note."""
    data = torch.load(CLEAN_DIR / IMAGES_FILE, weights_only=True)
    images, labels = data["images"], data["labels"].to(torch.int64)
    n = len(images)
    if images.dtype != torch.uint8 or images.ndim != 3 or labels.shape != (n,):
        raise StageError(
            f"{CLEAN_DIR / IMAGES_FILE}: expected uint8 images (N, H, W) and N labels, "
            f"got {images.dtype} {tuple(images.shape)} and labels {tuple(labels.shape)}"
        )
    return images, {"pitch": torch.full((n,), -1), "program": labels, "note_id": torch.arange(n), "clip": torch.zeros(n, dtype=torch.int64)}


def build_layout(name: str, data: torch.Tensor, params) -> Layout:
    """The unscaled layout `name` for `data`; StageError if the layout does not suit the data."""
    is_image = data.dtype == torch.uint8
    if (name == "image") != is_image:
        found = f"images ({CLEAN_DIR / IMAGES_FILE})" if is_image else f"audio clips ({CLEAN_DIR / NOTES_FILE})"
        wanted = "images from the idx source" if name == "image" else "audio; use layout 'image' for images"
        raise StageError(f"tensorize.layout is {name!r}, which needs {wanted}, but {CLEAN_DIR} holds {found}")
    options = params.tensorize.stft.model_dump() if name == "stft" else {}
    options["preemphasis"] = params.tensorize.preemphasis
    if LAYOUTS[name].holds_waveforms and params.preprocess.lowpass_hz is not None:
        options["band_hz"] = stopband_hz(params.render.sample_rate, params.preprocess.lowpass_hz, params.preprocess.lowpass_order)
    clip_samples = data[0].numel()
    sample_rate = 0 if is_image else params.render.sample_rate
    try:
        return make_layout(name, clip_samples, sample_rate, **options)
    except ValueError as err:
        raise StageError(f"tensorize.layout {name!r} does not fit the data {tuple(data.shape[1:])}: {err}") from None


def main() -> None:
    params = load_params()
    settings = params.tensorize
    started = time.perf_counter()
    if (CLEAN_DIR / melody_data.ROLLS_FILE).is_file():
        data, labels = melody_data.read_roll_set(CLEAN_DIR)
    elif (CLEAN_DIR / IMAGES_FILE).is_file():
        data, labels = read_image_set()
    elif (CLEAN_DIR / NOTES_FILE).is_file():
        data, labels = read_audio_set(params.render.clip_samples, params.render.sample_rate)
    else:
        raise StageError(f"{CLEAN_DIR} holds neither {NOTES_FILE} nor {IMAGES_FILE}: run the preprocess stage first")

    if settings.layout == "pianoroll" and (CLEAN_DIR / melody_data.ROLLS_FILE).is_file():
        layout = melody_data.roll_layout(CLEAN_DIR, params.render.sample_rate)
    else:
        layout = build_layout(settings.layout, data, params)
    try:
        train_idx, test_idx = split_by_group(labels["note_id"].numpy(), settings.test_fraction, settings.split_seed)
        layout = layout.fit_scale(data[train_idx], settings.target_std)
    except ValueError as err:
        raise StageError(f"cannot tensorize {CLEAN_DIR}: {err}") from None

    metrics = {"train": len(train_idx), "test": len(test_idx), "scale": layout.scale, "layout": layout.name}
    roundtrip_errors = []
    with atomic_dir(TENSORS_DIR) as out:
        for split, idx in (("train", train_idx), ("test", test_idx)):
            x = layout.to_model(data[idx]).float()
            if split == "train":
                metrics["max_pairwise_distance"] = max_pairwise_distance(x)
            if layout.name == "stft":
                unlimited = dataclasses.replace(layout, band_hz=None)
                roundtrip_errors.append((unlimited.to_audio(x) - data[idx]).abs().max().item())
            torch.save({"x": x, **{name: values[idx] for name, values in labels.items()}}, out / f"{split}.pt")
        if roundtrip_errors:
            metrics["stft_roundtrip_max_error"] = max(roundtrip_errors)
        write_json(out / "layout.json", layout.to_dict())
        write_json(out / "metrics.json", metrics)
    print(f"tensorize: {metrics} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    run_stage(main)
