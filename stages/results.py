"""Gather every grid point's numbers and the references into one table: python -m stages.results.

Writes results/results.csv, one row per point x checkpoint x sampler plus a row per reference
(point "reference", sampler "real" or "shaped_noise"), and results/summary.json: the best row
and the references. Best means the lowest Frechet distance to the held-out clips (samples that
sound like the data), ties broken by the lower bits/dim, then by name; without audio metrics
(image data) the lowest bits/dim decides.
"""

from __future__ import annotations

import json

import pandas as pd

from stages.common.columns import COLUMNS
from stages.common.outputs import StageError, run_stage, write_csv, write_json
from stages.common.params import Params, load_params
from stages.common.paths import (
    BEST_FILE,
    REFERENCE_FILE,
    RESULTS_FILE,
    checkpoint_name,
    eval_metrics_file,
    sampling_metrics_file,
    train_metrics_file,
)

RANKING = ("frechet_distance", "bpd", "point", "epoch", "sampler")
CRITERION = "lowest frechet_distance, then lowest bpd"


def read_inputs(params: Params) -> dict:
    """Every metrics file the table needs, by path; StageError lists all that are missing."""
    paths = [REFERENCE_FILE]
    for point in params.grid:
        paths += [train_metrics_file(point), sampling_metrics_file(point), eval_metrics_file(point)]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise StageError(
            "missing input(s) (run the train, sample, evaluate and reference stages first):\n  " + "\n  ".join(missing)
        )
    return {path: json.loads(path.read_text()) for path in paths}


def point_rows(point: str, params: Params, inputs: dict) -> list[dict]:
    """One row per checkpoint x sampler of a grid point; numbers a stage did not produce are NaN."""
    grid_point = params.grid[point]
    arch = params.archs[grid_point.arch]
    described = {
        "point": point,
        "arch": grid_point.arch,
        "blocks": arch.blocks,
        "channels": "-".join(map(str, arch.channels)),
        "lr": grid_point.lr,
    }
    train, sampling, evaluation = (inputs[f(point)] for f in (train_metrics_file, sampling_metrics_file, eval_metrics_file))
    rows = []
    for epoch in params.train.epochs:
        name = checkpoint_name(epoch)
        for sampler in params.sample.samplers:
            rows.append(
                {
                    **described,
                    "epoch": epoch,
                    "sampler": sampler,
                    **train.get(name, {}),
                    **sampling.get(name, {}).get(sampler, {}),
                    **{key: value for key, value in evaluation.get(name, {}).items() if key in ("bpd", "bpd_nfe")},
                    **evaluation.get(name, {}).get(sampler, {}),
                }
            )
    return rows


def json_ready(row: pd.Series) -> dict:
    """A table row as plain JSON values, without its missing entries."""
    return {key: value.item() if hasattr(value, "item") else value for key, value in row.dropna().items()}


def main() -> None:
    params = load_params()
    inputs = read_inputs(params)
    rows = [row for point in params.grid for row in point_rows(point, params, inputs)]
    references = inputs[REFERENCE_FILE]
    rows += [{"point": "reference", "sampler": name, **numbers} for name, numbers in references.items()]
    table = pd.DataFrame(rows).reindex(columns=list(COLUMNS)).astype({"blocks": "Int64", "epoch": "Int64"})

    models = table[table["point"] != "reference"]
    best = models.sort_values(list(RANKING), na_position="last", kind="stable").iloc[0]
    summary = {
        "criterion": CRITERION,
        "best": json_ready(best),
        "reference": references,
    }
    write_csv(RESULTS_FILE, table)
    write_json(BEST_FILE, summary)


if __name__ == "__main__":
    run_stage(main)
