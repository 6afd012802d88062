"""The cleaned clips read back for tensorizing: every mono WAV that notes.csv lists, with its labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import torch

from sgm.kinds.kind import CleanData, DataError

NOTES_FILE = "notes.csv"
LABEL_COLUMNS = ("pitch", "program", "note_id", "clip")
MAX_LISTED = 20


def read_clips(folder: Path, table: pd.DataFrame, clip_samples: int, sample_rate: int) -> np.ndarray:
    """All clips of `table.file` as one float32 (N, clip_samples) array; DataError lists every bad file."""
    audio = np.empty((len(table), clip_samples), dtype=np.float32)
    problems = []
    for i, name in enumerate(table["file"]):
        path = folder / name
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
        raise DataError(f"{len(problems)} of {len(table)} clips are unusable:\n  " + "\n  ".join(shown))
    return audio


def read_clip_set(folder: Path, clip_samples: int, sample_rate: int) -> CleanData:
    """Clips (N, L), their int64 labels (pitch, program, note_id, clip) and the instruments' names, from `folder`."""
    index = folder / NOTES_FILE
    if not index.is_file():
        raise DataError(f"{index} not found: run the preprocess stage first")
    table = pd.read_csv(index, keep_default_na=False)
    missing = [c for c in ("file", *LABEL_COLUMNS) if c not in table.columns]
    if missing:
        raise DataError(f"{index}: missing column(s) {missing}; found {list(table.columns)}")
    audio = read_clips(folder, table, clip_samples, sample_rate)
    labels = {c: torch.tensor(table[c].to_numpy(), dtype=torch.int64) for c in LABEL_COLUMNS}
    names = {}
    if "instrument" in table.columns:
        for program, instrument in zip(table["program"], table["instrument"]):
            if program >= 0 and instrument:
                names.setdefault(int(program), str(instrument))
    return CleanData(torch.from_numpy(audio), labels, {"instrument": names})
