"""Draw the samples, a few real test clips and the results: python -m stages.plot.

Writes plots/: one waveform+spectrogram PNG per sample WAV and per real clip, one sheet per
checkpoint comparing the samplers, image mosaics for the image layout, and metric-vs-hyperparameter
charts from results/results.csv. plots/index.json lists every picture with what it shows (and the
WAV it was drawn from), so the report can put each player beside its picture.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import torch

from sgm.audio_io import read_wav
from sgm.layouts import Layout, layout_from_dict
from sgm.melody_plots import pianoroll_figure
from sgm.plots import clip_figure, hyperparameter_chart, image_mosaic, sampler_sheet, save_mosaic, save_png
from stages.common import (
    PLOTS_DIR,
    RESULTS_DIR,
    TENSORS_DIR,
    StageError,
    atomic_dir,
    checkpoint_name,
    run_stage,
    samples_dir,
    write_json,
)
from stages.config import Params, load_params

RESULTS_FILE = RESULTS_DIR / "results.csv"
INPUTS = (TENSORS_DIR / "layout.json", TENSORS_DIR / "test.pt", RESULTS_FILE)
MOSAIC_COLUMNS = 8


def main() -> None:
    params = load_params()
    missing = [str(path) for path in INPUTS if not path.is_file()]
    if missing:
        raise StageError(f"missing input(s) {', '.join(missing)} (run the stages before plot)")
    layout = layout_from_dict(json.loads((TENSORS_DIR / "layout.json").read_text()))
    test = torch.load(TENSORS_DIR / "test.pt", weights_only=True)
    results = results_table(params)
    check_samples(params, layout)
    with atomic_dir(PLOTS_DIR) as out:
        real_clips, real_grid = plot_real(out, test, layout, params.plot.real_clips)
        index = {
            "layout": layout.name,
            "real_clips": real_clips,
            "real_grid": real_grid,
            "points": [plot_point(out, point, params, layout) for point in params.grid],
            "charts": plot_charts(out, results, params),
        }
        write_json(out / "index.json", index)


def safe_name(name: str) -> str:
    """`name` as a file name of letters, digits, '_' and '-'; a changed name gets a hash suffix so
    two names that differ only in other characters stay apart."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return safe if safe == name else f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def pick_real_clips(pitch: torch.Tensor, count: int) -> list[int]:
    """`count` test indices spread evenly from the lowest to the highest pitch (all if fewer)."""
    order = np.argsort(pitch.numpy(), kind="stable")
    picks = np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)
    return [int(order[i]) for i in picks]


def plot_real(out, test: dict, layout: Layout, count: int) -> tuple[list[dict], str | None]:
    """Pictures of `count` real test examples: one per clip, or one mosaic for images."""
    indices = pick_real_clips(test["pitch"], count)
    x = test["x"][indices]
    clips = [{"test_index": i, "pitch": int(test["pitch"][i]), "png": None} for i in indices]
    if layout.name == "pianoroll":
        for n, (clip, roll) in enumerate(zip(clips, layout.to_rolls(x).numpy())):
            clip["png"] = f"real/real_{n:03d}.png"
            title = f"real test segment {clip['test_index']}"
            save_png(pianoroll_figure(roll, layout.pitch_low, title), out / clip["png"])
        return clips, None
    if layout.name == "image":
        grid = "real/grid.png"
        save_mosaic(image_mosaic(layout.to_images(x).numpy(), MOSAIC_COLUMNS), out / grid)
        return clips, grid
    for n, (clip, audio) in enumerate(zip(clips, layout.to_audio(x).numpy())):
        clip["png"] = f"real/real_{n:03d}.png"
        title = f"real test clip {clip['test_index']} (MIDI pitch {clip['pitch']})"
        save_png(clip_figure(audio, layout.sample_rate, title), out / clip["png"])
    return clips, None


def check_samples(params: Params, layout: Layout) -> None:
    """Raise StageError listing every checkpoint/sampler folder whose samples are missing."""
    wanted = "sample_*.wav" if layout.name != "image" else "samples.pt"
    missing = [
        str(folder)
        for point in params.grid
        for epoch in params.train.epochs
        for sampler in params.sample.samplers
        if not any((folder := samples_dir(point) / checkpoint_name(epoch) / sampler).glob(wanted))
    ]
    if missing:
        listing = "\n  ".join(missing)
        raise StageError(f"no {wanted} in {len(missing)} sample folder(s) (run the sample stages first):\n  {listing}")


def plot_point(out, point: str, params: Params, layout: Layout) -> dict:
    """Every sample of one grid point, and per checkpoint a sheet comparing the samplers."""
    checkpoints = []
    for epoch in params.train.epochs:
        ckpt = checkpoint_name(epoch)
        folder = f"points/{safe_name(point)}/{ckpt}"
        samplers, clips = [], {}
        for sampler in params.sample.samplers:
            source, title = samples_dir(point) / ckpt / sampler, f"{point} / {ckpt} / {sampler}"
            entry, audio = plot_sampler(out, f"{folder}/{safe_name(sampler)}", source, title, layout)
            samplers.append({"sampler": sampler, **entry})
            if audio is not None:
                clips[sampler] = audio
        sheet = None
        if clips:
            sheet = f"{folder}/sheet.png"
            save_png(sampler_sheet(clips, layout.sample_rate, params.plot.sheet_columns, f"{point} / {ckpt}"), out / sheet)
        checkpoints.append({"epoch": ckpt, "sheet": sheet, "samplers": samplers})
        print(f"plot: {point} {ckpt}")
    return {"point": point, "checkpoints": checkpoints}


def plot_sampler(out, name: str, source, title: str, layout: Layout) -> tuple[dict, np.ndarray | None]:
    """One sampler's samples at one checkpoint: a mosaic (image layout), else a picture per WAV.

    Returns the index entry and, for audio, the clips (N, L) as read from the WAVs.
    """
    if layout.name == "pianoroll":
        rolls = layout.to_rolls(torch.load(source / "samples.pt", weights_only=True)["x"]).numpy()
        samples = []
        for i, roll in enumerate(rolls):
            png = f"{name}/sample_{i:03d}.png"
            save_png(pianoroll_figure(roll, layout.pitch_low, f"{title} / sample_{i:03d}"), out / png)
            samples.append({"wav": (source / f"sample_{i:03d}.wav").as_posix(), "png": png})
        return {"grid": None, "samples": samples}, None
    if layout.name == "image":
        grid = f"{name}.png"
        x = torch.load(source / "samples.pt", weights_only=True)["x"]
        save_mosaic(image_mosaic(layout.to_images(x).numpy(), MOSAIC_COLUMNS), out / grid)
        return {"grid": grid, "samples": []}, None
    samples, clips = [], []
    for wav in sorted(source.glob("sample_*.wav")):
        audio = read_wav(wav)[0][0]
        png = f"{name}/{wav.stem}.png"
        save_png(clip_figure(audio, layout.sample_rate, f"{title} / {wav.stem}"), out / png)
        samples.append({"wav": wav.as_posix(), "png": png})
        clips.append(audio)
    return {"grid": None, "samples": samples}, np.stack(clips)


def results_table(params: Params) -> pd.DataFrame:
    """results.csv with each point's hyperparameters (lr, arch, blocks, channels) joined from params.

    Raises StageError naming every configured metric or hyperparameter the table lacks.
    """
    table = pd.read_csv(RESULTS_FILE)
    if "point" not in table.columns or "sampler" not in table.columns:
        raise StageError(f"{RESULTS_FILE}: needs columns 'point' and 'sampler'; found {list(table.columns)}")
    grid = pd.DataFrame(
        [
            {
                "point": name,
                "lr": point.lr,
                "arch": point.arch,
                "blocks": params.archs[point.arch].blocks,
                "channels": "-".join(map(str, params.archs[point.arch].channels)),
            }
            for name, point in params.grid.items()
        ]
    )
    extra = [c for c in grid.columns if c == "point" or c not in table.columns]
    table = table.astype({"point": str}).merge(grid[extra], on="point", how="left")
    missing = [c for c in (*params.plot.metrics, *params.plot.hyperparameters) if c not in table.columns]
    if missing:
        raise StageError(
            f"{RESULTS_FILE}: no column(s) {missing} named in params plot.metrics / plot.hyperparameters; "
            f"available: {', '.join(table.columns)}"
        )
    return table


def plot_charts(out, results: pd.DataFrame, params: Params) -> list[dict]:
    """One chart per (metric, hyperparameter) that has values at two or more settings.

    Charts against anything but the epoch use the final checkpoint's rows only, so a point's
    early checkpoints do not blur the comparison between points.
    """
    final = results
    if "epoch" in results.columns:
        epochs = pd.to_numeric(results["epoch"].astype(str).str.removeprefix("epoch_"), errors="coerce")
        final = results[epochs == epochs.max()]
    charts, skipped = [], []
    for metric in params.plot.metrics:
        for x in params.plot.hyperparameters:
            rows = results if x == "epoch" else final
            if rows.dropna(subset=[metric, x])[x].nunique() < 2:
                skipped.append(f"{metric} vs {x}")
                continue
            png = f"charts/{safe_name(metric)}_vs_{safe_name(x)}.png"
            save_png(hyperparameter_chart(rows, x, metric), out / png)
            charts.append({"metric": metric, "x": x, "png": png})
    if skipped:
        print(f"plot: no chart (fewer than two settings with values) for {', '.join(skipped)}")
    return charts


if __name__ == "__main__":
    run_stage(main)
