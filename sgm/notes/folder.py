"""Single-note clips from a folder of the user's own audio files, with optional instrument and pitch labels.

It writes the same index, notes.csv, that the SoundFont render writes, so later stages need not
know where the clips came from. The folder itself is only read.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sgm.audio import ingest
from sgm.audio.pitch import note_name, pitch_hz
from sgm.audio.wav import write_wav
from sgm.kinds.kind import DataError


def _find_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise DataError(f"render.folder.path {str(folder)!r} is not a folder")
    files = ingest.find_audio_files(folder)
    if not files:
        suffixes = " ".join(sorted(ingest.AUDIO_SUFFIXES))
        raise DataError(f"render.folder.path {str(folder)!r} holds no audio files (looked for: {suffixes})")
    return files


def _label(folder: Path, labels: str | None, files: list[str]) -> tuple[list[ingest.SourceFile], list[ingest.Rejection]]:
    if labels is None:
        return [ingest.SourceFile(name) for name in files], []
    csv_path = folder / labels
    if not csv_path.is_file():
        raise DataError(f"render.folder.labels: {str(csv_path)!r} does not exist (the path is relative to render.folder.path)")
    try:
        return ingest.read_labels(csv_path, files)
    except ValueError as err:
        raise DataError(str(err)) from None


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


def render_from_folder(render, out_dir: Path) -> dict:
    """Cut every usable file in render.folder.path into clips; write the WAVs, notes.csv and rejected.csv; return the counts.

    Each file gives as many consecutive clip_samples-long clips as fit (clips_per_note does not
    apply), all sharing one note_id: the file's index among the accepted files, in sorted path
    order. `program` numbers the distinct instrument labels in sorted order (-1 when unlabelled).
    Any bad file stops the stage with a list of all of them, unless render.on_bad_file is "skip".
    """
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
        raise DataError("\n".join([f"{header} ({advice}):"] + [f"  {r.file}: {r.reason}" for r in rejected]))
    pd.DataFrame(rows).to_csv(out_dir / "notes.csv", index=False)
    pd.DataFrame(rejected, columns=["file", "reason"]).to_csv(out_dir / "rejected.csv", index=False)
    return {
        "files": len(files),
        "accepted": accepted,
        "rejected": len(files) - accepted,
        "clips": len(rows),
        "unmatched_labels": len(rejected) - (len(files) - accepted),
    }
