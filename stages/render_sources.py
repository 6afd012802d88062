"""The render stage's non-SoundFont sources: a user's folder of audio files, IDX image files, digits.

Both write into the directory they are given (the render stage's atomic output) the same index,
notes.csv, that the SoundFont render writes, so later stages need not know where data came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sgm import ingest
from sgm.audio_io import write_wav
from sgm.digits import digit_images
from sgm.idx import IdxError, read_image_set
from sgm.soundfont import note_name, pitch_hz
from stages.common import StageError, write_json
from stages.config import Params


def _find_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise StageError(f"render.folder.path {str(folder)!r} is not a folder")
    files = ingest.find_audio_files(folder)
    if not files:
        suffixes = " ".join(sorted(ingest.AUDIO_SUFFIXES))
        raise StageError(f"render.folder.path {str(folder)!r} holds no audio files (looked for: {suffixes})")
    return files


def _label(folder: Path, labels: str | None, files: list[str]) -> tuple[list[ingest.SourceFile], list[ingest.Rejection]]:
    if labels is None:
        return [ingest.SourceFile(name) for name in files], []
    csv_path = folder / labels
    if not csv_path.is_file():
        raise StageError(f"render.folder.labels: {str(csv_path)!r} does not exist (the path is relative to render.folder.path)")
    try:
        return ingest.read_labels(csv_path, files)
    except ValueError as err:
        raise StageError(str(err)) from None


def _index_row(name: str, source: ingest.SourceFile, program: int, clip: int, note_id: int) -> dict:
    known = source.pitch >= 0
    return {
        "file": name,
        "program": program,
        "instrument": source.instrument,
        "family": "",
        "pitch": source.pitch,
        "note": note_name(source.pitch) if known else "",
        "frequency": pitch_hz(source.pitch) if known else float("nan"),
        "clip": clip,
        "note_id": note_id,
        "source": source.file,
    }


def render_from_folder(params: Params, out_dir: Path) -> None:
    """Cut every usable file in render.folder.path into clips; write the WAVs, notes.csv, rejected.csv, metrics.json.

    Each file gives as many consecutive clip_samples-long clips as fit (clips_per_note does not
    apply), all sharing one note_id: the file's index among the accepted files, in sorted path
    order. `program` numbers the distinct instrument labels in sorted order (-1 when unlabelled).
    Any bad file stops the stage with a list of all of them, unless render.on_bad_file is "skip".
    """
    render = params.render
    folder = Path(render.folder.path)
    files = _find_files(folder)
    sources, rejected = _label(folder, render.folder.labels, files)
    programs = {name: i for i, name in enumerate(sorted({s.instrument for s in sources} - {""}))}
    rows = []
    accepted = 0
    for source in sources:
        try:
            clips = ingest.load_clips(folder / source.file, render.sample_rate, render.channels, render.clip_samples)
        except ingest.UnusableAudio as err:
            rejected.append(ingest.Rejection(source.file, str(err)))
            continue
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(source.file).stem)
        for clip_index, clip in enumerate(clips):
            name = f"n{accepted:05d}_{stem}_c{clip_index}.wav"
            write_wav(out_dir / name, clip, render.sample_rate)
            rows.append(_index_row(name, source, programs.get(source.instrument, -1), clip_index, accepted))
        accepted += 1
    rejected.sort(key=lambda r: r.file)
    if rejected and (render.on_bad_file == "error" or not accepted):
        header = f"{len(rejected)} problem(s) with the {len(files)} audio file(s) in {folder}"
        advice = "set render.on_bad_file: skip to leave bad files out" if accepted else "no usable file is left"
        raise StageError("\n".join([f"{header} ({advice}):"] + [f"  {r.file}: {r.reason}" for r in rejected]))
    pd.DataFrame(rows).to_csv(out_dir / "notes.csv", index=False)
    pd.DataFrame(rejected, columns=["file", "reason"]).to_csv(out_dir / "rejected.csv", index=False)
    metrics = {
        "files": len(files),
        "accepted": accepted,
        "rejected": len(files) - accepted,
        "clips": len(rows),
        "unmatched_labels": len(rejected) - (len(files) - accepted),
    }
    write_json(out_dir / "metrics.json", metrics)


def render_from_idx(params: Params, out_dir: Path) -> None:
    """Copy an MNIST-style image set into images.pt and notes.csv (see write_image_set)."""
    idx = params.render.idx
    try:
        images, labels = read_image_set(Path(idx.images), Path(idx.labels) if idx.labels else None)
    except IdxError as err:
        raise StageError(str(err)) from None
    write_image_set(images, labels, out_dir)


def render_from_digits(out_dir: Path) -> None:
    """scikit-learn's 1797 8x8 digits (bundled in its wheel) as images.pt and notes.csv."""
    write_image_set(*digit_images(), out_dir)


def write_image_set(images: np.ndarray, labels: np.ndarray, out_dir: Path) -> None:
    """Write images.pt {"images": uint8 (N, H, W), "labels": int64 (N,)} plus notes.csv.

    notes.csv has one row per image: file "images.pt", program = label (-1 without a labels
    file), pitch -1, note_id = the image's index, clip 0.
    """
    torch.save({"images": torch.from_numpy(images), "labels": torch.from_numpy(labels)}, out_dir / "images.pt")
    n = len(images)
    notes = pd.DataFrame(
        {
            "file": "images.pt",
            "program": labels,
            "instrument": "",
            "family": "",
            "pitch": -1,
            "note": "",
            "frequency": np.nan,
            "clip": 0,
            "note_id": np.arange(n),
        }
    )
    notes.to_csv(out_dir / "notes.csv", index=False)
