"""Single-note clips from a SoundFont: every (instrument, pitch) note held and cut into clips.

Each General MIDI program of `render.instruments` (sgm.audio.general_midi) is held at every pitch
from `pitch_low` to `pitch_high` for `note_seconds` and cut into `clips_per_note` consecutive clips;
the clips of one note share a note_id, so the train/test split keeps them together.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from sgm.audio.dsp import cut_clips, to_mono
from sgm.audio.general_midi import STUDY_INSTRUMENTS, gm_family
from sgm.audio.pitch import note_name, pitch_hz
from sgm.audio.soundfont import SoundFont, SoundFontError, default_soundfont
from sgm.audio.wav import write_wav
from sgm.kinds.kind import DataError
from sgm.progress import progress_bar


def soundfont_path(setting: str) -> Path:
    return default_soundfont() if setting == "default" else Path(setting)


def selected_programs(render) -> dict[str, int]:
    """The programs to render: render.instruments of the study's 59, or all of them (render.instruments null)."""
    names = STUDY_INSTRUMENTS if render.instruments is None else render.instruments
    return {name: STUDY_INSTRUMENTS[name] for name in names}


def clip_file(program: int, instrument: str, pitch: int, clip: int) -> str:
    """Relative path of one clip, e.g. p000_acoustic_grand_piano/m061_Cs4_c0.wav ('#' spelled 's')."""
    return f"p{program:03d}_{instrument}/m{pitch:03d}_{note_name(pitch, sharp='s')}_c{clip}.wav"


def render_program(render, instrument: str, first_note_id: int, out: Path) -> list[dict]:
    """Write every clip of one instrument under `out`; return its notes.csv rows."""
    program = STUDY_INSTRUMENTS[instrument]
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
            })  # fmt: skip
    return rows


def render_from_soundfont(render, out: Path) -> dict:
    """Render all programs x pitches (one process per core) and write notes.csv; returns the counts."""
    programs = selected_programs(render)
    try:
        SoundFont(soundfont_path(render.soundfont), render.sample_rate).check_programs(list(programs.values()))
    except SoundFontError as err:
        raise DataError(f"render.soundfont: {err}") from None
    instruments = list(programs)
    n = len(instruments)
    notes_per_program = render.pitch_high - render.pitch_low + 1
    first_ids = [i * notes_per_program for i in range(n)]
    with ProcessPoolExecutor(min(os.cpu_count() or 1, n)) as pool:
        per_program = pool.map(render_program, [render] * n, instruments, first_ids, [out] * n)
        rows = [row for program_rows in progress_bar(per_program, total=n, desc="render", unit="instrument") for row in program_rows]
    pd.DataFrame(rows).to_csv(out / "notes.csv", index=False)
    return {"clips": len(rows), "notes": n * notes_per_program, "programs": n}
