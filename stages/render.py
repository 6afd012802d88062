"""Render stage: single-note clips -> data/notes/ (one WAV per clip + notes.csv).

The default source holds each General MIDI program in `render.programs` at every pitch from
`pitch_low` to `pitch_high` and cuts the note into `clips_per_note` consecutive clips. The
`folder` and `idx` sources bring the user's own data instead, and `digits` scikit-learn's bundled
8x8 digits (stages/render_sources.py).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from sgm.audio_io import write_wav
from sgm.dsp import cut_clips, to_mono
from sgm.progress import progress_bar
from sgm.soundfont import SoundFont, SoundFontError, default_soundfont, gm_family, note_name, pitch_hz
from stages.common import NOTES_DIR, StageError, atomic_dir, run_stage, write_json
from stages.config import Render, load_params


def soundfont_path(setting: str) -> Path:
    return default_soundfont() if setting == "default" else Path(setting)


def clip_file(program: int, instrument: str, pitch: int, clip: int) -> str:
    """Relative path of one clip, e.g. p000_acoustic_grand_piano/m061_Cs4_c0.wav ('#' spelled 's')."""
    return f"p{program:03d}_{instrument}/m{pitch:03d}_{note_name(pitch).replace('#', 's')}_c{clip}.wav"


def render_program(render: Render, instrument: str, first_note_id: int, out: Path) -> list[dict]:
    """Write every clip of one instrument under `out`; return its notes.csv rows."""
    program = render.programs[instrument]
    soundfont = SoundFont(soundfont_path(render.soundfont), render.sample_rate)
    note_samples = round(render.note_seconds * render.sample_rate)
    rows = []
    for offset, pitch in enumerate(range(render.pitch_low, render.pitch_high + 1)):
        audio = soundfont.render_note(program, pitch, render.velocity, note_samples)
        if render.channels == 1:
            audio = to_mono(audio)
        for clip, samples in enumerate(cut_clips(audio, render.clip_samples, render.clips_per_note)):
            file = clip_file(program, instrument, pitch, clip)
            (out / file).parent.mkdir(parents=True, exist_ok=True)
            write_wav(out / file, samples, render.sample_rate)
            rows.append({
                "file": file, "program": program, "instrument": instrument, "family": gm_family(program),
                "pitch": pitch, "note": note_name(pitch), "frequency": pitch_hz(pitch), "clip": clip,
                "note_id": first_note_id + offset,
            })
    return rows


def render_from_soundfont(render: Render, out: Path) -> None:
    """Render all programs x pitches (one process per core) and write notes.csv and metrics.json."""
    try:
        SoundFont(soundfont_path(render.soundfont), render.sample_rate).check_programs(list(render.selected_programs.values()))
    except SoundFontError as err:
        raise StageError(f"render.soundfont: {err}") from None
    instruments = list(render.selected_programs)
    n = len(instruments)
    notes_per_program = render.pitch_high - render.pitch_low + 1
    first_ids = [i * notes_per_program for i in range(n)]
    with ProcessPoolExecutor(min(os.cpu_count() or 1, n)) as pool:
        per_program = pool.map(render_program, [render] * n, instruments, first_ids, [out] * n)
        rows = [row for program_rows in progress_bar(per_program, total=n, desc="render", unit="instrument") for row in program_rows]
    pd.DataFrame(rows).to_csv(out / "notes.csv", index=False)
    counts = {"clips": len(rows), "notes": n * notes_per_program, "programs": n}
    write_json(out / "metrics.json", counts)


def main() -> None:
    params = load_params()
    with atomic_dir(NOTES_DIR) as out:
        if params.render.source == "soundfont":
            render_from_soundfont(params.render, out)
        elif params.render.source == "folder":
            from stages.render_sources import render_from_folder

            render_from_folder(params, out)
        elif params.render.source == "melody":
            from stages.melody_data import render_from_melody

            render_from_melody(params, out)
        elif params.render.source == "idx":
            from stages.render_sources import render_from_idx

            render_from_idx(params, out)
        else:
            from stages.render_sources import render_from_digits

            render_from_digits(out)


if __name__ == "__main__":
    run_stage(main)
