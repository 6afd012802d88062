"""Draw the samples, a few real test examples and the results: python -m stages.plot.

Writes plots/: the kind of data's pictures (sgm.kinds; notes: a waveform+spectrogram PNG per sample
and per real clip, the real clips as WAVs too, a sheet per checkpoint comparing the samplers;
images: mosaics; melodies: piano rolls) and metric-vs-hyperparameter charts from
results/results.csv. plots/index.json lists every picture with what it shows (and the WAV it was
drawn from), so the report can put each player beside its picture.
"""

from __future__ import annotations

import hashlib
import re

import pandas as pd

from sgm.kinds import data_kind
from sgm.kinds.figures import save_png
from sgm.report.charts import hyperparameter_chart
from stages.common.outputs import StageError, atomic_dir, run_stage, write_json
from stages.common.params import Params, load_params
from stages.common.paths import (
    LAYOUT_FILE,
    PLOTS_DIR,
    RESULTS_FILE,
    checkpoint_name,
    read_layout,
    read_split,
    sampler_samples_file,
    samples_dir,
    split_file,
)

INPUTS = (LAYOUT_FILE, split_file("test"), RESULTS_FILE)


def main() -> None:
    params = load_params()
    missing = [str(path) for path in INPUTS if not path.is_file()]
    if missing:
        raise StageError(f"missing input(s) {', '.join(missing)} (run the stages before plot)")
    layout, test = read_layout(params.kind), read_split("test")
    results = results_table(params)
    check_samples(params)
    kind = data_kind(params.kind)
    with atomic_dir(PLOTS_DIR) as out:
        real_clips, real_grid = kind.draw_real(out, layout, test, params.plot.real_clips)
        index = {
            "layout": layout.name,
            "real_clips": real_clips,
            "real_grid": real_grid,
            "points": [plot_point(out, point, params, kind, layout) for point in params.grid],
            "charts": plot_charts(out, results, params),
        }
        write_json(out / "index.json", index)


def safe_name(name: str) -> str:
    """`name` as a file name of letters, digits, '_' and '-'; a changed name gets a hash suffix so
    two names that differ only in other characters stay apart."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return safe if safe == name else f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def check_samples(params: Params) -> None:
    """Raise StageError listing every checkpoint/sampler folder whose samples are missing."""
    missing = [
        str(path.parent)
        for point in params.grid
        for epoch in params.train.epochs
        for sampler in params.sample.samplers
        if not (path := sampler_samples_file(point, epoch, sampler)).is_file()
    ]
    if missing:
        listing = "\n  ".join(missing)
        raise StageError(f"no samples.pt in {len(missing)} sample folder(s) (run the sample stages first):\n  {listing}")


def plot_point(out, point: str, params: Params, kind, layout) -> dict:
    """Every sample of one grid point, and per checkpoint what the kind draws to compare the samplers."""
    checkpoints = []
    for epoch in params.train.epochs:
        ckpt = checkpoint_name(epoch)
        folder = f"points/{safe_name(point)}/{ckpt}"
        sources = [(sampler, samples_dir(point) / ckpt / sampler, f"{folder}/{safe_name(sampler)}") for sampler in params.sample.samplers]
        figures = kind.draw_checkpoint(out, folder, sources, f"{point} / {ckpt}", layout, params.plot.sheet_columns)
        checkpoints.append({"epoch": ckpt, "sheet": figures.sheet, "samplers": figures.samplers})
        print(f"plot: {point} {ckpt}")
    return {"point": point, "checkpoints": checkpoints}


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
