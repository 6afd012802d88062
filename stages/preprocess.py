"""Preprocess stage: data/notes/ -> data/clean/ (mono, low-passed, optionally peak-normalized).

Every WAV that notes.csv lists is rewritten under the same relative name; every other file (notes.csv
itself, IDX images from an idx source, render metrics) is copied unchanged. The input folder is only
read.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import soundfile

from sgm.audio.dsp import lowpass, peak_normalize, to_mono
from sgm.audio.wav import read_wav, write_wav
from stages.common.outputs import StageError, atomic_dir, run_stage
from stages.common.params import Preprocess, load_params
from stages.common.paths import CLEAN_DIR, NOTES_DIR


def clean_clip(settings: Preprocess, source: Path, target: Path) -> str | None:
    """Write the cleaned version of one clip (params validation keeps the cutoff below Nyquist).

    Returns None, or a line naming `source` when it is no readable, non-empty WAV file.
    """
    try:
        audio, sample_rate = read_wav(source)
    except soundfile.LibsndfileError as err:
        return f"{source}: not a readable WAV file ({err.error_string})"
    if audio.shape[-1] == 0:
        return f"{source}: holds no samples; expected a rendered clip"
    audio = to_mono(audio)
    if settings.lowpass_hz is not None:
        audio = lowpass(audio, sample_rate, settings.lowpass_hz, settings.lowpass_order)
    if settings.normalize_peak is not None:
        audio = peak_normalize(audio, settings.normalize_peak)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_wav(target, audio, sample_rate)
    return None


def read_index(notes_dir: Path) -> list[str]:
    """The clip files notes.csv lists; StageError if the index or any listed file is missing."""
    index = notes_dir / "notes.csv"
    if not index.is_file():
        raise StageError(f"{index} not found: run the render stage first")
    files = pd.read_csv(index)["file"].tolist()
    missing = [f for f in files if not (notes_dir / f).is_file()]
    if missing:
        raise StageError(f"{len(missing)} file(s) listed in {index} are missing, e.g. {missing[:5]}")
    return files


def preprocess(settings: Preprocess, notes_dir: Path, out: Path) -> None:
    files = [f for f in read_index(notes_dir) if f.lower().endswith(".wav")]  # image sources list images.pt
    for other in sorted(p for p in notes_dir.rglob("*") if p.is_file() and p.suffix.lower() != ".wav"):
        (out / other.relative_to(notes_dir)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(other, out / other.relative_to(notes_dir))
    workers = min(os.cpu_count() or 1, max(1, len(files) // 64))
    with ProcessPoolExecutor(workers) as pool:
        results = pool.map(clean_clip, [settings] * len(files), [notes_dir / f for f in files], [out / f for f in files], chunksize=64)
        problems = [problem for problem in results if problem is not None]
    if problems:
        raise StageError(f"{len(problems)} of {len(files)} clips are unusable:\n  " + "\n  ".join(problems[:20]))


def main() -> None:
    params = load_params()
    with atomic_dir(CLEAN_DIR) as out:
        preprocess(params.preprocess, NOTES_DIR, out)


if __name__ == "__main__":
    run_stage(main)
