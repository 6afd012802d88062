"""Melodies from scores: music21's bundled corpus and the user's folder of MIDI/MusicXML files, cut into rolls.

The render stage writes these files, and tensorize reads them back; the render folder (copied
unchanged into the clean folder by preprocess) then holds:
- rolls.pt {"rolls": uint8 (N, 3, 32, 32), "piece": int64 (N,), "start": int64 (N,) step of the segment in its piece}
- roll.json: the grid (pitch_low, pitches, steps, step_seconds, program) the layout is built from
- pieces.csv (piece, source, key, transposition, segments, notes, notes_outside), rejected.csv (file, reason)
- notes.csv with no rows (no audio clips to clean), metrics.json (pieces, segments, rejected, notes)
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sgm.kinds.kind import CleanData, DataError
from sgm.melodies import rolls as melody
from sgm.melodies.layouts import PianoRoll

SCORE_SUFFIXES = frozenset({".mid", ".midi", ".mxl", ".musicxml", ".xml"})
CORPUS_SUFFIXES = frozenset({".mxl", ".xml"})  # music21's corpus also holds analyses (.rntxt) and kern files
ROLLS_FILE = "rolls.pt"
GRID_FILE = "roll.json"
NOTES_COLUMNS = ["file", "program", "instrument", "family", "pitch", "note", "frequency", "clip", "note_id"]


def corpus_files(name: str, max_pieces: int | None) -> list[tuple[str, Path]]:
    """(name, path) of music21's bundled MusicXML pieces by composer `name`, sorted."""
    from music21 import corpus

    paths = sorted(p for p in corpus.getComposer(name) if p.suffix in CORPUS_SUFFIXES)
    if not paths:
        raise DataError(f"render.melody.corpus {name!r}: music21's corpus holds no MusicXML pieces by that name (try bach)")
    return [(f"corpus:{name}/{p.name}", p) for p in paths[:max_pieces]]


def folder_files(folder: Path) -> list[tuple[str, Path]]:
    """(relative name, path) of every score file under `folder` (hidden ones left out), sorted."""
    if not folder.is_dir():
        raise DataError(f"render.melody.folder {str(folder)!r} is not a folder")
    found = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in SCORE_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not found:
        raise DataError(f"render.melody.folder {str(folder)!r} holds no score files (looked for: {' '.join(sorted(SCORE_SUFFIXES))})")
    return [(name, folder / name) for name in found]


def cut_piece(path: Path, settings) -> tuple[list[np.ndarray], list[int], melody.Piece | str]:
    """One file's segments and piece, or ([], [], the reason it is unusable)."""
    if path.stat().st_size == 0:
        return [], [], "empty file (0 bytes)"
    try:
        piece = melody.read_piece(path, settings.transpose)
    except ValueError as err:
        return [], [], str(err)
    except Exception as err:  # music21's parsers raise many kinds of errors on broken files
        return [], [], f"not readable as MIDI or MusicXML ({type(err).__name__}: {str(err)[:120]})"
    rolls, starts, outside = melody.segment_piece(piece, settings.pitch_low, settings.hop_steps)
    if not rolls:
        return [], [], f"gives no full {melody.STEPS}-step segment with a note between MIDI pitches {settings.pitch_low}-{settings.pitch_low + melody.PITCHES - 1}"
    return rolls, starts, (piece, outside)


def render_from_melody(render, out: Path) -> None:
    """Cut the corpus and the user's folder into rolls; write the files listed in the module docstring.

    A bad user file stops the stage with a list of all of them unless render.on_bad_file is "skip";
    corpus pieces that do not fit (another meter, no segment) are always skipped, and listed in rejected.csv.
    """
    settings = render.melody
    corpus = corpus_files(settings.corpus, settings.max_pieces) if settings.corpus else []
    user = folder_files(Path(settings.folder)) if settings.folder else []
    files = corpus + user
    with ProcessPoolExecutor(min(os.cpu_count() or 1, 4)) as pool:
        cut = list(pool.map(cut_piece, [path for _, path in files], [settings] * len(files), chunksize=8))
    rejected = [(name, result) for (name, _), (_, _, result) in zip(files, cut) if isinstance(result, str)]
    bad_user = [(name, reason) for name, reason in rejected if not name.startswith("corpus:")]
    if bad_user and (render.on_bad_file == "error" or len(rejected) == len(files)):
        header = f"{len(bad_user)} problem(s) with the {len(user)} score file(s) in {settings.folder}"
        advice = "set render.on_bad_file: skip to leave bad files out" if len(rejected) < len(files) else "no usable file is left"
        raise DataError("\n".join([f"{header} ({advice}):"] + [f"  {name}: {reason}" for name, reason in bad_user]))
    if len(rejected) == len(files):
        raise DataError(f"no usable piece among {len(files)}: " + "; ".join(f"{n}: {r}" for n, r in rejected[:5]))

    rolls, pieces, starts, rows = [], [], [], []
    for (name, _), (segments, segment_starts, result) in zip(files, cut):
        if isinstance(result, str):
            continue
        piece, outside = result
        index = len(rows)
        rows.append({
            "piece": index, "source": name, "key": piece.key, "transposition": piece.transposition,
            "segments": len(segments), "notes": len(piece.notes), "notes_outside": outside,
        })  # fmt: skip
        rolls += segments
        pieces += [index] * len(segments)
        starts += segment_starts
    torch.save(
        {"rolls": torch.from_numpy(np.stack(rolls)), "piece": torch.tensor(pieces), "start": torch.tensor(starts)},
        out / ROLLS_FILE,
    )
    grid = {"pitch_low": settings.pitch_low, "pitches": melody.PITCHES, "steps": melody.STEPS,
            "step_seconds": 60.0 / settings.tempo_qpm / melody.STEPS_PER_QUARTER, "program": settings.program}  # fmt: skip
    (out / GRID_FILE).write_text(json.dumps(grid, indent=2) + "\n")
    table = pd.DataFrame(rows)
    table.to_csv(out / "pieces.csv", index=False)
    pd.DataFrame(rejected, columns=["file", "reason"]).to_csv(out / "rejected.csv", index=False)
    pd.DataFrame(columns=NOTES_COLUMNS).to_csv(out / "notes.csv", index=False)
    metrics = {
        "pieces": len(rows),
        "segments": len(rolls),
        "rejected": len(rejected),
        "notes": int(table["notes"].sum()),
        "notes_outside_window": int(table["notes_outside"].sum()),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"render: {metrics}")


def read_roll_set(folder: Path) -> CleanData:
    """Rolls uint8 (N, 3, P, S) and labels: note_id = piece (the split keeps pieces whole), clip = start step."""
    data = torch.load(folder / ROLLS_FILE, weights_only=True)
    rolls, piece = data["rolls"], data["piece"].to(torch.int64)
    n = len(rolls)
    if rolls.dtype != torch.uint8 or rolls.ndim != 4 or piece.shape != (n,):
        raise DataError(f"{folder / ROLLS_FILE}: expected uint8 rolls (N, 3, P, S) and N pieces, got {rolls.dtype} {tuple(rolls.shape)}")
    unknown = torch.full((n,), -1)
    return CleanData(rolls, {"pitch": unknown, "program": unknown.clone(), "note_id": piece, "clip": data["start"].to(torch.int64)})


def roll_layout(folder: Path, sample_rate: int) -> PianoRoll:
    """The pianoroll layout for the grid render wrote, playing at `sample_rate`."""
    grid = json.loads((folder / GRID_FILE).read_text())
    clip_samples = round(grid["steps"] * grid["step_seconds"] * sample_rate)
    return PianoRoll(clip_samples=clip_samples, sample_rate=sample_rate, **grid)
