"""Render the data params.render asks for into data/notes/: python -m stages.render.

The kind of data renders it (sgm.kinds): single notes from a SoundFont or the user's folder of
audio, images from IDX files or scikit-learn's digits, melodies from scores; each writes its files
and a notes.csv index.
"""

from __future__ import annotations

from sgm.kinds import data_kind
from stages.common.outputs import atomic_dir, run_stage
from stages.common.params import load_params
from stages.common.paths import NOTES_DIR


def main() -> None:
    params = load_params()
    with atomic_dir(NOTES_DIR) as out:
        data_kind(params.kind).render(params, out)


if __name__ == "__main__":
    run_stage(main)
