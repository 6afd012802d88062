"""Charts of a results table: a metric against a hyperparameter, one line per sampler."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from sgm.kinds.figures import new_figure

CHART_SIZE = (560, 400)
LOG_AXIS_SPAN = 10


def hyperparameter_chart(table: pd.DataFrame, x: str, metric: str, by: str = "sampler") -> Figure:
    """`metric` against hyperparameter `x`, one line per value of `by` through the mean at each x.

    Every row is also drawn as a faint dot, so the spread behind each mean stays visible. Rows with
    no `by` value (a metric of the checkpoint, not of a sampler) form their own line. A numeric x
    spanning LOG_AXIS_SPAN times or more (learning rates) gets a log axis; a text x (a channel list)
    is placed in order of first appearance.
    """
    missing = [column for column in (x, metric, by) if column not in table.columns]
    if missing:
        raise ValueError(f"results table has no column(s) {missing}; it has: {', '.join(map(str, table.columns))}")
    rows = table[[x, metric, by]].dropna(subset=[x, metric]).fillna({by: f"(any {by})"})
    if rows.empty:
        raise ValueError(f"results table has no rows with both {x!r} and {metric!r} set")
    figure = new_figure(CHART_SIZE)
    ax = figure.subplots()
    positions, ticks = _positions(rows[x])
    for index, (name, group) in enumerate(rows.groupby(by, sort=False)):
        colour = f"C{index}"
        where = positions[group.index]
        ax.scatter(where, group[metric], color=colour, alpha=0.3, s=16)
        means = group[metric].groupby(where).mean().sort_index()
        ax.plot(means.index, means.to_numpy(), color=colour, marker="o", label=str(name))
    if ticks is not None:
        ax.set_xticks(range(len(ticks)), ticks, rotation=20, ha="right")
    elif rows[x].min() > 0 and rows[x].max() / rows[x].min() >= LOG_AXIS_SPAN:
        ax.set_xscale("log")
    ax.set(xlabel=x, ylabel=metric, title=f"{metric} vs {x}")
    ax.grid(alpha=0.3)
    ax.legend(title=by, fontsize="small")
    return figure


def _positions(values: pd.Series) -> tuple[pd.Series, list[str] | None]:
    """x positions for a chart: the values themselves if numeric, else category indices and labels."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float), None
    labels = [str(v) for v in pd.unique(values)]
    return values.astype(str).map({label: i for i, label in enumerate(labels)}), labels
