"""Turn a folder of a user's own audio files into fixed-length clips with instrument/pitch labels.

Files may have any sample rate, bit depth and channel count that libsndfile reads. Each file is
checked (readable, complete, finite, not silent, long enough for one clip) and every problem is
reported as a `Rejection` instead of stopping at the first, so a whole folder can be fixed in one
pass. Nothing here writes to the folder.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import soxr

from sgm.audio.dsp import cut_clips
from sgm.audio.pitch import parse_pitch

AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc", ".w64", ".rf64", ".caf"})
SILENCE_DBFS = -90.0
# libsndfile's words when its MPEG decoder finds no frame in a file that does exist
MISLEADING_MPEG_ERROR = "File does not exist or is not a regular file (possibly a pipe?)."

LABEL_COLUMNS = ("file", "instrument", "pitch")


class UnusableAudio(ValueError):
    """One audio file cannot be used; the message says why."""


@dataclass(frozen=True)
class Rejection:
    file: str
    reason: str


@dataclass(frozen=True)
class SourceFile:
    """An audio file (path relative to its folder, '/'-separated) and what is known about it."""

    file: str
    instrument: str = ""
    pitch: int = -1


def find_audio_files(folder: Path) -> list[str]:
    """Audio files under `folder`, recursively, chosen by suffix; sorted relative paths.

    Hidden files and folders (names starting with '.', such as macOS '._x.wav' companions) are
    left out, as are files with other suffixes (a README, the labels CSV).
    """
    folder = Path(folder)
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not any(p.startswith(".") for p in relative.parts):
            found.append(relative.as_posix())
    return sorted(found)


def read_labels(csv_path: Path, files: list[str]) -> tuple[list[SourceFile], list[Rejection]]:
    """Match a labels CSV (columns file, instrument, pitch) to `files`.

    An empty instrument or pitch cell means unknown. A file without exactly one row, a row naming
    a file that is not there and an unparseable pitch each become a Rejection; a CSV that cannot
    be read or lacks a column raises ValueError.
    """
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"labels file {csv_path} cannot be read as CSV: {err}") from None
    missing = [c for c in LABEL_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"labels file {csv_path} lacks column(s) {missing}; it has {list(table.columns)}, needs {list(LABEL_COLUMNS)}")
    rows_by_file = dict(tuple(table.groupby("file", sort=False)))
    present = set(files)
    rejected = [
        Rejection(name, f"named in {csv_path.name} but not an audio file in the folder")
        for name in rows_by_file
        if name not in present
    ]
    sources = []
    for name in files:
        rows = rows_by_file.get(name)
        if rows is None or len(rows) > 1:
            reason = f"no row in {csv_path.name}" if rows is None else f"{len(rows)} rows in {csv_path.name}, expected one"
            rejected.append(Rejection(name, reason))
            continue
        row = rows.iloc[0]
        try:
            pitch = parse_pitch(row["pitch"]) if row["pitch"].strip() else -1
        except ValueError as err:
            rejected.append(Rejection(name, f"{csv_path.name}: {err}"))
            continue
        sources.append(SourceFile(name, row["instrument"].strip(), pitch))
    return sources, rejected


def _wav_truncation(path: Path) -> str | None:
    """Why a RIFF/WAVE file is cut short, or None.

    libsndfile reads a cut-off WAV silently up to where it ends, so compare the data chunk's
    declared size with the bytes actually present. Streamed WAVs declare 0 or 0xFFFFFFFF: not checked.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk, length = struct.unpack("<4sI", handle.read(8))
            if chunk == b"data":
                present = size - position - 8
                if length not in (0, 0xFFFFFFFF) and length > present:
                    return f"truncated: its data chunk declares {length} bytes but the file holds {present}"
                return None
            position += 8 + length + (length & 1)
    return None


@contextlib.contextmanager
def decoder_chatter_silenced():
    """Send the process's stderr (file descriptor 2) to /dev/null for the block.

    libsndfile's MP3 decoder (mpg123) prints "Note: Illegal Audio-MPEG-Header..." lines straight to
    the C stderr for files that are not MP3; the reason a file is rejected comes back as an error instead.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Read and check one file: float64 samples (channels, frames) and the sample rate."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise UnusableAudio("empty file (0 bytes)")
    truncation = _wav_truncation(path)
    if truncation:
        raise UnusableAudio(truncation)
    try:
        with decoder_chatter_silenced(), sf.SoundFile(path) as handle:
            declared = handle.frames
            audio = handle.read(dtype="float64", always_2d=True)
            rate = handle.samplerate
    except sf.LibsndfileError as err:
        reason = err.error_string.removeprefix("Error : ")
        if reason == MISLEADING_MPEG_ERROR:
            reason = f"Format not recognised: no audio frames in this {path.suffix} file"
        raise UnusableAudio(f"not readable as audio ({reason})") from None
    if len(audio) < declared:
        raise UnusableAudio(f"truncated: its header declares {declared} frames but only {len(audio)} could be read")
    if not np.isfinite(audio).all():
        raise UnusableAudio(f"contains {np.count_nonzero(~np.isfinite(audio))} NaN or infinite samples")
    peak = np.abs(audio).max(initial=0.0)
    if peak <= 10 ** (SILENCE_DBFS / 20):
        level = "all zeros" if peak == 0 else f"peak {20 * np.log10(peak):.1f} dBFS"
        raise UnusableAudio(f"silent ({level}; needs a peak above {SILENCE_DBFS:g} dBFS)")
    return audio.T, rate


def conform(audio: np.ndarray, rate: int, sample_rate: int, channels: int) -> np.ndarray:
    """Resample (soxr, high quality) and mix to `channels`, returning float32 (channels, frames).

    More channels than wanted are averaged (to mono, then duplicated when two are wanted); mono is
    duplicated. Audio that would exceed full scale (float files, resampling overshoot) is scaled
    down to a peak of 1 rather than clipped when written as 16-bit PCM.
    """
    if rate != sample_rate:
        audio = soxr.resample(audio.T, rate, sample_rate, quality="HQ").T
    if len(audio) != channels:
        audio = np.repeat(audio.mean(axis=0, keepdims=True), channels, axis=0)
    peak = np.abs(audio).max(initial=0.0)
    if peak > 1.0:
        audio = audio / peak
    return audio.astype(np.float32)


def load_clips(path: Path, sample_rate: int, channels: int, clip_samples: int) -> np.ndarray:
    """Read, check, conform and cut one file; raises UnusableAudio if it gives no clip."""
    audio, rate = read_audio(path)
    audio = conform(audio, rate, sample_rate, channels)
    frames = audio.shape[1]
    if frames < clip_samples:
        raise UnusableAudio(
            f"too short: {frames} samples at {sample_rate} Hz ({frames / sample_rate:.3f} s), "
            f"one clip needs {clip_samples} ({clip_samples / sample_rate:.3f} s)"
        )
    return cut_clips(audio, clip_samples, frames // clip_samples)  # as many as fit
