"""Reading and writing the pipeline's own WAV files (16-bit PCM, channels-first float arrays)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write `audio` (channels, L) or (L,) in [-1, 1] as 16-bit PCM; values outside are clipped.

    Clipping first makes overshoot saturate instead of depending on how libsndfile converts it.
    The file is encoded in memory and written in one call, several times faster than letting
    libsndfile write and seek in the file (thousands of clips per stage).
    """
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2) or audio.shape[-1] == 0:
        raise ValueError(f"audio must be a non-empty (L,) or (channels, L) array, got shape {audio.shape}")
    encoded = io.BytesIO()
    soundfile.write(encoded, np.clip(audio, -1.0, 1.0).T, sample_rate, subtype="PCM_16", format="WAV")
    Path(path).write_bytes(encoded.getvalue())


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV file as float32 (channels, L) in [-1, 1] and its sample rate."""
    frames, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(frames.T), sample_rate
