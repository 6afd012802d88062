"""Build the listening page report/index.html: python -m stages.report.

Walks plots/index.json and puts every sample's audio player beside its picture, under the results
table, the metric charts and a few real test clips for comparison. Every file the page shows is
copied into report/, and the real clips are written there as WAVs, so the folder opens from disk
anywhere, with no server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import torch

from sgm.audio_io import write_wav
from sgm.layouts import layout_from_dict
from sgm.report import Clip, Figure, Section, render_page
from stages.common import PLAY_DIR, PLOTS_DIR, REPORT_DIR, RESULTS_DIR, TENSORS_DIR, StageError, atomic_dir, run_stage
from stages.config import Params, load_params

TITLE = "Score-based generative modeling of single notes: samples and results"
INDEX_FILE = PLOTS_DIR / "index.json"
RESULTS_FILE = RESULTS_DIR / "results.csv"
LAYOUT_FILE = TENSORS_DIR / "layout.json"
TEST_FILE = TENSORS_DIR / "test.pt"


def main() -> None:
    params = load_params()
    missing = [str(path) for path in (INDEX_FILE, RESULTS_FILE, LAYOUT_FILE, TEST_FILE) if not path.is_file()]
    if missing:
        raise StageError(f"missing input(s) {', '.join(missing)} (run the stages before report)")
    index = json.loads(INDEX_FILE.read_text())
    table = pd.read_csv(RESULTS_FILE)
    with atomic_dir(REPORT_DIR) as out:
        sections = [
            charts_section(index, out),
            real_section(index, out),
            *(point_section(point, params, out) for point in index["points"]),
            *play_section(out),
        ]
        (out / "index.html").write_text(render_page(TITLE, sections, table), encoding="utf-8")


def place(source: Path, out: Path, relative: str) -> str:
    """Copy `source` to out/relative and return `relative`.

    A copy, not a hard link: DVC caches report/ as its own output and may make cached files
    read-only, which through a shared inode would reach into the samples and plots outputs too.
    """
    target = out / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return relative


def picture(png: str, out: Path) -> str:
    return place(PLOTS_DIR / png, out, f"plots/{png}")


def charts_section(index: dict, out: Path) -> Section:
    figures = tuple(Figure(picture(c["png"], out), f"{c['metric']} against {c['x']}") for c in index["charts"])
    text = "" if figures else "No metric varies over two or more settings of a hyperparameter yet."
    return Section("Metrics against hyperparameters", text=text, figures=figures)


def real_section(index: dict, out: Path) -> Section:
    """Real test clips as WAVs beside their pictures (or the real images' mosaic)."""
    title = "Real test clips"
    if index["real_grid"] is not None:
        return Section(title, figures=(Figure(picture(index["real_grid"], out), "real test images"),))
    layout = layout_from_dict(json.loads(LAYOUT_FILE.read_text()))
    test = torch.load(TEST_FILE, weights_only=True)
    (out / "audio" / "real").mkdir(parents=True)
    clips = []
    for n, real in enumerate(index["real_clips"]):
        audio = layout.to_audio(test["x"][[real["test_index"]]])[0]
        wav = f"audio/real/real_{n:03d}.wav"
        write_wav(out / wav, audio.clamp(-1, 1).numpy(), layout.sample_rate)
        caption = f"test clip {real['test_index']}, MIDI pitch {real['pitch']}"
        clips.append(Clip(caption, audio=wav, image=picture(real["png"], out)))
    return Section(title, clips=tuple(clips))


def point_section(point: dict, params: Params, out: Path) -> Section:
    """One grid point: per checkpoint, the sampler sheet, then each sampler's players and pictures."""
    checkpoints = []
    for checkpoint in point["checkpoints"]:
        samplers = []
        for sampler in checkpoint["samplers"]:
            clips = tuple(sample_clip(sample, out) for sample in sampler["samples"])
            figures = (Figure(picture(sampler["grid"], out), "samples"),) if sampler["grid"] else ()
            samplers.append(Section(sampler["sampler"], figures=figures, clips=clips))
        sheet = (Figure(picture(checkpoint["sheet"], out), "spectrograms by sampler"),) if checkpoint["sheet"] else ()
        checkpoints.append(Section(checkpoint["epoch"], figures=sheet, sections=tuple(samplers)))
    return Section(point["point"], text=describe(point["point"], params), sections=tuple(checkpoints))


def sample_clip(sample: dict, out: Path) -> Clip:
    """A sample's WAV, placed under audio/ at its picture's path, beside its picture."""
    wav = Path(sample["wav"])
    audio = place(wav, out, f"audio/{Path(sample['png']).with_suffix('.wav')}")
    return Clip(wav.stem, audio=audio, image=picture(sample["png"], out))


def play_section(out: Path) -> list[Section]:
    """The play stage's examples (scale, continuation, variation, interpolation, melody), when it ran."""
    index_file = PLAY_DIR / "index.json"
    if not index_file.is_file():
        return []
    index = json.loads(index_file.read_text())
    items = []
    for item in index["items"]:
        clips = tuple(
            Clip(clip["caption"], audio=place(PLAY_DIR / clip["wav"], out, f"play/{clip['wav']}"), image=place(PLAY_DIR / clip["png"], out, f"play/{clip['png']}"))
            for clip in item["clips"]
        )
        figures = tuple(Figure(place(PLAY_DIR / f["png"], out, f"play/{f['png']}"), f["caption"]) for f in item["figures"])
        items.append(Section(item["title"], text=item["text"], figures=figures, clips=clips))
    text = f"grid point {index['point']}, checkpoint of epoch {index['epoch']} (python -m stages.play; sgm-generate does the same from the command line)"
    return [Section("Play", text=text, sections=tuple(items))]


def describe(point: str, params: Params) -> str:
    if point not in params.grid:
        return ""
    arch = params.archs[params.grid[point].arch]
    return (
        f"architecture {params.grid[point].arch}: {arch.net}, {arch.blocks} blocks, channels {arch.channels}; "
        f"learning rate {params.grid[point].lr:g}"
    )


if __name__ == "__main__":
    run_stage(main)
